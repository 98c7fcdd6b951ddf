package stepresult

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// DomainEvent is a domain event a handler published during the run that
// produced a result. It travels inside the result (the "domain_events" list)
// and is published only when orchestration commits that result; a result
// that is never committed publishes nothing.
//
// Condition and DeliveryMode are copied from the step's publishes_events
// declaration by the worker, so orchestration needs no template to route
// the event.
type DomainEvent struct {
	// EventID is unique per publication (a UUIDv7); redelivering the result
	// never publishes the event twice.
	EventID uuid.UUID `json:"event_id"`
	// Name is the declared event name, e.g. "payment.processed".
	Name string `json:"event_name"`
	// Payload is the business payload (any JSON value).
	Payload json.RawMessage `json:"payload"`
	// Condition is the declaration's condition (success, failure,
	// retryable_failure, permanent_failure, always).
	Condition string `json:"condition"`
	// DeliveryMode is durable, fast or broadcast.
	DeliveryMode string `json:"delivery_mode"`
	// FiredAt is when the handler published the event.
	FiredAt time.Time `json:"fired_at"`
	// FiredBy names the publisher: the declaration's publisher, else the
	// step's handler callable.
	FiredBy string `json:"fired_by,omitempty"`
}

// Event conditions, as templates declare them.
const (
	ConditionSuccess          = "success"
	ConditionFailure          = "failure"
	ConditionRetryableFailure = "retryable_failure"
	ConditionPermanentFailure = "permanent_failure"
	ConditionAlways           = "always"
)

// Delivery modes, as templates declare them.
const (
	DeliveryDurable   = "durable"
	DeliveryFast      = "fast"
	DeliveryBroadcast = "broadcast"
)

// Publishes reports whether an event with condition is published for a
// result whose success is succeeded and whose step orchestration retries
// (retrying) or not.
func Publishes(condition string, succeeded, retrying bool) bool {
	switch condition {
	case ConditionAlways:
		return true
	case ConditionSuccess, "":
		return succeeded
	case ConditionFailure:
		return !succeeded
	case ConditionRetryableFailure:
		return !succeeded && retrying
	case ConditionPermanentFailure:
		return !succeeded && !retrying
	}
	return false
}
