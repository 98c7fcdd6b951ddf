package api

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// TaskRequest asks for a task (POST /v1/tasks): which template, and its
// context. Field names are tasker-core's, so existing clients work
// unchanged. Unknown fields are refused.
type TaskRequest struct {
	Name                string          `json:"name"`
	Namespace           string          `json:"namespace"`
	Version             string          `json:"version,omitempty"`
	Context             json.RawMessage `json:"context,omitempty"`
	Initiator           string          `json:"initiator,omitempty"`
	SourceSystem        string          `json:"source_system,omitempty"`
	Reason              string          `json:"reason,omitempty"`
	Tags                []string        `json:"tags,omitempty"`
	RequestedAt         *time.Time      `json:"requested_at,omitempty"`
	Options             json.RawMessage `json:"options,omitempty"`
	Priority            *int            `json:"priority,omitempty"`
	CorrelationID       *uuid.UUID      `json:"correlation_id,omitempty"`
	ParentCorrelationID *uuid.UUID      `json:"parent_correlation_id,omitempty"`
	IdempotencyKey      string          `json:"idempotency_key,omitempty"`
}

// TaskResponse is a task as the API shows it: the task, its execution
// context (step counts, execution_status, recommended_action,
// completion_percentage, health_status) and its steps with their readiness
// (empty in list responses).
type TaskResponse struct {
	TaskUUID            uuid.UUID       `json:"task_uuid"`
	NamedTaskUUID       uuid.UUID       `json:"named_task_uuid"`
	Namespace           string          `json:"namespace"`
	Name                string          `json:"name"`
	Version             string          `json:"version"`
	Status              string          `json:"status"`
	Complete            bool            `json:"complete"`
	RequestedAt         time.Time       `json:"requested_at"`
	CompletedAt         *time.Time      `json:"completed_at"`
	Initiator           string          `json:"initiator"`
	SourceSystem        string          `json:"source_system"`
	Reason              string          `json:"reason"`
	Tags                []string        `json:"tags"`
	Context             json.RawMessage `json:"context"`
	Priority            int             `json:"priority"`
	CorrelationID       uuid.UUID       `json:"correlation_id"`
	ParentCorrelationID *uuid.UUID      `json:"parent_correlation_id"`
	StateChangedAt      time.Time       `json:"state_changed_at"`
	CreatedAt           time.Time       `json:"created_at"`
	UpdatedAt           time.Time       `json:"updated_at"`

	TotalSteps      int `json:"total_steps"`
	PendingSteps    int `json:"pending_steps"`
	EnqueuedSteps   int `json:"enqueued_steps"`
	InProgressSteps int `json:"in_progress_steps"`
	// EnqueuedForOrchestrationSteps and
	// EnqueuedAsErrorForOrchestrationSteps count steps whose results wait
	// for the orchestrator.
	EnqueuedForOrchestrationSteps        int `json:"enqueued_for_orchestration_steps"`
	EnqueuedAsErrorForOrchestrationSteps int `json:"enqueued_as_error_for_orchestration_steps"`
	WaitingForRetrySteps                 int `json:"waiting_for_retry_steps"`
	CompletedSteps                       int `json:"completed_steps"`
	FailedSteps                          int `json:"failed_steps"`
	CancelledSteps                       int `json:"cancelled_steps"`
	// ReadySteps counts steps that can be enqueued now.
	ReadySteps int `json:"ready_steps"`

	ExecutionStatus      string         `json:"execution_status" doc:"blocked_by_failures, has_ready_steps, processing, all_complete or waiting_for_dependencies"`
	RecommendedAction    string         `json:"recommended_action" doc:"handle_failures, execute_ready_steps, wait_for_completion, finalize_task or wait_for_dependencies"`
	CompletionPercentage float64        `json:"completion_percentage"`
	HealthStatus         string         `json:"health_status" doc:"healthy, recovering or blocked"`
	Steps                []StepResponse `json:"steps"`
}

// Terminal reports whether the task's status is final.
func (t *TaskResponse) Terminal() bool { return TerminalStatus(t.Status) }

// TerminalStatus reports whether a task status is final: complete, error,
// cancelled or resolved_manually.
func TerminalStatus(status string) bool {
	switch status {
	case "complete", "error", "cancelled", "resolved_manually":
		return true
	}
	return false
}

