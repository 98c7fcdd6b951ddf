package native

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/worker/workertest"
)

func TestFailNTimesFailsWhileAttemptIsAtMostFailCount(t *testing.T) {
	h := handler(t, callableFailNTimes)
	cfg := map[string]any{"fail_count": 2}
	for attempt := 1; attempt <= 2; attempt++ {
		res := workertest.Run(h, workertest.NewStep("flaky").WithConfig(cfg).WithAttempt(attempt, 5).Build())
		requireFailure(t, res, "RetryableError", true)
		require.Equal(t, "INJECTED_FAILURE", res.ErrorCode())
	}
	for attempt := 3; attempt <= 5; attempt++ {
		res := workertest.Run(h, workertest.NewStep("flaky").WithConfig(cfg).WithAttempt(attempt, 5).Build())
		v := valueOf(t, res)
		require.Equal(t, num(string(rune('0'+attempt))), v["attempts_before_success"])
		require.Equal(t, num("2"), v["fail_count"])
	}
	// No fail_count: succeeds at once.
	require.True(t, workertest.Run(h, workertest.NewStep("s").Build()).IsSuccess())
	// A nonsense fail_count is the template's fault.
	requireFailure(t, workertest.Run(h, workertest.NewStep("s").WithConfig(map[string]any{"fail_count": "two"}).Build()),
		"ValidationError", false)
}

func TestFailNTimesAcrossRetries(t *testing.T) {
	tmpl := workflow("retry", stepDef{name: "fail_twice_then_succeed", callable: callableFailNTimes, init: map[string]any{"fail_count": 2}})
	tmpl.Steps[0].Retry.MaxAttempts = 5
	run := runWorkflow(t, tmpl, map[string]any{})
	require.True(t, run.Complete())
	require.Equal(t, 3, run.Step("fail_twice_then_succeed").Attempts)
	require.Equal(t, num("3"), valueOf(t, run.Step("fail_twice_then_succeed").Result)["attempts_before_success"])

	tmpl = workflow("exhaust", stepDef{name: "always_fail", callable: callableFailNTimes, init: map[string]any{"fail_count": 10}})
	run = runWorkflow(t, tmpl, map[string]any{})
	require.Equal(t, []string{"always_fail"}, run.Failed())
	require.Equal(t, 3, run.Step("always_fail").Attempts)
}

func TestErrorScenarioHandlers(t *testing.T) {
	res := workertest.Run(handler(t, callableSuccess), workertest.NewStep("success_step").WithConfig(map[string]any{"scenario": "success"}).Build())
	v := valueOf(t, res)
	require.Equal(t, "success", v["status"])
	require.Equal(t, "success", v["scenario"])

	res = workertest.Run(handler(t, callablePermanentError), workertest.NewStep("permanent_error_step").Build())
	requireFailure(t, res, "PermanentError", false)
	require.Equal(t, "PERMANENT_ERROR", res.ErrorCode())

	res = workertest.Run(handler(t, callableRetryableError), workertest.NewStep("retryable_error_step").WithAttempt(2, 3).Build())
	requireFailure(t, res, "RetryableError", true)
	require.Contains(t, res.Message(), "attempt 2 of 3")
}

func TestNoOpAndEcho(t *testing.T) {
	v := valueOf(t, workertest.Run(handler(t, callableNoOp), workertest.NewStep("boundary_test_step").Build()))
	require.Equal(t, true, v["noop"])

	echoStep := workertest.NewStep("dlq_step_1").WithConfig(map[string]any{"operation": "return_input"}).
		WithContext(map[string]any{"test_input": 41})
	v = valueOf(t, workertest.Run(handler(t, callableEcho), echoStep.Build()))
	require.Equal(t, num("41"), v["result"])
	requireFailure(t, workertest.Run(handler(t, callableEcho), workertest.NewStep("s").Build()), "ValidationError", false)
	requireFailure(t, workertest.Run(handler(t, callableEcho), workertest.NewStep("s").
		WithConfig(map[string]any{"operation": "shout"}).WithContext(map[string]any{"test_input": 1}).Build()), "ValidationError", false)
}

func TestSleepHandler(t *testing.T) {
	h := handlers()[callableSleep]
	r := workertest.Run(h, workertest.NewStep("nap").WithContext(map[string]any{"sleep_ms": 5}).Build())
	require.True(t, r.IsSuccess())
	v, err := workertest.Value(r)
	require.NoError(t, err)
	require.JSONEq(t, `{"slept_ms":5}`, string(v))
	r = workertest.Run(h, workertest.NewStep("nap").WithConfig(map[string]any{"sleep_ms": 1}).Build())
	require.True(t, r.IsSuccess())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r = workertest.RunContext(ctx, h, workertest.NewStep("nap").WithContext(map[string]any{"sleep_ms": 60000}).Build())
	require.False(t, r.IsSuccess())
	require.True(t, r.Retryable(), "an interrupted sleep is retried")
	r = workertest.Run(h, workertest.NewStep("nap").WithContext(map[string]any{"sleep_ms": "long"}).Build())
	require.False(t, r.IsSuccess())
	require.False(t, r.Retryable())
}
