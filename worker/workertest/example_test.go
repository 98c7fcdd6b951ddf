package workertest_test

import (
	"context"
	"fmt"

	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/workertest"
)

// quoteInput is the task context the handler reads: {"destination": "EU"}.
type quoteInput struct {
	Destination string `json:"destination"`
}

// quote is what the handler returns; dependent steps read it by the step's
// name.
type quote struct {
	Destination string  `json:"destination"`
	Price       float64 `json:"price"`
	Attempt     int     `json:"attempt"`
}

// quoteShipping is a typed step handler. Its input is the task context,
// decoded before it runs; it reads its configuration (the template's
// handler.initialization) and the result of an earlier step, and returns
// its result or an error.
func quoteShipping(_ context.Context, step *worker.Step[quoteInput]) (quote, error) {
	// Step configuration: initialization: {rates: {EU: 12.5, US: 8}}.
	cfg, err := worker.Config[struct {
		Rates map[string]float64 `json:"rates"`
	}](step)
	if err != nil {
		return quote{}, err // already a permanent ValidationError
	}
	rate, ok := cfg.Rates[step.Input.Destination]
	if !ok {
		// Bad input will not get better on a retry.
		return quote{}, worker.Permanent(worker.WithErrorType(
			fmt.Errorf("no rate for %q", step.Input.Destination), worker.ErrorTypeValidation))
	}
	// The result of the ancestor step "weigh_parcel".
	parcel, err := worker.Dependency[struct {
		Kilograms float64 `json:"kilograms"`
	}](step, "weigh_parcel")
	if err != nil {
		return quote{}, err
	}
	// A flaky rate service would return its error as it is (retried with
	// the template's backoff), or ask for a delay with worker.RetryAfter.
	return quote{Destination: step.Input.Destination, Price: rate * parcel.Kilograms, Attempt: step.Attempt()}, nil
}

// Example is the tutorial for writing and testing a handler: write a typed
// function, register it under the callable your template names, and test it
// on a step built by workertest.NewStep, no database needed.
func Example() {
	// In the worker, the handler is registered under the template's
	// handler.callable string.
	registry := worker.NewRegistry()
	if err := worker.Register(registry, "shipping.quote", worker.Func(quoteShipping)); err != nil {
		fmt.Println(err)
		return
	}

	// In a test, build the step the handler will see...
	step := workertest.NewStep("quote_shipping").
		WithContext(map[string]any{"destination": "EU"}).
		WithConfig(map[string]any{"rates": map[string]float64{"EU": 12.5, "US": 8}}).
		WithDependency("weigh_parcel", map[string]any{"kilograms": 2}).
		WithAttempt(2, 3) // the second of three attempts
	// ...and run the handler on it: its output comes back typed.
	out, err := workertest.Run(worker.Func(quoteShipping), step)
	fmt.Printf("%+v %v\n", out, err)

	// A failure is the handler's error; worker.Classify says how the worker
	// records it.
	_, err = workertest.Run(worker.Func(quoteShipping), workertest.NewStep("quote_shipping").
		WithContext(map[string]any{"destination": "MARS"}).
		WithConfig(map[string]any{"rates": map[string]float64{"EU": 12.5}}))
	c := worker.Classify(err)
	fmt.Println(c.Type, c.Permanent, err)

	// Input that does not decode never reaches the handler.
	_, err = workertest.Run(worker.Func(quoteShipping), workertest.NewStep("quote_shipping").
		WithContext(map[string]any{"destination": 7}))
	fmt.Println(worker.Classify(err).Type, err)

	// Execute runs a step through the registry, by callable, and gives the
	// result as the worker would store it.
	res := workertest.Execute(registry, step.WithCallable("shipping.quote"))
	raw, err := workertest.Value(res)
	fmt.Println(string(raw), err)
	// Output:
	// {Destination:EU Price:25 Attempt:2} <nil>
	// ValidationError true no rate for "MARS"
	// ValidationError the task context: field "destination" is a JSON number, want a string
	// {"destination":"EU","price":25,"attempt":2} <nil>
}

// RunTemplate runs a whole template in memory with a registry's handlers,
// in dependency order, feeding each step its ancestors' results.
func ExampleRunTemplate() {
	tpls, err := template.Parse([]byte(`
name: shipping
namespace_name: shop
version: 1.0.0
steps:
  - name: weigh_parcel
    handler: {callable: shipping.weigh}
  - name: quote_shipping
    dependencies: [weigh_parcel]
    handler: {callable: shipping.quote, initialization: {rates: {EU: 12.5}}}
`), "shipping.yaml", template.ParseOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	registry := worker.NewRegistry()
	weigh := worker.Func(func(context.Context, *worker.Step[struct{}]) (map[string]float64, error) {
		return map[string]float64{"kilograms": 3}, nil
	})
	if err := worker.Register(registry, "shipping.weigh", weigh); err != nil {
		fmt.Println(err)
		return
	}
	if err := worker.Register(registry, "shipping.quote", worker.Func(quoteShipping)); err != nil {
		fmt.Println(err)
		return
	}

	run, err := workertest.RunTemplate(context.Background(), tpls[0], registry, map[string]any{"destination": "EU"})
	if err != nil {
		fmt.Println(err)
		return
	}
	var q quote
	if err := workertest.DecodeValue(run.Step("quote_shipping").Result, &q); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(run.Complete(), run.Order, q.Price)
	// Output:
	// true [weigh_parcel quote_shipping] 37.5
}
