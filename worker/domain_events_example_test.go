package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/workertest"
)

// paymentProcessed is the payload of the payment.processed event.
type paymentProcessed struct {
	TransactionID string  `json:"transaction_id"`
	Amount        float64 `json:"amount"`
	PaymentMethod string  `json:"payment_method"`
}

// processPayment publishes a domain event through its step context. The
// event is published when orchestration commits the step's result.
func processPayment(_ context.Context, step *worker.Step[Order]) (Charge, error) {
	charge := Charge{ChargeID: "txn_" + step.Input.ID, Amount: step.Input.Amount}
	err := step.PublishEvent("payment.processed", paymentProcessed{
		TransactionID: charge.ChargeID, Amount: float64(charge.Amount) / 100, PaymentMethod: "card",
	})
	return charge, err
}

// A handler publishes the events its step declares in publishes_events;
// the payload is checked against the declared schema when it is published.
func ExampleStepContext_PublishEvent() {
	decl := template.PublishedEvent{
		Name: "payment.processed", Condition: template.ConditionSuccess, DeliveryMode: template.DeliveryDurable,
		Schema: json.RawMessage(`{"type": "object", "required": ["transaction_id", "amount"],
			"properties": {"amount": {"type": "number", "minimum": 0}}}`),
	}
	sc := workertest.NewStep("process_payment").WithEvents(decl).WithContext(Order{ID: "o-1", Amount: 2500}).Build()
	step, _ := worker.NewStep[Order](sc)
	_, err := processPayment(context.Background(), step)
	fmt.Println(err)
	for _, e := range sc.PublishedEvents() {
		fmt.Println(e.Name, e.DeliveryMode, e.Condition, string(e.Payload))
	}

	// A payload that does not match the schema is refused, naming the
	// event and the JSON pointer of each problem.
	err = sc.PublishEvent("payment.processed", map[string]any{"amount": -1})
	fmt.Println(err)
	fmt.Println(errors.Is(err, worker.ErrInvalidEventPayload))
	// An event the step does not declare is refused too.
	fmt.Println(errors.Is(sc.PublishEvent("payment.refunded", nil), worker.ErrUndeclaredEvent))
	// Output:
	// <nil>
	// payment.processed durable success {"transaction_id":"txn_o-1","amount":25,"payment_method":"card"}
	// publishing "payment.processed": invalid event payload: /amount: must be >= 0; /transaction_id: is required
	// true
	// true
}
