package orchestration

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
)

// TestDecideFailure is the retry policy of a failed step as a table: it
// retries only a retryable step whose handler did not report a permanent
// failure and that has attempts left (dag.AttemptsLeft).
func TestDecideFailure(t *testing.T) {
	c := &Core{backoff: config.Backoff{RetryAfterCap: time.Minute}}
	retryable := stepresult.Failure(uuid.Nil, stepresult.StatusError, "boom", "RuntimeError", true)
	permanent := stepresult.Failure(uuid.Nil, stepresult.StatusError, "bad input", "ValidationError", false)
	step := func(st state.StepState, attempts, maxAttempts int, canRetry bool) store.Step {
		return store.Step{State: st, Attempts: attempts, Retry: store.RetryPolicy{Retryable: canRetry, MaxAttempts: maxAttempts,
			Backoff: "exponential", BackoffBase: 100, MaxBackoffMs: 1000}}
	}
	for _, tc := range []struct {
		name   string
		st     store.Step
		r      stepresult.Result
		to     state.StepState
		reason string
	}{
		{"attempts left", step(state.StepEnqueuedAsErrorForOrchestration, 1, 3, true), retryable, state.StepWaitingForRetry, "retry after backoff"},
		{"last attempt used", step(state.StepEnqueuedAsErrorForOrchestration, 3, 3, true), retryable, state.StepError, "attempts exhausted"},
		{"not retryable", step(state.StepEnqueuedAsErrorForOrchestration, 1, 3, false), retryable, state.StepError, "step is not retryable"},
		{"permanent failure", step(state.StepEnqueuedAsErrorForOrchestration, 1, 3, true), permanent, state.StepError,
			"handler reported a permanent failure"},
		{"failure in the success state", step(state.StepEnqueuedForOrchestration, 1, 3, true), retryable, state.StepError,
			"failure reported as success state"},
	} {
		d := c.decideFailure(tc.st, tc.r)
		require.Equal(t, tc.to, d.To, tc.name)
		require.Equal(t, tc.reason, d.Reason, tc.name)
		if tc.to == state.StepWaitingForRetry {
			require.Positive(t, d.Delay, tc.name)
		}
	}
}
