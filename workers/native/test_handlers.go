package native

import (
	"context"
	"encoding/json"
	"errors"
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
func failNTimes(_ context.Context, step *worker.Step[struct{}]) (failNTimesResult, error) {
	cfg, err := worker.Config[struct {
		FailCount *int `json:"fail_count"`
	}](step)
	failCount := 0
	switch {
	case err != nil || (cfg.FailCount != nil && *cfg.FailCount < 0):
		return failNTimesResult{}, invalid("fail_count must be a non-negative integer")
	case cfg.FailCount != nil:
		failCount = *cfg.FailCount
	}
	if a := step.Attempt(); a <= failCount {
		return failNTimesResult{}, worker.WithErrorCode(worker.WithErrorType(
			fmt.Errorf("injected failure on attempt %d of %d planned failures", a, failCount),
			worker.ErrorTypeRetryable), "INJECTED_FAILURE")
	}
	return failNTimesResult{AttemptsBeforeSuccess: step.Attempt(), FailCount: failCount, Status: "succeeded"}, nil
}

// noOp succeeds and does nothing else.
func noOp(_ context.Context, step *worker.Step[struct{}]) (map[string]any, error) {
	return map[string]any{"noop": true, "step_name": step.StepName()}, nil
}

// echoInput is the task context of the echo handler.
type echoInput struct {
	TestInput json.RawMessage `json:"test_input"`
}

// echo returns the task context's test_input (operation return_input).
func echo(_ context.Context, step *worker.Step[echoInput]) (map[string]any, error) {
	cfg, err := worker.Config[struct {
		Operation string `json:"operation"`
	}](step)
	if err != nil {
		return nil, err
	}
	if cfg.Operation != "" && cfg.Operation != "return_input" {
		return nil, invalid("operation %q is not supported (only return_input)", cfg.Operation)
	}
	if len(step.Input.TestInput) == 0 {
		return nil, invalid("task context must contain test_input")
	}
	return map[string]any{"result": step.Input.TestInput, "operation": "return_input", "step_name": step.StepName()}, nil
}

// scenarioResult is the result of the success scenario.
type scenarioResult struct {
	Status   string `json:"status"`
	Scenario string `json:"scenario"`
	StepName string `json:"step_name"`
	Attempt  int    `json:"attempt"`
}

func succeed(_ context.Context, step *worker.Step[struct{}]) (scenarioResult, error) {
	cfg, err := worker.Config[struct {
		Scenario string `json:"scenario"`
	}](step)
	if err != nil {
		return scenarioResult{}, err
	}
	return scenarioResult{Status: "success", Scenario: cfg.Scenario, StepName: step.StepName(), Attempt: step.Attempt()}, nil
}

// failPermanently always fails with a permanent PermanentError.
func failPermanently(_ context.Context, step *worker.Step[struct{}]) (struct{}, error) {
	return struct{}{}, worker.WithErrorCode(worker.Permanent(
		fmt.Errorf("permanent error in step %s: this failure must not be retried", step.StepName())), "PERMANENT_ERROR")
}

// failRetryably always fails with a retryable RetryableError, so the step
// ends in error once its attempts are spent.
func failRetryably(_ context.Context, step *worker.Step[struct{}]) (struct{}, error) {
	return struct{}{}, worker.WithErrorCode(worker.WithErrorType(
		fmt.Errorf("retryable error in step %s (attempt %d of %d)", step.StepName(), step.Attempt(), step.MaxAttempts()),
		worker.ErrorTypeRetryable), "RETRYABLE_ERROR")
}

func registerTestHandlers(r *worker.Registry) error {
	return errors.Join(
		worker.Register(r, callableFailNTimes, worker.Func(failNTimes)),
		worker.Register(r, callableNoOp, worker.Func(noOp)),
		worker.Register(r, callableEcho, worker.Func(echo)),
		worker.Register(r, callableSuccess, worker.Func(succeed)),
		worker.Register(r, callablePermanentError, worker.Func(failPermanently)),
		worker.Register(r, callableRetryableError, worker.Func(failRetryably)),
		worker.Register(r, callableSleep, worker.Func(sleepStep)),
	)
}

// sleepMS is where sleepStep reads sleep_ms, in the task context and in
// the step configuration.
type sleepMS struct {
	SleepMS *int `json:"sleep_ms"`
}

// sleepStep sleeps sleep_ms (the task context's, else the step
// configuration's, else 100) and reports it. When its context ends first
// (the step's timeout, or the worker stopping) it fails retryably so the
// step runs again.
func sleepStep(ctx context.Context, step *worker.Step[sleepMS]) (map[string]any, error) {
	ms := 100
	if step.Input.SleepMS != nil {
		ms = *step.Input.SleepMS
	} else {
		cfg, err := worker.Config[sleepMS](step)
		if err != nil {
			return nil, err
		}
		if cfg.SleepMS != nil {
			ms = *cfg.SleepMS
		}
	}
	if ms < 0 {
		return nil, invalid("sleep_ms must not be negative")
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return map[string]any{"slept_ms": ms}, nil
	case <-ctx.Done():
		return nil, worker.WithErrorType(fmt.Errorf("interrupted before the sleep ended: %w", ctx.Err()), worker.ErrorTypeRetryable)
	}
}
