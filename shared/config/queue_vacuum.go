package config

import "time"

// QueueVacuum is the [orchestration.queue_vacuum] section: the leader-only
// loop that vacuums the queue tables (and the broker backend's outbox) once
// their dead rows pile up. Every message leaves a dead row when it is acked;
// until a VACUUM removes them, each claim walks past the dead index entries
// of every message acked since, so a queue that moved a million messages
// claims two orders of magnitude slower than a fresh one. Autovacuum does
// this job only when it is on and keeps up (it visits a database once a
// minute by default); this loop makes the engine independent of it. A pass
// is a cheap look at pg_stat_user_tables, and a table is vacuumed only when
// its dead rows exceed both thresholds.
type QueueVacuum struct {
	// Enabled turns the loop on. Default true.
	Enabled bool `toml:"enabled"`
	// Interval between passes. Default 5s.
	Interval time.Duration `toml:"interval"`
	// MinDeadRows is the fewest dead rows that can trigger a vacuum.
	// Default 2000.
	MinDeadRows int `toml:"min_dead_rows"`
	// DeadFraction triggers a vacuum when the dead rows exceed this
	// fraction of the live ones (a queue holding a large backlog is not
	// vacuumed for a few dead rows). Default 0.2.
	DeadFraction float64 `toml:"dead_fraction"`
}

func defaultQueueVacuum() QueueVacuum {
	return QueueVacuum{Enabled: true, Interval: 5 * time.Second, MinDeadRows: 2000, DeadFraction: 0.2}
}

// Validate checks the section; see [Problems].
func (q *QueueVacuum) Validate() error {
	var ps Problems
	ps.durationAtLeast("interval", q.Interval, time.Second)
	ps.intBetween("min_dead_rows", int64(q.MinDeadRows), 1, 1<<31-1)
	if q.DeadFraction <= 0 || q.DeadFraction > 100 {
		ps.add("dead_fraction", "must be greater than 0 and at most 100")
	}
	return ps.Err()
}