// StepResponse is a step with its readiness facts: the union of
// tasker-core's StepResponse (GET /v1/tasks/{uuid}/workflow_steps) and of
// its StepReadinessStatus (the items of TaskResponse.Steps), plus the names
// of the steps it depends on. The retry timestamps are NaiveTime because
// tasker-core's readiness rows carry them without a time zone.
type StepResponse struct {
	StepUUID              uuid.UUID       `json:"step_uuid"`
	WorkflowStepUUID      uuid.UUID       `json:"workflow_step_uuid" doc:"Same as step_uuid (tasker-core's readiness field name)"`
	NamedStepUUID         uuid.UUID       `json:"named_step_uuid"`
	TaskUUID              uuid.UUID       `json:"task_uuid"`
	Name                  string          `json:"name"`
	StepType              string          `json:"step_type"`
	CurrentState          string          `json:"current_state"`
	DependenciesSatisfied bool            `json:"dependencies_satisfied"`
	RetryEligible         bool            `json:"retry_eligible"`
	ReadyForExecution     bool            `json:"ready_for_execution"`
	TotalParents          int             `json:"total_parents"`
	CompletedParents      int             `json:"completed_parents"`
	Dependencies          []string        `json:"dependencies" doc:"Names of the steps this step depends on"`
	Attempts              int             `json:"attempts"`
	MaxAttempts           int             `json:"max_attempts"`
	Retryable             bool            `json:"retryable"`
	BackoffRequestSeconds *int            `json:"backoff_request_seconds" doc:"Retry delay the handler asked for, if any"`
	LastFailureAt         *NaiveTime      `json:"last_failure_at"`
	NextRetryAt           *NaiveTime      `json:"next_retry_at"`
	LastAttemptedAt       *NaiveTime      `json:"last_attempted_at"`
	CreatedAt             time.Time       `json:"created_at"`
	UpdatedAt             time.Time       `json:"updated_at"`
	CompletedAt           *time.Time      `json:"completed_at"`
	Results               json.RawMessage `json:"results" doc:"The stored step execution result (null until the step reports)"`
}

// Result returns the value the step's handler returned (the "result" field
// of its stored execution result), or nil.
func (s *StepResponse) Result() json.RawMessage {
	var r struct {
		Result json.RawMessage `json:"result"`
	}
	if len(s.Results) == 0 || json.Unmarshal(s.Results, &r) != nil {
		return nil
	}
	return r.Result
}

// FailureMessage returns the error message of the step's stored result
// when its handler failed, or "".
func (s *StepResponse) FailureMessage() string { return failureMessage(s.Results) }

// failureMessage reads error.message of a stored step execution result.
func failureMessage(raw json.RawMessage) string {
	var r struct {
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &r) != nil || r.Error == nil {
		return ""
	}
	return r.Error.Message
}

// Pagination describes one page of a list. A page is asked for by number
// (page, per_page) or by cursor (cursor, per_page): next_cursor and
// previous_cursor read the pages after and before this one at the same
// cost however deep the list goes.
type Pagination struct {
	Page        int  `json:"page" doc:"The page number; 0 for a page read by cursor"`
	PerPage     int  `json:"per_page"`
	TotalCount  int  `json:"total_count" doc:"Matching tasks; with count=capped at most 10000 (see total_count_capped)"`
	TotalPages  int  `json:"total_pages"`
	HasNext     bool `json:"has_next"`
	HasPrevious bool `json:"has_previous"`
	// TotalCountCapped is true when the count stopped at its cap: there
	// are more matches than total_count.
	TotalCountCapped bool `json:"total_count_capped,omitempty"`
	// NextCursor reads the next (older) page; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty" doc:"Pass as cursor to read the next (older) page"`
	// PreviousCursor reads the previous (newer) page; empty on the first.
	PreviousCursor string `json:"previous_cursor,omitempty" doc:"Pass as cursor to read the previous (newer) page"`
}

// TaskListResponse is a page of tasks (GET /v1/tasks).
type TaskListResponse struct {
	Tasks      []TaskResponse `json:"tasks"`
	Pagination Pagination     `json:"pagination"`
}
