package native

import (
	"context"
	"fmt"
	"time"

	"github.com/tasker-go/tasker/worker"
)

// Handlers tasker-core's test templates use to drive the engine: injected
// failures for retry tests, fixed outcomes for error scenarios, a no-op for
// SQL boundary tests and an echo for staleness tests.

// Callables of the test handlers.
const (
	callableFailNTimes     = "FailNTimesHandler"
	callableNoOp           = "TestHandlers::NoOpHandler"
	callableEcho           = "tasker_example_rs::step_handlers::test::TestStepHandler"
	callableSuccess        = "ErrorScenarios::SuccessHandler"
	callablePermanentError = "ErrorScenarios::PermanentErrorHandler"
	callableRetryableError = "ErrorScenarios::RetryableErrorHandler"
	callableMultiMethod    = "resolver_tests_multi_method"
	callableSleep          = "Examples::SleepHandler"
)

// failNTimesResult is the result of FailNTimesHandler once it succeeds.
type failNTimesResult struct {
	AttemptsBeforeSuccess int    `json:"attempts_before_success"`
	FailCount             int    `json:"fail_count"`
	Status                string `json:"status"`
}

// failNTimes fails with a retryable error while the attempt number is at
// most the configured fail_count, then succeeds reporting the attempt it
// succeeded on. fail_count 2 succeeds on attempt 3; a fail_count above
// max_attempts never succeeds (retry exhaustion).
func failNTimes(_ context.Context, step *worker.StepContext) worker.Result {
	var failCount int
	if _, ok := step.Config("fail_count"); ok {
		if err := step.DecodeConfig("fail_count", &failCount); err != nil || failCount < 0 {
			return invalid("fail_count must be a non-negative integer")
		}
	}
	if a := step.Attempt(); a <= failCount {
		return worker.Failure(fmt.Sprintf("injected failure on attempt %d of %d planned failures", a, failCount),
			errorTypeRetryable, true).WithErrorCode("INJECTED_FAILURE")
	}
	return worker.Success(failNTimesResult{AttemptsBeforeSuccess: step.Attempt(), FailCount: failCount,
		Status: "succeeded"}, nil)
}

// noOp succeeds and does nothing else.
func noOp(_ context.Context, step *worker.StepContext) worker.Result {
	return worker.Success(map[string]any{"noop": true, "step_name": step.StepName()}, nil)
}

// echo returns the task context's test_input (operation return_input).
func echo(_ context.Context, step *worker.StepContext) worker.Result {
	var op string
	_ = step.DecodeConfig("operation", &op)
	if op != "" && op != "return_input" {
		return invalid("operation %q is not supported (only return_input)", op)
	}
	in, ok := rawInput(step, "test_input")
	if !ok {
		return invalid("task context must contain test_input")
	}
	return worker.Success(map[string]any{"result": in, "operation": "return_input", "step_name": step.StepName()}, nil)
}

// scenarioResult is the result of the success scenario.
type scenarioResult struct {
	Status   string `json:"status"`
	Scenario string `json:"scenario"`
	StepName string `json:"step_name"`
	Attempt  int    `json:"attempt"`
}

func succeed(_ context.Context, step *worker.StepContext) worker.Result {
	var scenario string
	_ = step.DecodeConfig("scenario", &scenario)
	return worker.Success(scenarioResult{Status: "success", Scenario: scenario, StepName: step.StepName(),
		Attempt: step.Attempt()}, nil)
}

// failPermanently always fails with a non-retryable PermanentError.
func failPermanently(_ context.Context, step *worker.StepContext) worker.Result {
	return worker.Failure(fmt.Sprintf("permanent error in step %s: this failure must not be retried", step.StepName()),
		errorTypePermanent, false).WithErrorCode("PERMANENT_ERROR")
}

// failRetryably always fails with a retryable RetryableError, so the step
// ends in error once its attempts are spent.
func failRetryably(_ context.Context, step *worker.StepContext) worker.Result {
	return worker.Failure(fmt.Sprintf("retryable error in step %s (attempt %d of %d)", step.StepName(), step.Attempt(), step.MaxAttempts()),
		errorTypeRetryable, true).WithErrorCode("RETRYABLE_ERROR")
}

func testHandlers() map[string]worker.Handler {
	return map[string]worker.Handler{
		callableFailNTimes:     worker.HandlerFunc(failNTimes),
		callableNoOp:           worker.HandlerFunc(noOp),
		callableEcho:           worker.HandlerFunc(echo),
		callableSuccess:        worker.HandlerFunc(succeed),
		callablePermanentError: worker.HandlerFunc(failPermanently),
		callableRetryableError: worker.HandlerFunc(failRetryably),
		callableSleep:          worker.HandlerFunc(sleepStep),
	}
}

// sleepStep sleeps sleep_ms (the task context's, else the step
// configuration's) and reports it. When its context ends first (the step's
// timeout, or the worker stopping) it fails retryably so the step runs again.
func sleepStep(ctx context.Context, step *worker.StepContext) worker.Result {
	ms := 100
	if _, ok := step.Input("sleep_ms"); ok {
		if err := step.DecodeInput("sleep_ms", &ms); err != nil {
			return invalid("sleep_ms must be an integer number of milliseconds")
		}
	} else if _, ok := step.Config("sleep_ms"); ok {
		if err := step.DecodeConfig("sleep_ms", &ms); err != nil {
			return invalid("sleep_ms must be an integer number of milliseconds")
		}
	}
	if ms < 0 {
		return invalid("sleep_ms must not be negative")
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return worker.Success(map[string]any{"slept_ms": ms}, nil)
	case <-ctx.Done():
		return worker.Failure("interrupted before the sleep ended: "+ctx.Err().Error(), errorTypeRetryable, true)
	}
}
