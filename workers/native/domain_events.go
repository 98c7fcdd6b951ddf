package native

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"time"

	"github.com/tasker-go/tasker/worker"
)

// The domain-event workflow (tasker-core's domain_event_publishing):
// validate_order → process_payment → update_inventory → send_notification.
// Each handler publishes the events its step declares through its step
// context (order.validated, payment.processed or payment.failed,
// inventory.updated, notification.sent); orchestration publishes them when
// it commits the step's result, as far as their condition matches the
// outcome (docs/events.md).

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
	// PaymentDelayMs makes the payment step take this long (at most 60 s),
	// as a slow payment provider would: demos and crash tests use it to
	// catch the step in flight. Not part of tasker-core's input schema,
	// which allows extra properties.
	PaymentDelayMs int `json:"payment_delay_ms"`
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
	return out, step.PublishEvent("order.validated", map[string]any{
		"order_id": out.OrderID, "validation_timestamp": out.ValidationTimestamp, "validation_checks": out.ValidationChecks,
	})
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
func deProcessPayment(ctx context.Context, step *worker.Step[domainOrderContext]) (paymentProcessed, error) {
	v, err := worker.Dependency[orderValidated](step, stepDEValidateOrder)
	if err != nil {
		return paymentProcessed{}, err
	}
	if d := min(step.Input.PaymentDelayMs, 60_000); d > 0 {
		t := time.NewTimer(time.Duration(d) * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return paymentProcessed{}, ctx.Err()
		case <-t.C:
		}
	}
	if step.Input.SimulateFailure {
		msg := "simulated payment failure for order " + v.OrderID
		if err := step.PublishEvent("payment.failed", map[string]any{
			"order_id": v.OrderID, "error_code": "PAYMENT_DECLINED", "error_message": msg, "failed_at": now(),
		}); err != nil {
			return paymentProcessed{}, err
		}
		return paymentProcessed{}, &worker.Error{Err: errors.New(msg),
			Type: "PaymentError", Code: "PAYMENT_DECLINED", Permanent: true}
	}
	cfg, err := worker.Config[domainEventsConfig](step)
	if err != nil {
		return paymentProcessed{}, err
	}
	out := paymentProcessed{TransactionID: derivedID(step, "TXN-", 16), OrderID: v.OrderID,
		Amount: v.Amount, PaymentMethod: "credit_card", Provider: cmp.Or(cfg.PaymentProvider, "mock"), ProcessedAt: now()}
	return out, step.PublishEvent("payment.processed", map[string]any{
		"transaction_id": out.TransactionID, "amount": out.Amount, "payment_method": out.PaymentMethod,
		"processed_at": out.ProcessedAt,
	})
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
	out := inventoryUpdated{OrderID: p.OrderID, Success: true, Source: cmp.Or(cfg.InventorySource, "mock"),
		Items: []inventoryItem{{SKU: "SKU-" + derivedDigits(step, "sku", 6), Quantity: 1}}}
	return out, step.PublishEvent("inventory.updated", map[string]any{
		"order_id": out.OrderID, "items": out.Items, "success": out.Success,
	})
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
	out := notificationSent{NotificationID: derivedID(step, "notif_", 16), OrderID: inv.OrderID,
		Channel: channel, Recipient: step.Input.CustomerID, SentAt: now()}
	return out, step.PublishEvent("notification.sent", map[string]any{
		"notification_id": out.NotificationID, "channel": out.Channel, "recipient": out.Recipient, "sent_at": out.SentAt,
	})
}

func registerDomainEvents(r *worker.Registry) error {
	return errors.Join(
		worker.Register(r, "domain_events::validate_order::ValidateOrderHandler", worker.Func(deValidateOrder)),
		worker.Register(r, "domain_events::process_payment::ProcessPaymentHandler", worker.Func(deProcessPayment)),
		worker.Register(r, "domain_events::update_inventory::UpdateInventoryHandler", worker.Func(deUpdateInventory)),
		worker.Register(r, "domain_events::send_notification::SendNotificationHandler", worker.Func(deSendNotification)),
	)
}
