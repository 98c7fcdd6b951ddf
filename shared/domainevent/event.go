package domainevent

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/messaging"
)

// Version is the envelope version written in every event.
const Version = "1.0"

// Event is the envelope of one published domain event: what durable
// consumers read from the queue and fast subscribers receive.
type Event struct {
	EventID      uuid.UUID       `json:"event_id"`
	EventName    string          `json:"event_name"`
	EventVersion string          `json:"event_version"`
	Payload      json.RawMessage `json:"payload"`
	Metadata     Metadata        `json:"metadata"`
}

// Metadata says where an event comes from.
type Metadata struct {
	TaskUUID      uuid.UUID `json:"task_uuid"`
	StepUUID      uuid.UUID `json:"step_uuid"`
	StepName      string    `json:"step_name"`
	Namespace     string    `json:"namespace"`
	CorrelationID uuid.UUID `json:"correlation_id"`
	// FiredAt is when the handler published the event, PublishedAt when
	// orchestration committed the step's result.
	FiredAt     time.Time `json:"fired_at"`
	PublishedAt time.Time `json:"published_at"`
	// FiredBy is the declaration's publisher, else the handler callable.
	FiredBy string `json:"fired_by,omitempty"`
	// Condition and DeliveryMode are the declaration's.
	Condition    string `json:"condition"`
	DeliveryMode string `json:"delivery_mode"`
	// Attempt is the step attempt whose result published the event.
	Attempt int `json:"attempt,omitempty"`
	// StepSucceeded is the outcome of the step's committed result.
	StepSucceeded bool `json:"step_succeeded"`
}

// Durable reports whether the event goes to the namespace's queue
// (delivery mode durable or broadcast).
func (e Event) Durable() bool {
	return e.Metadata.DeliveryMode == "durable" || e.Metadata.DeliveryMode == "broadcast"
}

// Fast reports whether the event goes to in-process subscribers (delivery
// mode fast or broadcast).
func (e Event) Fast() bool {
	return e.Metadata.DeliveryMode == "fast" || e.Metadata.DeliveryMode == "broadcast"
}

// ErrMalformed is returned by Parse for a message that is not an event.
var ErrMalformed = errors.New("malformed domain event")

// Parse reads an event from a queue message.
func Parse(raw []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if e.EventID == uuid.Nil || e.EventName == "" {
		return Event{}, fmt.Errorf("%w: event_id and event_name are required", ErrMalformed)
	}
	return e, nil
}

// QueueName is the durable queue of a namespace's events:
// "{namespace}_domain_events".
func QueueName(namespace string) string { return namespace + "_domain_events" }

// DeadLetterQueueName is where the durable consumer moves events that kept
// failing: "{namespace}_domain_events_dlq".
func DeadLetterQueueName(namespace string) string { return namespace + "_domain_events_dlq" }

// ValidateNamespace checks that a namespace's event queues have valid names.
func ValidateNamespace(namespace string) error {
	return messaging.ValidateQueueName(DeadLetterQueueName(namespace))
}
