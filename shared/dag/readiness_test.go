package dag_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/dag"
	"github.com/tasker-go/tasker/shared/state"
)

func TestRetryEligible(t *testing.T) {
	for _, tc := range []struct {
		attempts, max int
		retryable     bool
		want          bool
	}{
		{0, 0, false, true},  // the first attempt always may run
		{0, 3, true, true},   //
		{1, 3, true, true},   // attempts left
		{3, 3, true, false},  // exhausted
		{4, 3, true, false},  // over (a reset lowered max_attempts)
		{1, 3, false, false}, // not retryable
	} {
		require.Equal(t, tc.want, dag.RetryEligible(tc.attempts, tc.retryable, tc.max), "%+v", tc)
	}
	require.True(t, dag.AttemptsLeft(2, 3))
	require.False(t, dag.AttemptsLeft(3, 3))
	require.False(t, dag.AttemptsLeft(1, 0))
}

func TestStepReadiness(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Second)
	base := dag.StepFacts{State: state.StepPending, MaxAttempts: 3, Retryable: true, TotalParents: 2, SatisfiedParents: 2}
	with := func(f func(*dag.StepFacts)) dag.StepFacts {
		c := base
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name  string
		facts dag.StepFacts
		want  dag.Readiness
	}{
		{"pending, parents done", base, dag.Readiness{DependenciesSatisfied: true, RetryEligible: true, ReadyForExecution: true}},
		{"a parent not done", with(func(f *dag.StepFacts) { f.SatisfiedParents = 1 }),
			dag.Readiness{RetryEligible: true}},
		{"no parents", with(func(f *dag.StepFacts) { f.TotalParents, f.SatisfiedParents = 0, 0 }),
			dag.Readiness{DependenciesSatisfied: true, RetryEligible: true, ReadyForExecution: true}},
		{"waiting for retry, time come", with(func(f *dag.StepFacts) {
			f.State, f.Attempts, f.NextRetryAt = state.StepWaitingForRetry, 1, &past
		}), dag.Readiness{DependenciesSatisfied: true, RetryEligible: true, ReadyForExecution: true}},
		{"waiting for retry, exactly now", with(func(f *dag.StepFacts) {
			f.State, f.Attempts, f.NextRetryAt = state.StepWaitingForRetry, 1, &now
		}), dag.Readiness{DependenciesSatisfied: true, RetryEligible: true, ReadyForExecution: true}},
		{"waiting for retry, backoff running", with(func(f *dag.StepFacts) {
			f.State, f.Attempts, f.NextRetryAt = state.StepWaitingForRetry, 1, &future
		}), dag.Readiness{DependenciesSatisfied: true, RetryEligible: true}},
		{"attempts exhausted", with(func(f *dag.StepFacts) { f.State, f.Attempts = state.StepWaitingForRetry, 3 }),
			dag.Readiness{DependenciesSatisfied: true}},
		{"not retryable after a run", with(func(f *dag.StepFacts) { f.Attempts, f.Retryable = 1, false }),
			dag.Readiness{DependenciesSatisfied: true}},
		{"in process", with(func(f *dag.StepFacts) { f.InProcess = true }),
			dag.Readiness{DependenciesSatisfied: true, RetryEligible: true}},
		{"processed", with(func(f *dag.StepFacts) { f.Processed = true }),
			dag.Readiness{DependenciesSatisfied: true, RetryEligible: true}},
		{"enqueued", with(func(f *dag.StepFacts) { f.State = state.StepEnqueued }),
			dag.Readiness{DependenciesSatisfied: true, RetryEligible: true}},
		{"complete", with(func(f *dag.StepFacts) { f.State, f.Attempts = state.StepComplete, 1 }),
			dag.Readiness{DependenciesSatisfied: true, RetryEligible: true}},
	} {
		require.Equal(t, tc.want, dag.StepReadiness(tc.facts, now), tc.name)
	}
}
