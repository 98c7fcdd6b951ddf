package native

import (
	"context"
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

func deValidateOrder(_ context.Context, step *worker.StepContext) worker.Result {
	var in domainOrderContext
	if err := step.DecodeContext(&in); err != nil {
		return invalid("%s", err)
	}
	switch {
	case strings.TrimSpace(in.OrderID) == "":
		return invalid("order_id is required")
	case strings.TrimSpace(in.CustomerID) == "":
		return invalid("customer_id is required")
	case in.Amount != nil && *in.Amount < 0:
		return invalid("amount must not be negative, got %v", *in.Amount)
	}
	mode, _ := step.Config("validation_mode")
	modeName, _ := mode.(string)
	if modeName == "" {
		modeName = "standard"
	}
	out := orderValidated{OrderID: in.OrderID, CustomerID: in.CustomerID, ValidationTimestamp: now(),
		ValidationChecks: []string{"order_id_present", "customer_id_present", "amount_non_negative"},
		ValidationMode:   modeName}
	if in.Amount != nil {
		out.Amount = units(cents(*in.Amount))
	}
	return worker.Success(out, nil)
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
func deProcessPayment(_ context.Context, step *worker.StepContext) worker.Result {
	var in domainOrderContext
	if err := step.DecodeContext(&in); err != nil {
		return invalid("%s", err)
	}
	var v orderValidated
	if err := step.DecodeDependency(stepDEValidateOrder, &v); err != nil {
		return brokenDependency(err)
	}
	if in.SimulateFailure {
		return worker.Failure("simulated payment failure for order "+v.OrderID, "PaymentError", false).
			WithErrorCode("PAYMENT_DECLINED")
	}
	provider, _ := step.Config("payment_provider")
	name, _ := provider.(string)
	if name == "" {
		name = "mock"
	}
	return worker.Success(paymentProcessed{TransactionID: derivedID(step, "TXN-", 16), OrderID: v.OrderID,
		Amount: v.Amount, PaymentMethod: "credit_card", Provider: name, ProcessedAt: now()}, nil)
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

func deUpdateInventory(_ context.Context, step *worker.StepContext) worker.Result {
	var p paymentProcessed
	if err := step.DecodeDependency(stepDEProcessPayment, &p); err != nil {
		return brokenDependency(err)
	}
	src, _ := step.Config("inventory_source")
	name, _ := src.(string)
	if name == "" {
		name = "mock"
	}
	return worker.Success(inventoryUpdated{OrderID: p.OrderID, Success: true, Source: name,
		Items: []inventoryItem{{SKU: "SKU-" + derivedDigits(step, "sku", 6), Quantity: 1}}}, nil)
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

func deSendNotification(_ context.Context, step *worker.StepContext) worker.Result {
	var inv inventoryUpdated
	if err := step.DecodeDependency(stepDEUpdateInventory, &inv); err != nil {
		return brokenDependency(err)
	}
	var in domainOrderContext
	if err := step.DecodeContext(&in); err != nil {
		return invalid("%s", err)
	}
	ch, _ := step.Config("notification_type")
	channel, _ := ch.(string)
	switch channel {
	case "":
		channel = "email"
	case "email", "sms", "push":
	default:
		return invalid("notification_type %q is not one of email, sms, push", channel)
	}
	return worker.Success(notificationSent{NotificationID: derivedID(step, "notif_", 16), OrderID: inv.OrderID,
		Channel: channel, Recipient: in.CustomerID, SentAt: now()}, nil)
}

func domainEventHandlers() map[string]worker.Handler {
	return map[string]worker.Handler{
		"domain_events::validate_order::ValidateOrderHandler":       worker.HandlerFunc(deValidateOrder),
		"domain_events::process_payment::ProcessPaymentHandler":     worker.HandlerFunc(deProcessPayment),
		"domain_events::update_inventory::UpdateInventoryHandler":   worker.HandlerFunc(deUpdateInventory),
		"domain_events::send_notification::SendNotificationHandler": worker.HandlerFunc(deSendNotification),
	}
}
