package worker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/workertest"
)

// Order is the task context of an order workflow: the handlers' input.
type Order struct {
	ID     string `json:"id"`
	Amount int    `json:"amount"` // cents
}

// Charge is what the charge step returns; later steps read it by the
// step's name.
type Charge struct {
	ChargeID string `json:"charge_id"`
	Amount   int    `json:"amount"`
}

// chargeCard is a typed handler: it declares its input (Order, decoded from
// the task context before it runs) and returns its result or an error.
func chargeCard(ctx context.Context, step *worker.Step[Order]) (Charge, error) {
	if step.Input.Amount <= 0 {
		// Bad input does not get better on a retry.
		return Charge{}, worker.Permanent(fmt.Errorf("amount must be positive, got %d", step.Input.Amount))
	}
	// The step UUID is the same on every attempt: an idempotency key.
	return Charge{ChargeID: "ch_" + step.Input.ID, Amount: step.Input.Amount}, nil
}

// A handler is a function of its typed input returning (Out, error).
// Register it under the template's handler.callable; a worker decodes the
// input, runs it and stores what it returns.
func Example() {
	reg := worker.NewRegistry()
	if err := worker.Register(reg, "orders.charge_card", worker.Func(chargeCard)); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(reg.Callables())

	// workertest runs it on a step built in memory, as a worker would.
	out, err := workertest.Run(worker.Func(chargeCard),
		workertest.NewStep("charge_card").WithContext(Order{ID: "o-1", Amount: 2500}))
	fmt.Printf("%+v %v\n", out, err)

	_, err = workertest.Run(worker.Func(chargeCard),
		workertest.NewStep("charge_card").WithContext(Order{ID: "o-2"}))
	fmt.Println(err, worker.Classify(err).Permanent)
	// Output:
	// [orders.charge_card]
	// {ChargeID:ch_o-1 Amount:2500} <nil>
	// amount must be positive, got 0 true
}

// Shipper is a handler with dependencies of its own, registered as a value:
// Register infers the input and output types from its Handle method.
type Shipper struct {
	Carrier string
}

// Handle books a shipment for the order, once it has been charged.
func (s *Shipper) Handle(_ context.Context, step *worker.Step[Order]) (map[string]string, error) {
	charge, err := worker.Dependency[Charge](step, "charge_card")
	if err != nil {
		return nil, err
	}
	return map[string]string{"carrier": s.Carrier, "order": step.Input.ID, "charge": charge.ChargeID}, nil
}

func ExampleHandler() {
	reg := worker.NewRegistry()
	if err := worker.Register(reg, "orders.ship", &Shipper{Carrier: "UPS"}); err != nil {
		fmt.Println(err)
		return
	}
	out, err := workertest.Run(&Shipper{Carrier: "UPS"}, workertest.NewStep("ship").
		WithContext(Order{ID: "o-1", Amount: 2500}).
		WithDependency("charge_card", Charge{ChargeID: "ch_o-1", Amount: 2500}))
	fmt.Println(out, err)
	// Output:
	// map[carrier:UPS charge:ch_o-1 order:o-1] <nil>
}

// Dependency decodes an ancestor's result into the type the handler wants.
// A missing or undecodable result is a permanent failure the handler can
// return as it is.
func ExampleDependency() {
	total := worker.Func(func(_ context.Context, step *worker.Step[struct{}]) (int, error) {
		charge, err := worker.Dependency[Charge](step, "charge_card")
		if err != nil {
			return 0, err
		}
		return charge.Amount + 500, nil
	})
	out, err := workertest.Run(total, workertest.NewStep("total").
		WithDependency("charge_card", Charge{ChargeID: "ch_1", Amount: 2500}))
	fmt.Println(out, err)

	_, err = workertest.Run(total, workertest.NewStep("total"))
	c := worker.Classify(err)
	fmt.Println(c.Type, c.Code, c.Permanent)
	fmt.Println(err)
	// Output:
	// 3000 <nil>
	// PermanentError MISSING_DEPENDENCY true
	// no result from step "charge_card" (is it an ancestor of "total"?)
}

// Config decodes the step's configuration, the template's
// handler.initialization:
//
//	handler:
//	  callable: orders.notify
//	  initialization: {channel: email, retries: 2}
func ExampleConfig() {
	type notifyConfig struct {
		Channel string `json:"channel"`
		Retries int    `json:"retries"`
	}
	notify := worker.Func(func(_ context.Context, step *worker.Step[Order]) (string, error) {
		cfg, err := worker.Config[notifyConfig](step)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s about %s (%d retries)", cfg.Channel, step.Input.ID, cfg.Retries), nil
	})
	out, err := workertest.Run(notify, workertest.NewStep("notify").
		WithContext(Order{ID: "o-1"}).
		WithConfig(map[string]any{"channel": "email", "retries": 2}))
	fmt.Println(out, err)

	_, err = workertest.Run(notify, workertest.NewStep("notify").WithConfig(map[string]any{"retries": "two"}))
	fmt.Println(worker.Classify(err).Type, err)
	// Output:
	// email about o-1 (2 retries) <nil>
	// ValidationError the step configuration (handler.initialization): field "retries" is a JSON string, want an integer (int)
}

// errRateLimited stands for an error from a client library.
var errRateLimited = errors.New("rate limited")

