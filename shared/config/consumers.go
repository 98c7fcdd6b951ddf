package config

import (
	"fmt"
	"time"
)

// ResultConsumer is the [orchestration.results] section: the loop that
// claims step results from the orchestration_step_results queue and
// processes a batch per transaction (complete, retry or fail the steps,
// enqueue newly ready children, finalize tasks).
type ResultConsumer struct {
	// BatchSize is the most results claimed and processed in one
	// transaction. A lone result is processed at once; batches form only
	// when results are waiting. Default 100.
	BatchSize int `toml:"batch_size"`
	// Concurrency is how many batches are processed at the same time.
	// Default 4 (test 2, production 8).
	Concurrency int `toml:"concurrency"`
	// ClaimVisibility is how long claimed results stay invisible; if the
	// instance dies before committing, they reappear after it. Default 30s
	// (test 5s).
	ClaimVisibility time.Duration `toml:"claim_visibility"`
}

// RequestConsumer is the [orchestration.requests] section: the loop that
// creates tasks from the orchestration_task_requests queue (tasks created
// through the REST API do not pass through it).
type RequestConsumer struct {
	// BatchSize is the most requests claimed at once. Default 50.
	BatchSize int `toml:"batch_size"`
	// Concurrency is how many batches are processed at the same time.
	// Default 2 (production 4).
	Concurrency int `toml:"concurrency"`
}

// ReadinessPoller is the [orchestration.readiness_poller] section: the
// leader-only fallback for lost messages. It finds steps of open tasks
// stuck for longer than RetryGrace plus queues.visibility_timeout waiting
// for the message that moves them: enqueued with no worker taking it, in
// progress under a claim that lapsed, waiting for a retry that fell due, or
// reported back with the result not processed. It sends that message again
// (to the namespace's worker queue, or the result queue) and records the
// nudge; a duplicate is harmless. Normal progress never waits for it.
type ReadinessPoller struct {
	// Interval between passes. Default 5s (test 1s).
	Interval time.Duration `toml:"interval"`
	// BatchSize is the most steps nudged per pass. Default 100.
	BatchSize int `toml:"batch_size"`
	// RetryGrace is how much longer than queues.visibility_timeout a step
	// may wait for its message (after it was enqueued, its claim lapsed,
	// its retry fell due or its result was reported) before the poller
	// re-sends it. Default 30s (test 2s).
	RetryGrace time.Duration `toml:"retry_grace"`
}

// Reconciler is the [orchestration.reconciler] section: the leader-only
// loop that re-evaluates open tasks nothing else will move. A task counts
// when its state has not changed for ActiveStateGrace and it is either in a
// transient state (pending, initializing, enqueuing_steps,
// evaluating_results: what an instance that crashed mid-batch leaves
// behind) or has no step enqueued, in progress, waiting for a retry or
// awaiting orchestration. Re-evaluating enqueues its ready steps and
// finalizes it when its steps are done.
type Reconciler struct {
	// Interval between passes. Default 30s (test 1s).
	Interval time.Duration `toml:"interval"`
	// ActiveStateGrace is how long a task's state must stay unchanged
	// before the reconciler considers it; it must exceed the time a
	// healthy instance takes to process a batch. Default 1m (test 5s).
	ActiveStateGrace time.Duration `toml:"active_state_grace"`
	// BatchSize is the most tasks re-evaluated per pass. Default 100.
	BatchSize int `toml:"batch_size"`
}

// Validate checks the section; see [Problems].
func (r *ResultConsumer) Validate() error {
	var ps Problems
	ps.intBetween("batch_size", int64(r.BatchSize), 1, 10000)
	ps.intBetween("concurrency", int64(r.Concurrency), 1, 1000)
	ps.durationAtLeast("claim_visibility", r.ClaimVisibility, time.Second)
	return ps.Err()
}

// Validate checks the section; see [Problems].
func (r *RequestConsumer) Validate() error {
	var ps Problems
	ps.intBetween("batch_size", int64(r.BatchSize), 1, 10000)
	ps.intBetween("concurrency", int64(r.Concurrency), 1, 1000)
	return ps.Err()
}

// Validate checks the section; see [Problems].
func (r *ReadinessPoller) Validate() error {
	var ps Problems
	ps.positiveDuration("interval", r.Interval)
	ps.intBetween("batch_size", int64(r.BatchSize), 1, 10000)
	ps.durationAtLeast("retry_grace", r.RetryGrace, 0)
	return ps.Err()
}

// Validate checks the section; see [Problems].
func (r *Reconciler) Validate() error {
	var ps Problems
	ps.positiveDuration("interval", r.Interval)
	if ps.positiveDuration("active_state_grace", r.ActiveStateGrace) && r.ActiveStateGrace < time.Second {
		ps.add("active_state_grace", fmt.Sprintf("must be at least 1s, got %s", formatDuration(r.ActiveStateGrace)))
	}
	ps.intBetween("batch_size", int64(r.BatchSize), 1, 10000)
	return ps.Err()
}
