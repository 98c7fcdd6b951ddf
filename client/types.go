package client

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// TaskRequest asks for a task (POST /v1/tasks).
type TaskRequest struct {
	Name                string          `json:"name"`
	Namespace           string          `json:"namespace"`
	Version             string          `json:"version,omitempty"`
	Context             json.RawMessage `json:"context,omitempty"`
	Initiator           string          `json:"initiator,omitempty"`
	SourceSystem        string          `json:"source_system,omitempty"`
	Reason              string          `json:"reason,omitempty"`
	Tags                []string        `json:"tags,omitempty"`
	Priority            *int            `json:"priority,omitempty"`
	CorrelationID       *uuid.UUID      `json:"correlation_id,omitempty"`
	ParentCorrelationID *uuid.UUID      `json:"parent_correlation_id,omitempty"`
	IdempotencyKey      string          `json:"idempotency_key,omitempty"`
}

// Task is a task with its execution context (and, from GetTask, its steps).
type Task struct {
	TaskUUID            uuid.UUID       `json:"task_uuid"`
	NamedTaskUUID       uuid.UUID       `json:"named_task_uuid"`
	Namespace           string          `json:"namespace"`
	Name                string          `json:"name"`
	Version             string          `json:"version"`
	Status              string          `json:"status"`
	Complete            bool            `json:"complete"`
	RequestedAt         time.Time       `json:"requested_at"`
	CompletedAt         *time.Time      `json:"completed_at"`
	CreatedAt           time.Time       `json:"created_at"`
	UpdatedAt           time.Time       `json:"updated_at"`
	Initiator           string          `json:"initiator"`
	SourceSystem        string          `json:"source_system"`
	Reason              string          `json:"reason"`
	Tags                []string        `json:"tags"`
	Context             json.RawMessage `json:"context"`
	Priority            int             `json:"priority"`
	CorrelationID       uuid.UUID       `json:"correlation_id"`
	ParentCorrelationID *uuid.UUID      `json:"parent_correlation_id"`
	StateChangedAt      time.Time       `json:"state_changed_at"`
	TotalSteps          int             `json:"total_steps"`
	PendingSteps        int             `json:"pending_steps"`
	EnqueuedSteps       int             `json:"enqueued_steps"`
	InProgressSteps     int             `json:"in_progress_steps"`
	// EnqueuedForOrchestrationSteps and
	// EnqueuedAsErrorForOrchestrationSteps count steps whose results wait
	// for the orchestrator.
	EnqueuedForOrchestrationSteps        int     `json:"enqueued_for_orchestration_steps"`
	EnqueuedAsErrorForOrchestrationSteps int     `json:"enqueued_as_error_for_orchestration_steps"`
	WaitingForRetrySteps                 int     `json:"waiting_for_retry_steps"`
	CompletedSteps                       int     `json:"completed_steps"`
	FailedSteps                          int     `json:"failed_steps"`
	CancelledSteps                       int     `json:"cancelled_steps"`
	ReadySteps                           int     `json:"ready_steps"`
	ExecutionStatus                      string  `json:"execution_status"`
	RecommendedAction                    string  `json:"recommended_action"`
	CompletionPercentage                 float64 `json:"completion_percentage"`
	HealthStatus                         string  `json:"health_status"`
	Steps                                []Step  `json:"steps"`
}

// Terminal reports whether the task's status is final.
func (t *Task) Terminal() bool { return TerminalStatus(t.Status) }

// TerminalStatus reports whether a task status is final.
func TerminalStatus(s string) bool {
	switch s {
	case "complete", "error", "cancelled", "resolved_manually":
		return true
	}
	return false
}

// Step is a workflow step with its readiness facts.
type Step struct {
	StepUUID              uuid.UUID       `json:"step_uuid"`
	TaskUUID              uuid.UUID       `json:"task_uuid"`
	Name                  string          `json:"name"`
	StepType              string          `json:"step_type"`
	CurrentState          string          `json:"current_state"`
	DependenciesSatisfied bool            `json:"dependencies_satisfied"`
	RetryEligible         bool            `json:"retry_eligible"`
	ReadyForExecution     bool            `json:"ready_for_execution"`
	TotalParents          int             `json:"total_parents"`
	CompletedParents      int             `json:"completed_parents"`
	Dependencies          []string        `json:"dependencies"`
	Attempts              int             `json:"attempts"`
	MaxAttempts           int             `json:"max_attempts"`
	Retryable             bool            `json:"retryable"`
	LastFailureAt         *time.Time      `json:"last_failure_at"`
	NextRetryAt           *time.Time      `json:"next_retry_at"`
	LastAttemptedAt       *time.Time      `json:"last_attempted_at"`
	CreatedAt             time.Time       `json:"created_at"`
	UpdatedAt             time.Time       `json:"updated_at"`
	CompletedAt           *time.Time      `json:"completed_at"`
	Results               json.RawMessage `json:"results"`
}

