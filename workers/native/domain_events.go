package native

import (
	"cmp"
	"context"
	"errors"
	"strings"

	"github.com/tasker-go/tasker/worker"
)

// The domain-event workflow (tasker-core's domain_event_publishing):
// validate_order → process_payment → update_inventory → send_notification.
// Each step's template declares the events it publishes (tasker-core's
// worker publishes them from the committed result; this engine validates
// and stores the declarations but publishes nothing yet), so these handlers
// only return results shaped like the declared event schemas.

const (
	stepDEValidateOrder   = "domain_events_validate_order"
	stepDEProcessPayment  = "domain_events_process_payment"
	stepDEUpdateInventory = "domain_events_update_inventory"
)

type domainOrderContext struct {
	OrderID         string   `json:"order_id"`
	CustomerID      string   `json:"customer_id"`
	Amount          *float64 `json:"amount"`
	SimulateFailure bool     `json:"simulate_failure"`
}

// orderValidated is the result of domain_events_validate_order (event
// order.validated).
type orderValidated struct {
	OrderID             string   `json:"order_id"`
	CustomerID          string   `json:"customer_id"`
	Amount              float64  `json:"amount"`
	ValidationTimestamp string   `json:"validation_timestamp"`
	ValidationChecks    []string `json:"validation_checks"`
	ValidationMode      string   `json:"validation_mode"`
}

// domainEventsConfig is the step configuration the domain-event handlers
// read (each reads its own key).
type domainEventsConfig struct {
	ValidationMode   string `json:"validation_mode"`
	PaymentProvider  string `json:"payment_provider"`
	InventorySource  string `json:"inventory_source"`
	NotificationType string `json:"notification_type"`
}

func deValidateOrder(_ context.Context, step *worker.Step[domainOrderContext]) (orderValidated, error) {
	in := step.Input
	switch {
	case strings.TrimSpace(in.OrderID) == "":
		return orderValidated{}, invalid("order_id is required")
	case strings.TrimSpace(in.CustomerID) == "":
		return orderValidated{}, invalid("customer_id is required")
	case in.Amount != nil && *in.Amount < 0:
		return orderValidated{}, invalid("amount must not be negative, got %v", *in.Amount)
	}
	cfg, err := worker.Config[domainEventsConfig](step)
	if err != nil {
		return orderValidated{}, err
	}
	modeName := cmp.Or(cfg.ValidationMode, "standard")
	out := orderValidated{OrderID: in.OrderID, CustomerID: in.CustomerID, ValidationTimestamp: now(),
		ValidationChecks: []string{"order_id_present", "customer_id_present", "amount_non_negative"},
		ValidationMode:   modeName}
	if in.Amount != nil {
		out.Amount = units(cents(*in.Amount))
	}
	return out, nil
}

// paymentProcessed is the result of domain_events_process_payment (event
// payment.processed; a failure publishes payment.failed).
type paymentProcessed struct {
	TransactionID string  `json:"transaction_id"`
	OrderID       string  `json:"order_id"`
	Amount        float64 `json:"amount"`
	PaymentMethod string  `json:"payment_method"`
	Provider      string  `json:"provider"`
	ProcessedAt   string  `json:"processed_at"`
}

// deProcessPayment charges the validated amount; simulate_failure in the
// task context makes it fail permanently (error code PAYMENT_DECLINED), to
// exercise the failure event.
func deProcessPayment(_ context.Context, step *worker.Step[domainOrderContext]) (paymentProcessed, error) {
	v, err := worker.Dependency[orderValidated](step, stepDEValidateOrder)
	if err != nil {
		return paymentProcessed{}, err
	}
	if step.Input.SimulateFailure {
		return paymentProcessed{}, &worker.Error{Err: errors.New("simulated payment failure for order " + v.OrderID),
			Type: "PaymentError", Code: "PAYMENT_DECLINED", Permanent: true}
	}
	cfg, err := worker.Config[domainEventsConfig](step)
	if err != nil {
		return paymentProcessed{}, err
	}
	return paymentProcessed{TransactionID: derivedID(step, "TXN-", 16), OrderID: v.OrderID,
		Amount: v.Amount, PaymentMethod: "credit_card", Provider: cmp.Or(cfg.PaymentProvider, "mock"), ProcessedAt: now()}, nil
}

// inventoryUpdated is the result of domain_events_update_inventory (event
// inventory.updated).
type inventoryUpdated struct {
	OrderID string          `json:"order_id"`
	Items   []inventoryItem `json:"items"`
	Success bool            `json:"success"`
	Source  string          `json:"inventory_source"`
}

type inventoryItem struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

func deUpdateInventory(_ context.Context, step *worker.Step[struct{}]) (inventoryUpdated, error) {
	p, err := worker.Dependency[paymentProcessed](step, stepDEProcessPayment)
	if err != nil {
		return inventoryUpdated{}, err
	}
	cfg, err := worker.Config[domainEventsConfig](step)
	if err != nil {
		return inventoryUpdated{}, err
	}
	return inventoryUpdated{OrderID: p.OrderID, Success: true, Source: cmp.Or(cfg.InventorySource, "mock"),
		Items: []inventoryItem{{SKU: "SKU-" + derivedDigits(step, "sku", 6), Quantity: 1}}}, nil
}

// notificationSent is the result of domain_events_send_notification (event
// notification.sent).
type notificationSent struct {
	NotificationID string `json:"notification_id"`
	OrderID        string `json:"order_id"`
	Channel        string `json:"channel"`
	Recipient      string `json:"recipient"`
	SentAt         string `json:"sent_at"`
}

func deSendNotification(_ context.Context, step *worker.Step[domainOrderContext]) (notificationSent, error) {
	inv, err := worker.Dependency[inventoryUpdated](step, stepDEUpdateInventory)
	if err != nil {
		return notificationSent{}, err
	}
	cfg, err := worker.Config[domainEventsConfig](step)
	if err != nil {
		return notificationSent{}, err
	}
	channel := cmp.Or(cfg.NotificationType, "email")
	switch channel {
	case "email", "sms", "push":
	default:
		return notificationSent{}, invalid("notification_type %q is not one of email, sms, push", channel)
	}
	return notificationSent{NotificationID: derivedID(step, "notif_", 16), OrderID: inv.OrderID,
		Channel: channel, Recipient: step.Input.CustomerID, SentAt: now()}, nil
}

func registerDomainEvents(r *worker.Registry) error {
	return errors.Join(
		worker.Register(r, "domain_events::validate_order::ValidateOrderHandler", worker.Func(deValidateOrder)),
		worker.Register(r, "domain_events::process_payment::ProcessPaymentHandler", worker.Func(deProcessPayment)),
		worker.Register(r, "domain_events::update_inventory::UpdateInventoryHandler", worker.Func(deUpdateInventory)),
		worker.Register(r, "domain_events::send_notification::SendNotificationHandler", worker.Func(deSendNotification)),
	)
}
