package workertest_test

import (
	"context"
	"fmt"

	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/workertest"
)

// quoteShipping is a step handler. It reads the task's input (the context
// the task was created with), its own configuration (the template's
// handler.initialization) and the result of an earlier step, and returns
// Success with a JSON-encodable value or Failure saying whether a retry
// could help.
func quoteShipping(_ context.Context, step *worker.StepContext) worker.Result {
	// Task input: {"destination": "EU"}.
	var destination string
	if err := step.DecodeInput("destination", &destination); err != nil {
		// Bad input will not get better on a retry.
		return worker.Failure(err.Error(), "ValidationError", false)
	}

	// Step configuration: initialization: {rates: {EU: 12.5, US: 8}}.
	var rates map[string]float64
	if err := step.DecodeConfig("rates", &rates); err != nil {
		return worker.Failure(err.Error(), "ValidationError", false)
	}
	rate, ok := rates[destination]
	if !ok {
		return worker.Failure("no rate for "+destination, "ValidationError", false)
	}

	// The result of the ancestor step "weigh_parcel": what its handler
	// passed to worker.Success.
	var parcel struct {
		Kilograms float64 `json:"kilograms"`
	}
	if err := step.DecodeDependency("weigh_parcel", &parcel); err != nil {
		return worker.Failure(err.Error(), "PermanentError", false)
	}

	// A flaky rate service would return a retryable failure, perhaps
	// asking for a delay: worker.Failure(msg, "RetryableError", true).
	// WithRetryAfter(2 * time.Second).

	return worker.Success(map[string]any{
		"destination": destination,
		"price":       rate * parcel.Kilograms,
		"attempt":     step.Attempt(),
	}, nil)
}

// Example is the tutorial for writing and testing a handler: write a
// worker.Handler, register it under the callable your template names, and
// test it with a step built by workertest.NewStep, no database needed.
func Example() {
	// In the worker, the handler is registered under the template's
	// handler.callable string.
	registry := worker.NewRegistry()
	if err := registry.RegisterFunc("shipping.quote", quoteShipping); err != nil {
		fmt.Println(err)
		return
	}
	h, _ := registry.Lookup("shipping.quote")

	// In a test, build the step the handler will see...
	step := workertest.NewStep("quote_shipping").
		WithContext(map[string]any{"destination": "EU"}).
		WithConfig(map[string]any{"rates": map[string]float64{"EU": 12.5, "US": 8}}).
		WithDependency("weigh_parcel", map[string]any{"kilograms": 2}).
		WithAttempt(2, 3). // the second of three attempts
		Build()

	// ...run it, and look at the result as a worker would store it.
	res := workertest.Run(h, step)
	raw, err := workertest.Value(res)
	fmt.Println(res.IsSuccess(), string(raw), err)

	// Failures say what went wrong and whether to retry.
	bad := workertest.Run(h, workertest.NewStep("quote_shipping").
		WithContext(map[string]any{"destination": "MARS"}).
		WithConfig(map[string]any{"rates": map[string]float64{"EU": 12.5}}).
		Build())
	fmt.Println(bad.IsSuccess(), bad.ErrorType(), bad.Retryable(), bad.Message())

	// Output:
	// true {"attempt":2,"destination":"EU","price":25} <nil>
	// false ValidationError false no rate for MARS
}
