package messaging

import (
	"encoding/json"

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
	// Callable is the step's handler.callable (step messages only). It is
	// the message's route: a worker claims only the messages whose callable
	// it can run (see ClaimOptions.Routes), so a namespace can be served by workers
	// with different handler sets.
	Callable string `json:"callable,omitempty"`
}

// ParseResultMessage reads a result message of orchestration_step_results:
// ok is false when the payload is not JSON or names no task or no step
// (such a message can never be processed and should be deleted).
func ParseResultMessage(payload []byte) (m StepMessage, ok bool) {
	if err := json.Unmarshal(payload, &m); err != nil {
		return StepMessage{}, false
	}
	return m, m.TaskUUID != uuid.Nil && m.StepUUID != uuid.Nil
}
