package api

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Step actions (StepActionRequest.ActionType).
const (
	ActionResetForRetry    = "reset_for_retry"
	ActionResolveManually  = "resolve_manually"
	ActionCompleteManually = "complete_manually"
)

// StepActionRequest is the body of PATCH
// /v1/tasks/{uuid}/workflow_steps/{step_uuid}: ActionType selects the
// action and which of the other fields apply; a field of another action is
// refused.
type StepActionRequest struct {
	ActionType     string          `json:"action_type" enum:"reset_for_retry,resolve_manually,complete_manually"`
	Reason         string          `json:"reason" doc:"Why the operator acts (all actions)"`
	ResetBy        string          `json:"reset_by,omitempty" doc:"Who resets the step (reset_for_retry)"`
	ResolvedBy     string          `json:"resolved_by,omitempty" doc:"Who resolves the step (resolve_manually)"`
	CompletedBy    string          `json:"completed_by,omitempty" doc:"Who completes the step (complete_manually)"`
	CompletionData *CompletionData `json:"completion_data,omitempty" doc:"The step's result (complete_manually)"`
}

// CompletionData is the result an operator supplies for complete_manually.
type CompletionData struct {
	Result   json.RawMessage `json:"result" doc:"The step's result value, as a handler would return it"`
	Metadata json.RawMessage `json:"metadata,omitempty" doc:"An object, stored as the result's custom metadata"`
}

// AuditEntry is one result a worker reported for a step (GET
// /v1/tasks/{uuid}/workflow_steps/{step_uuid}/audit).
type AuditEntry struct {
	AuditUUID uuid.UUID `json:"audit_uuid"`
	StepUUID  uuid.UUID `json:"workflow_step_uuid"`
	// TransitionUUID is the step transition the result caused (its move
	// out of in_progress).
	TransitionUUID  uuid.UUID       `json:"transition_uuid"`
	TaskUUID        uuid.UUID       `json:"task_uuid"`
	StepName        string          `json:"step_name"`
	Attempt         int             `json:"attempt"`
	WorkerID        string          `json:"worker_uuid"`
	CorrelationID   *uuid.UUID      `json:"correlation_id"`
	Success         bool            `json:"success"`
	ExecutionTimeMs *int64          `json:"execution_time_ms"`
	FromState       string          `json:"from_state"`
	ToState         string          `json:"to_state"`
	Result          json.RawMessage `json:"result"`
	RecordedAt      time.Time       `json:"recorded_at"`
}

// FailureMessage returns the error message of the reported result when the
// handler failed, or "".
func (a *AuditEntry) FailureMessage() string { return failureMessage(a.Result) }
