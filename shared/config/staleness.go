package config

import (
	"time"
)

// StalenessAction says what the staleness loop does with a stale task.
type StalenessAction string

// The staleness actions.
const (
	// StalenessDLQ records a dead-letter entry (reason staleness_timeout,
	// with a snapshot) and moves the task to error.
	StalenessDLQ StalenessAction = "dlq"
	// StalenessError moves the task to error without a dead-letter entry.
	StalenessError StalenessAction = "error"
	// StalenessNone only logs and counts the stale task.
	StalenessNone StalenessAction = "none"
)

// Staleness is the [orchestration.staleness] section: the leader-only loop
// that finds tasks stuck in one state for too long. Thresholds are global
// defaults; a template's lifecycle block may override them per template.
type Staleness struct {
	// Enabled runs the loop. Default true.
	Enabled bool `toml:"enabled"`
	// Interval between passes. Default 5m (test 5s, production 10m).
	Interval time.Duration `toml:"interval"`
	// BatchSize is the most stale tasks acted on per pass. Default 100
	// (production 200).
	BatchSize int `toml:"batch_size"`
	// WaitingForDependencies is how long a task may stay in
	// waiting_for_dependencies. Default 60m (test 5m).
	WaitingForDependencies time.Duration `toml:"waiting_for_dependencies"`
	// WaitingForRetry is how long a task may stay in waiting_for_retry.
	// Default 30m (test 2m).
	WaitingForRetry time.Duration `toml:"waiting_for_retry"`
	// StepsInProcess is how long a task may stay in steps_in_process
	// (a crashed worker's step is reclaimed long before this). Default 30m
	// (test 5m).
	StepsInProcess time.Duration `toml:"steps_in_process"`
	// TaskMaxLifetime is the most time from creation a task may take to
	// reach a terminal state, whatever its state. Default 24h (test 1h).
	TaskMaxLifetime time.Duration `toml:"task_max_lifetime"`
	// Action is "dlq", "error" or "none"; see [StalenessAction].
	// Default "dlq".
	Action StalenessAction `toml:"action"`
	// DryRun finds and reports stale tasks without changing them. Default
	// false.
	DryRun bool `toml:"dry_run"`
}

func defaultStaleness() Staleness {
	return Staleness{
		Enabled:                true,
		Interval:               5 * time.Minute,
		BatchSize:              100,
		WaitingForDependencies: 60 * time.Minute,
		WaitingForRetry:        30 * time.Minute,
		StepsInProcess:         30 * time.Minute,
		TaskMaxLifetime:        24 * time.Hour,
		Action:                 StalenessDLQ,
		DryRun:                 false,
	}
}

// Validate checks the section; see [Problems].
func (s *Staleness) Validate() error {
	var ps Problems
	ps.positiveDuration("interval", s.Interval)
	ps.intBetween("batch_size", int64(s.BatchSize), 1, 10000)
	ps.positiveDuration("waiting_for_dependencies", s.WaitingForDependencies)
	ps.positiveDuration("waiting_for_retry", s.WaitingForRetry)
	ps.positiveDuration("steps_in_process", s.StepsInProcess)
	ps.positiveDuration("task_max_lifetime", s.TaskMaxLifetime)
	ps.oneOf("action", string(s.Action), string(StalenessDLQ), string(StalenessError), string(StalenessNone))
	return ps.Err()
}
