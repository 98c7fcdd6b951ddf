package config

import (
	"fmt"
	"time"
)

// DeadWorkers is the [orchestration.dead_workers] section: the leader-only
// loop that notices dead worker processes and gives their steps to other
// workers at once. Each worker process holds a PostgreSQL advisory lock on
// a connection of its own while it lives and records its key with every
// claim; PostgreSQL frees the lock the moment the process dies, and the loop
// then ends the claims made under it. The claim deadline
// (worker.claims.visibility_timeout) stays the fallback for a worker that is
// alive but hung, or unreachable without its connection closing.
type DeadWorkers struct {
	// Enabled turns the loop on. Default true.
	Enabled bool `toml:"enabled"`
	// Interval between checks while steps are in progress (the last check
	// found some, or a task event woke the loop). Default 1s.
	Interval time.Duration `toml:"interval"`
	// IdleInterval between checks when the last one found no step in
	// progress and no task event came since. Default 30s.
	IdleInterval time.Duration `toml:"idle_interval"`
	// Grace is how long a worker's lock must stay free before its claims
	// are ended: a live worker whose connection broke takes its lock back
	// within it. Default 1s.
	Grace time.Duration `toml:"grace"`
	// RestartGrace is how long after PostgreSQL started no claim is ended:
	// a restart frees every lock, and live workers take theirs back first.
	// Default 10s.
	RestartGrace time.Duration `toml:"restart_grace"`
}

func defaultDeadWorkers() DeadWorkers {
	return DeadWorkers{Enabled: true, Interval: time.Second, IdleInterval: 30 * time.Second,
		Grace: time.Second, RestartGrace: 10 * time.Second}
}

// Validate checks the section; see [Problems].
func (d *DeadWorkers) Validate() error {
	var ps Problems
	ps.durationAtLeast("interval", d.Interval, 100*time.Millisecond)
	if ps.durationAtLeast("idle_interval", d.IdleInterval, 100*time.Millisecond) && d.IdleInterval < d.Interval {
		ps.add("idle_interval", fmt.Sprintf("must be at least interval (%s), got %s", d.Interval, d.IdleInterval))
	}
	ps.durationAtLeast("grace", d.Grace, 100*time.Millisecond)
	ps.positiveDuration("restart_grace", d.RestartGrace)
	return ps.Err()
}
