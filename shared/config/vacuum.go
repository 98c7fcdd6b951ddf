package config

import "time"

// Vacuum is the [orchestration.vacuum] section: the leader-only loop that
// vacuums the tables whose dead rows slow the hot path once they pile up:
// the queue tables, the broker backend's outbox and tasks. Every acked
// message leaves a dead row, and so does every finished task in the index
// of open tasks; until a VACUUM removes them, each claim (and each look at
// the open tasks) walks past them, so a queue that moved a million messages
// claims two orders of magnitude slower than a fresh one. Autovacuum does
// this job only when it is on and keeps up (it visits a database once a
// minute by default); this loop makes the engine independent of it. A pass
// is a cheap look at pg_stat_user_tables, and a table is vacuumed only when
// its dead rows exceed both thresholds.
type Vacuum struct {
	// Enabled turns the loop on. Default true.
	Enabled bool `toml:"enabled"`
	// Interval between passes. Default 5s.
	Interval time.Duration `toml:"interval"`
	// MinDeadRows is the fewest dead rows that can trigger a vacuum.
	// Default 2000.
	MinDeadRows int `toml:"min_dead_rows"`
	// DeadFraction triggers a vacuum when the dead rows exceed this
	// fraction of the live ones (a queue holding a large backlog, or a
	// large tasks table, is not vacuumed for a few dead rows). Default 0.2.
	DeadFraction float64 `toml:"dead_fraction"`
}

func defaultVacuum() Vacuum {
	return Vacuum{Enabled: true, Interval: 5 * time.Second, MinDeadRows: 2000, DeadFraction: 0.2}
}

// Validate checks the section; see [Problems].
func (v *Vacuum) Validate() error {
	var ps Problems
	ps.durationAtLeast("interval", v.Interval, time.Second)
	ps.intBetween("min_dead_rows", int64(v.MinDeadRows), 1, 1<<31-1)
	if v.DeadFraction <= 0 || v.DeadFraction > 100 {
		ps.add("dead_fraction", "must be greater than 0 and at most 100")
	}
	return ps.Err()
}
