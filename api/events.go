package api

import (
	"time"

	"github.com/google/uuid"
)

// TaskEvent is the data of a "task" or "step" event of GET
// /v1/tasks/{uuid}/events (Server-Sent Events): one committed transition of
// the task or of one of its steps.
type TaskEvent struct {
	// ID orders the events of one kind.
	ID int64 `json:"id"`
	// Kind is "task" or "step".
	Kind     string     `json:"kind"`
	TaskUUID uuid.UUID  `json:"task_uuid"`
	StepUUID *uuid.UUID `json:"step_uuid,omitempty"`
	StepName string     `json:"step_name,omitempty"`
	// FromState is null for the first transition.
	FromState *string   `json:"from_state"`
	ToState   string    `json:"to_state"`
	Event     string    `json:"event"`
	At        time.Time `json:"at"`
}

// TaskEndEvent is the data of the final "end" event: the task reached a
// terminal state.
type TaskEndEvent struct {
	TaskUUID uuid.UUID `json:"task_uuid"`
	Status   string    `json:"status"`
}
