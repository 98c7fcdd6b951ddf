package native

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/workertest"
)

func TestFailNTimesFailsWhileAttemptIsAtMostFailCount(t *testing.T) {
	h := handler(t, callableFailNTimes)
	cfg := map[string]any{"fail_count": 2}
	for attempt := 1; attempt <= 2; attempt++ {
		res := workertest.Execute(h, workertest.NewStep("flaky").WithConfig(cfg).WithAttempt(attempt, 5))
		requireFailure(t, res, "RetryableError", true)
		require.Equal(t, "INJECTED_FAILURE", res.ErrorCode())
	}
	for attempt := 3; attempt <= 5; attempt++ {
		res := workertest.Execute(h, workertest.NewStep("flaky").WithConfig(cfg).WithAttempt(attempt, 5))
		v := valueOf(t, res)
		require.Equal(t, num(string(rune('0'+attempt))), v["attempts_before_success"])
		require.Equal(t, num("2"), v["fail_count"])
	}
	// No fail_count: succeeds at once.
	require.True(t, workertest.Execute(h, workertest.NewStep("s")).IsSuccess())
	// A nonsense fail_count is the template's fault.
	requireFailure(t, workertest.Execute(h, workertest.NewStep("s").WithConfig(map[string]any{"fail_count": "two"})),
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
	res := workertest.Execute(handler(t, callableSuccess), workertest.NewStep("success_step").WithConfig(map[string]any{"scenario": "success"}))
	v := valueOf(t, res)
	require.Equal(t, "success", v["status"])
	require.Equal(t, "success", v["scenario"])

	res = workertest.Execute(handler(t, callablePermanentError), workertest.NewStep("permanent_error_step"))
	requireFailure(t, res, "PermanentError", false)
	require.Equal(t, "PERMANENT_ERROR", res.ErrorCode())

	res = workertest.Execute(handler(t, callableRetryableError), workertest.NewStep("retryable_error_step").WithAttempt(2, 3))
	requireFailure(t, res, "RetryableError", true)
	require.Contains(t, res.Message(), "attempt 2 of 3")
}

func TestNoOpAndEcho(t *testing.T) {
	v := valueOf(t, workertest.Execute(handler(t, callableNoOp), workertest.NewStep("boundary_test_step")))
	require.Equal(t, true, v["noop"])

	echoStep := workertest.NewStep("dlq_step_1").WithConfig(map[string]any{"operation": "return_input"}).
		WithContext(map[string]any{"test_input": 41})
	v = valueOf(t, workertest.Execute(handler(t, callableEcho), echoStep))
	require.Equal(t, num("41"), v["result"])
	requireFailure(t, workertest.Execute(handler(t, callableEcho), workertest.NewStep("s")), "ValidationError", false)
	requireFailure(t, workertest.Execute(handler(t, callableEcho), workertest.NewStep("s").
		WithConfig(map[string]any{"operation": "shout"}).WithContext(map[string]any{"test_input": 1})), "ValidationError", false)
}

func TestSleepHandler(t *testing.T) {
	h := worker.Func(sleepStep)
	out, err := workertest.Run(h, workertest.NewStep("nap").WithContext(map[string]any{"sleep_ms": 5}))
	require.NoError(t, err)
	require.Equal(t, map[string]any{"slept_ms": 5}, out)
	out, err = workertest.Run(h, workertest.NewStep("nap").WithConfig(map[string]any{"sleep_ms": 1}))
	require.NoError(t, err)
	require.Equal(t, map[string]any{"slept_ms": 1}, out)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = workertest.RunContext(ctx, h, workertest.NewStep("nap").WithContext(map[string]any{"sleep_ms": 60000}))
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, worker.Classify(err).Permanent, "an interrupted sleep is retried")

	_, err = workertest.Run(h, workertest.NewStep("nap").WithContext(map[string]any{"sleep_ms": "long"}))
	c := worker.Classify(err)
	require.True(t, c.Permanent)
	require.Equal(t, worker.ErrorTypeValidation, c.Type)
	require.EqualError(t, err, `the task context: field "sleep_ms" is a JSON string, want an integer (int)`)
}
