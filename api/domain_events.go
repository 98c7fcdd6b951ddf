package api

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// DomainEvent is a published domain event as GET
// /v1/tasks/{uuid}/domain_events lists it and the task's event stream sends
// it ("event: domain_event"): the envelope durable consumers read from the
// namespace's queue, plus its sequence number within the task.
type DomainEvent struct {
	// Seq orders a task's events; pass the last one seen as ?after=.
	Seq          int64               `json:"seq"`
	EventID      uuid.UUID           `json:"event_id"`
	EventName    string              `json:"event_name"`
	EventVersion string              `json:"event_version"`
	Payload      json.RawMessage     `json:"payload"`
	Metadata     DomainEventMetadata `json:"metadata"`
}

// DomainEventMetadata says where a domain event comes from and how it was
// delivered.
type DomainEventMetadata struct {
	TaskUUID      uuid.UUID `json:"task_uuid"`
	StepUUID      uuid.UUID `json:"step_uuid"`
	StepName      string    `json:"step_name"`
	Namespace     string    `json:"namespace"`
	CorrelationID uuid.UUID `json:"correlation_id"`
	FiredAt       time.Time `json:"fired_at"`
	PublishedAt   time.Time `json:"published_at"`
	FiredBy       string    `json:"fired_by,omitempty"`
	Condition     string    `json:"condition"`
	DeliveryMode  string    `json:"delivery_mode"`
	Attempt       int       `json:"attempt,omitempty"`
	StepSucceeded bool      `json:"step_succeeded"`
}