// A plain error is retried (error type UnexpectedError); the wrappers say
// more, and compose in any order. errors.Is and errors.As see through them.
func ExampleClassify() {
	for _, err := range []error{
		errors.New("connection reset"),
		worker.Permanent(errors.New("card declined")),
		worker.RetryAfter(errRateLimited, 30*time.Second),
		worker.WithErrorCode(worker.WithErrorType(worker.Permanent(errors.New("card declined")), "PaymentDeclined"), "CARD_DECLINED"),
		fmt.Errorf("charging o-1: %w", worker.RetryAfter(errRateLimited, time.Minute)),
	} {
		c := worker.Classify(err)
		fmt.Printf("%q type=%s code=%q permanent=%t retry_after=%s is_rate_limited=%t\n",
			err, c.Type, c.Code, c.Permanent, c.RetryAfter, errors.Is(err, errRateLimited))
	}
	// Output:
	// "connection reset" type=UnexpectedError code="" permanent=false retry_after=0s is_rate_limited=false
	// "card declined" type=PermanentError code="" permanent=true retry_after=0s is_rate_limited=false
	// "rate limited" type=RetryableError code="" permanent=false retry_after=30s is_rate_limited=true
	// "card declined" type=PaymentDeclined code="CARD_DECLINED" permanent=true retry_after=0s is_rate_limited=false
	// "charging o-1: rate limited" type=RetryableError code="" permanent=false retry_after=1m0s is_rate_limited=true
}

// An *Error literal says everything at once.
func ExampleError() {
	decline := worker.Func(func(_ context.Context, step *worker.Step[Order]) (Charge, error) {
		return Charge{}, &worker.Error{
			Err:       fmt.Errorf("card declined for order %s", step.Input.ID),
			Type:      "PaymentDeclined",
			Code:      "CARD_DECLINED",
			Permanent: true,
			Metadata:  map[string]any{"gateway": "test"},
		}
	})
	res := workertest.Execute(mustRegistry("orders.charge_card", decline),
		workertest.NewStep("charge_card").WithCallable("orders.charge_card").WithContext(Order{ID: "o-3"}))
	fmt.Println(res.Message(), res.ErrorType(), res.ErrorCode(), res.Retryable(), res.Metadata())
	// Output:
	// card declined for order o-3 PaymentDeclined CARD_DECLINED false map[gateway:test]
}

// Metadata set on the step is stored with its result, success or failure.
func ExampleStep_SetMetadata() {
	h := worker.Func(func(_ context.Context, step *worker.Step[Order]) (Charge, error) {
		step.SetMetadata("gateway", "test")
		step.SetMetadata("attempt", step.Attempt())
		return Charge{ChargeID: "ch_" + step.Input.ID}, nil
	})
	res := workertest.Execute(mustRegistry("orders.charge_card", h),
		workertest.NewStep("charge_card").WithCallable("orders.charge_card").WithContext(Order{ID: "o-1"}).WithAttempt(2, 3))
	fmt.Println(res.IsSuccess(), res.Metadata())
	// Output:
	// true map[attempt:2 gateway:test]
}

// RegisterExecutor registers anything that runs steps under a callable:
// here a wrapper that logs around another registry's handler.
func ExampleRegistry_RegisterExecutor() {
	inner := mustRegistry("orders.charge_card", worker.Func(chargeCard))
	charge, _ := inner.Lookup("orders.charge_card")

	outer := worker.NewRegistry()
	logged := executorFunc(func(ctx context.Context, step *worker.StepContext) worker.Result {
		res := charge.Execute(ctx, step)
		fmt.Printf("%s attempt %d: success=%t\n", step.StepName(), step.Attempt(), res.IsSuccess())
		return res
	})
	if err := outer.RegisterExecutor("orders.charge_card", logged); err != nil {
		fmt.Println(err)
		return
	}
	workertest.Execute(outer, workertest.NewStep("charge_card").WithCallable("orders.charge_card").
		WithContext(Order{ID: "o-1", Amount: 100}))
	// Output:
	// charge_card attempt 1: success=true
}

// A ChannelExecutor hands steps to handlers in another language: the
// foreign side polls events and completes them with a JSON result.
func ExampleChannelExecutor() {
	x := worker.NewChannelExecutor(worker.ChannelExecutorConfig{})
	go func() {
		events, _ := x.PollWait(context.Background(), 10)
		for _, ev := range events {
			_ = x.Complete(ev.ID, []byte(`{"success": true, "result": {"greeting": "hello from ruby"}}`))
		}
	}()
	res := x.Execute(context.Background(), worker.NewStepContext(worker.StepData{
		StepName: "greet", Callable: "Greeter::Hello", Attempt: 1, MaxAttempts: 3,
	}))
	raw, err := workertest.Value(res)
	fmt.Println(string(raw), err)
	// Output:
	// {"greeting": "hello from ruby"} <nil>
}

// executorFunc adapts a function to worker.Executor.
type executorFunc func(ctx context.Context, step *worker.StepContext) worker.Result

func (f executorFunc) Execute(ctx context.Context, step *worker.StepContext) worker.Result {
	return f(ctx, step)
}

// mustRegistry is a registry holding h under callable.
func mustRegistry[In, Out any](callable string, h worker.Handler[In, Out]) *worker.Registry {
	reg := worker.NewRegistry()
	if err := worker.Register(reg, callable, h); err != nil {
		panic(err)
	}
	return reg
}
