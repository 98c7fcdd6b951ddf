package config

import "time"

// Statistics is the [orchestration.statistics] section: the leader-only
// loop that keeps PostgreSQL's planner statistics fresh on the hot tables.
// Autovacuum does this too, but only once a minute by default; a fresh
// installation under load would otherwise run for a while on plans made for
// empty tables. Each pass is a cheap look at pg_stat_user_tables, and a
// table is analyzed only when it changed a lot since its last analyze.
type Statistics struct {
	// Enabled turns the loop on. Default true.
	Enabled bool `toml:"enabled"`
	// Interval between passes. Default 5s.
	Interval time.Duration `toml:"interval"`
	// MinChanges is the fewest rows changed since the last analyze that
	// can trigger one. Default 500.
	MinChanges int `toml:"min_changes"`
	// ChangeFraction triggers an analyze when the rows changed since the
	// last one exceed this fraction of the table. Default 0.2.
	ChangeFraction float64 `toml:"change_fraction"`
}

func defaultStatistics() Statistics {
	return Statistics{Enabled: true, Interval: 5 * time.Second, MinChanges: 500, ChangeFraction: 0.2}
}

// Validate checks the section; see [Problems].
func (s *Statistics) Validate() error {
	var ps Problems
	ps.durationAtLeast("interval", s.Interval, time.Second)
	ps.intBetween("min_changes", int64(s.MinChanges), 1, 1<<31-1)
	if s.ChangeFraction <= 0 || s.ChangeFraction > 100 {
		ps.add("change_fraction", "must be greater than 0 and at most 100")
	}
	return ps.Err()
}
