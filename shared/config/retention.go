package config

import "time"

// Retention is the [orchestration.retention] section: the leader-only loop
// that deletes finished tasks once they are old enough, with everything
// that belongs to them (steps, edges, history, result audit, DLQ entries).
// Off by default: nothing is deleted unless an operator asks for it.
type Retention struct {
	// Enabled runs the loop. Default false.
	Enabled bool `toml:"enabled"`
	// KeepFor is how long a task is kept after it reached a terminal state
	// (complete, error, cancelled, resolved_manually). Default 720h (30
	// days).
	KeepFor time.Duration `toml:"keep_for"`
	// Interval between passes. Default 1h.
	Interval time.Duration `toml:"interval"`
	// BatchSize is the most tasks deleted per statement; a pass deletes up
	// to ten batches. Default 500.
	BatchSize int `toml:"batch_size"`
}

func defaultRetention() Retention {
	return Retention{Enabled: false, KeepFor: 720 * time.Hour, Interval: time.Hour, BatchSize: 500}
}

// Validate checks the section; see [Problems].
func (r *Retention) Validate() error {
	var ps Problems
	ps.positiveDuration("keep_for", r.KeepFor)
	ps.positiveDuration("interval", r.Interval)
	ps.intBetween("batch_size", int64(r.BatchSize), 1, 10000)
	return ps.Err()
}
