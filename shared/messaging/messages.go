package messaging

import (
	"github.com/google/uuid"
)

// StepMessage announces a step to a worker (on worker_{ns}_queue) or a
// worker's result to orchestration (on orchestration_step_results). It only
// carries identifiers: the step's inputs and results live in the database.
type StepMessage struct {
	TaskUUID      uuid.UUID `json:"task_uuid"`
	StepUUID      uuid.UUID `json:"step_uuid"`
	CorrelationID uuid.UUID `json:"correlation_id"`
	// Attempt is the attempt the message is about (results only): a late
	// result of an earlier attempt is recognised and dropped.
	Attempt int `json:"attempt,omitempty"`
}