// Result returns the value the step's handler returned (the "result" field
// of its stored execution result), or nil.
func (s *Step) Result() json.RawMessage {
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
func (s *Step) FailureMessage() string { return failureMessage(s.Results) }

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

// Pagination describes one page of a list.
type Pagination struct {
	Page        int  `json:"page"`
	PerPage     int  `json:"per_page"`
	TotalCount  int  `json:"total_count"`
	TotalPages  int  `json:"total_pages"`
	HasNext     bool `json:"has_next"`
	HasPrevious bool `json:"has_previous"`
}

// TaskList is a page of tasks.
type TaskList struct {
	Tasks      []Task     `json:"tasks"`
	Pagination Pagination `json:"pagination"`
}

// AuditEntry is one result a worker reported for a step.
type AuditEntry struct {
	AuditUUID       uuid.UUID       `json:"audit_uuid"`
	StepUUID        uuid.UUID       `json:"workflow_step_uuid"`
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

// TemplateList lists namespaces and templates.
type TemplateList struct {
	Namespaces []struct {
		Name          string `json:"name"`
		Description   string `json:"description"`
		TemplateCount int    `json:"template_count"`
	} `json:"namespaces"`
	Templates  []TemplateSummary `json:"templates"`
	TotalCount int               `json:"total_count"`
}

// TemplateSummary is one registered template.
type TemplateSummary struct {
	Name        string `json:"name"`
	Namespace   string `json:"namespace"`
	Version     string `json:"version"`
	Description string `json:"description"`
	StepCount   int    `json:"step_count"`
}

// Template is one registered template with its configuration.
type Template struct {
	Name          string          `json:"name"`
	Namespace     string          `json:"namespace"`
	Version       string          `json:"version"`
	Description   string          `json:"description"`
	Configuration json.RawMessage `json:"configuration"`
	Steps         json.RawMessage `json:"steps"`
}

// DLQEntry is an investigation record.
type DLQEntry struct {
	DLQEntryUUID        uuid.UUID       `json:"dlq_entry_uuid"`
	TaskUUID            uuid.UUID       `json:"task_uuid"`
	OriginalState       string          `json:"original_state"`
	DLQReason           string          `json:"dlq_reason"`
	DLQTimestamp        time.Time       `json:"dlq_timestamp"`
	ResolutionStatus    string          `json:"resolution_status"`
	ResolutionTimestamp *time.Time      `json:"resolution_timestamp"`
	ResolutionNotes     *string         `json:"resolution_notes"`
	ResolvedBy          *string         `json:"resolved_by"`
	TaskSnapshot        json.RawMessage `json:"task_snapshot"`
	Metadata            json.RawMessage `json:"metadata"`
	CreatedAt           time.Time       `json:"created_at"`
	UpdatedAt           time.Time       `json:"updated_at"`
}

// DLQStat summarises the DLQ entries of one reason (one element of the
// array DLQStats returns).
type DLQStat struct {
	Reason            string     `json:"dlq_reason"`
	Total             int        `json:"total_entries"`
	Pending           int        `json:"pending"`
	ManuallyResolved  int        `json:"manually_resolved"`
	PermanentFailures int        `json:"permanent_failures"`
	Cancelled         int        `json:"cancelled"`
	Oldest            *time.Time `json:"oldest_entry"`
	Newest            *time.Time `json:"newest_entry"`
	// AvgResolutionMinutes is nil while no entry of the reason is resolved.
	AvgResolutionMinutes *float64 `json:"avg_resolution_time_minutes"`
}

// DLQUpdateResult is the server's answer to UpdateDLQ.
type DLQUpdateResult struct {
	Success      bool      `json:"success"`
	Message      string    `json:"message"`
	DLQEntryUUID uuid.UUID `json:"dlq_entry_uuid"`
}

// DLQUpdate changes an investigation record; nil fields are left alone.
type DLQUpdate struct {
	ResolutionStatus *string         `json:"resolution_status,omitempty"`
	ResolutionNotes  *string         `json:"resolution_notes,omitempty"`
	ResolvedBy       *string         `json:"resolved_by,omitempty"`
	Metadata         json.RawMessage `json:"metadata,omitempty"`
}

// Event is one committed task or step transition from the event stream.
type Event struct {
	// Kind is "task", "step" or "end" (the task reached a terminal state).
	Kind      string     `json:"kind"`
	ID        int64      `json:"id"`
	TaskUUID  uuid.UUID  `json:"task_uuid"`
	StepUUID  *uuid.UUID `json:"step_uuid,omitempty"`
	StepName  string     `json:"step_name,omitempty"`
	FromState *string    `json:"from_state"`
	ToState   string     `json:"to_state"`
	Event     string     `json:"event"`
	At        time.Time  `json:"at"`
	// Status is the final task status (Kind "end" only).
	Status string `json:"status,omitempty"`
}
