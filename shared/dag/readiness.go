package dag

import (
	"time"

	"github.com/tasker-go/tasker/shared/state"
)

// StepFacts is what the readiness rule needs to know of one step.
type StepFacts struct {
	State       state.StepState
	Attempts    int
	Retryable   bool
	MaxAttempts int
	Processed   bool
	InProcess   bool
	// NextRetryAt is when a step waiting for retry may run again (nil:
	// at once).
	NextRetryAt *time.Time
	// TotalParents and SatisfiedParents count the step's parents and those
	// that let it run (Graph.Satisfied).
	TotalParents     int
	SatisfiedParents int
}

// Readiness is the readiness of one step.
type Readiness struct {
	// DependenciesSatisfied: every parent is complete or resolved by hand.
	DependenciesSatisfied bool
	// RetryEligible: the step may be attempted (again).
	RetryEligible bool
	// ReadyForExecution: the step can be enqueued now.
	ReadyForExecution bool
}

// AttemptsLeft reports whether a step that ran attempts times has
// attempts left under its max_attempts.
func AttemptsLeft(attempts, maxAttempts int) bool { return attempts < maxAttempts }

// RetryEligible reports whether a step that ran attempts times may run
// again: the first attempt always may; later ones only when the step is
// retryable and attempts are left.
func RetryEligible(attempts int, retryable bool, maxAttempts int) bool {
	return attempts == 0 || (retryable && AttemptsLeft(attempts, maxAttempts))
}

// RetryDue reports whether a step's retry time has come at now (no retry
// time: it has).
func RetryDue(nextRetryAt *time.Time, now time.Time) bool {
	return nextRetryAt == nil || !nextRetryAt.After(now)
}

// StepReadiness applies the readiness rule: a step is ready when it is
// pending or waiting for retry, neither processed nor in process, its
// dependencies are satisfied, it is eligible for another attempt and its
// retry time has come.
func StepReadiness(f StepFacts, now time.Time) Readiness {
	r := Readiness{
		DependenciesSatisfied: f.SatisfiedParents == f.TotalParents,
		RetryEligible:         RetryEligible(f.Attempts, f.Retryable, f.MaxAttempts),
	}
	r.ReadyForExecution = (f.State == state.StepPending || f.State == state.StepWaitingForRetry) &&
		!f.Processed && !f.InProcess && r.DependenciesSatisfied && r.RetryEligible && RetryDue(f.NextRetryAt, now)
	return r
}
