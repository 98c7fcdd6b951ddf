package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/worker"
)

// A handler reads the task context, its step configuration and the results
// of the steps it depends on, and returns Success or Failure. Register it
// under the template's handler.callable string.
func ExampleRegistry() {
	reg := worker.NewRegistry()
	reg.MustRegister("orders.charge_card", worker.HandlerFunc(func(ctx context.Context, step *worker.StepContext) worker.Result {
		var order struct {
			Amount int `json:"amount"`
		}
		if err := step.DecodeContext(&order); err != nil {
			return worker.Failure(err.Error(), "ValidationError", false)
		}
		currency, _ := step.Config("currency")
		var reserved struct {
			Reservation string `json:"reservation"`
		}
		if err := step.DecodeDependency("reserve_stock", &reserved); err != nil {
			return worker.Failure(err.Error(), "PermanentError", false)
		}
		if order.Amount > 1000 {
			return worker.Failure("amount needs approval", "RetryableError", true).
				WithErrorCode("NEEDS_APPROVAL").WithRetryAfter(30 * time.Second)
		}
		return worker.Success(map[string]any{
			"charged":     order.Amount,
			"currency":    currency,
			"reservation": reserved.Reservation,
		}, map[string]any{"gateway": "test"})
	}))

	// The worker builds the StepContext from the claimed step; here we make
	// one by hand to call the handler directly.
	step := worker.NewStepContext(&store.ClaimedStep{
		Step: store.Step{UUID: uuid.New(), Name: "charge_card", HandlerCallable: "orders.charge_card",
			Attempts: 1, Inputs: json.RawMessage(`{"currency": "EUR"}`)},
		Task: store.ClaimedTask{UUID: uuid.New(), Namespace: "orders", Context: json.RawMessage(`{"amount": 250}`)},
		Dependencies: map[string]json.RawMessage{
			"reserve_stock": json.RawMessage(`{"success": true, "result": {"reservation": "R-1"}}`),
		},
	})
	h, _ := reg.Lookup(step.Callable())
	res := h.Handle(context.Background(), step)
	value, _ := json.Marshal(res.Value())
	fmt.Println(res.IsSuccess(), string(value))
	fmt.Println(reg.Callables())
	// Output:
	// true {"charged":250,"currency":"EUR","reservation":"R-1"}
	// [orders.charge_card]
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
	step := worker.NewStepContext(&store.ClaimedStep{
		Step: store.Step{UUID: uuid.New(), Name: "greet", HandlerCallable: "Greeter::Hello"},
		Task: store.ClaimedTask{UUID: uuid.New(), Context: json.RawMessage(`{}`)},
	})
	res := x.Execute(context.Background(), step)
	fmt.Println(res.IsSuccess(), string(res.Value().(json.RawMessage)))
	// Output:
	// true {"greeting": "hello from ruby"}
}
