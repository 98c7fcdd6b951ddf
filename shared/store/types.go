package store

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/state"
)

// Namespace is a routing domain; each has its own worker queue.
type Namespace struct {
	UUID          uuid.UUID `db:"task_namespace_uuid"`
	Name          string    `db:"name"`
	Description   string    `db:"description"`
	TemplateCount int       `db:"template_count"`
}

// NamedTask is a registered task template.
type NamedTask struct {
	UUID             uuid.UUID       `db:"named_task_uuid"`
	NamespaceUUID    uuid.UUID       `db:"task_namespace_uuid"`
	Namespace        string          `db:"namespace"`
	Name             string          `db:"name"`
	Version          string          `db:"version"`
	Description      string          `db:"description"`
	Configuration    json.RawMessage `db:"configuration"`
	IdentityStrategy string          `db:"identity_strategy"`
	StepCount        int             `db:"step_count"`
	CreatedAt        time.Time       `db:"created_at"`
	UpdatedAt        time.Time       `db:"updated_at"`
}

// Task is a task instance; the db tags name its columns (taskColumns).
type Task struct {
	UUID                uuid.UUID       `db:"task_uuid"`
	NamedTaskUUID       uuid.UUID       `db:"named_task_uuid"`
	Namespace           string          `db:"namespace"`
	Name                string          `db:"name"`
	Version             string          `db:"version"`
	State               state.TaskState `db:"state"`
	Complete            bool            `db:"complete"`
	RequestedAt         time.Time       `db:"requested_at"`
	CompletedAt         *time.Time      `db:"completed_at"`
	Initiator           string          `db:"initiator"`
	SourceSystem        string          `db:"source_system"`
	Reason              string          `db:"reason"`
	Tags                []string        `db:"tags"`
	Context             json.RawMessage `db:"context"`
	IdentityHash        string          `db:"identity_hash"`
	Priority            int             `db:"priority"`
	CorrelationID       uuid.UUID       `db:"correlation_id"`
	ParentCorrelationID *uuid.UUID      `db:"parent_correlation_id"`
	StateChangedAt      time.Time       `db:"state_changed_at"`
	CreatedAt           time.Time       `db:"created_at"`
	UpdatedAt           time.Time       `db:"updated_at"`
	// TraceParent is the W3C traceparent of the span that created the task
	// (empty when it was created untraced): the parent of every later span
	// about it.
	TraceParent string `db:"trace_parent"`
}

// Step is a workflow step instance. The db tags name the columns its rows
// are scanned by (stepColumns; the retry policy's columns are RetryPolicy's
// tags).
type Step struct {
	UUID                  uuid.UUID       `db:"workflow_step_uuid"`
	TaskUUID              uuid.UUID       `db:"task_uuid"`
	NamedStepUUID         uuid.UUID       `db:"named_step_uuid"`
	Name                  string          `db:"name"`
	TemplateStepName      string          `db:"template_step_name"`
	StepType              string          `db:"step_type"`
	State                 state.StepState `db:"state"`
	HandlerCallable       string          `db:"handler_callable"`
	HandlerMethod         string          `db:"handler_method"`
	Retry                 RetryPolicy     `db:"-"`
	TimeoutSeconds        int             `db:"timeout_seconds"`
	Attempts              int             `db:"attempts"`
	InProcess             bool            `db:"in_process"`
	Processed             bool            `db:"processed"`
	ProcessedAt           *time.Time      `db:"processed_at"`
	LastAttemptedAt       *time.Time      `db:"last_attempted_at"`
	BackoffRequestSeconds *int            `db:"backoff_request_seconds"`
	NextRetryAt           *time.Time      `db:"next_retry_at"`
	ClaimedBy             string          `db:"claimed_by"`
	ClaimDeadline         *time.Time      `db:"claim_deadline"`
	Inputs                json.RawMessage `db:"inputs"`
	Results               json.RawMessage `db:"results"`
	Checkpoint            json.RawMessage `db:"checkpoint"`
	Priority              int             `db:"priority"`
	StateChangedAt        time.Time       `db:"state_changed_at"`
	CreatedAt             time.Time       `db:"created_at"`
	UpdatedAt             time.Time       `db:"updated_at"`
}

// RetryPolicy is a step's retry configuration, copied from its template at
// creation.
type RetryPolicy struct {
	Retryable    bool   `db:"retryable"`
	MaxAttempts  int    `db:"max_attempts"`
	Backoff      string `db:"backoff"`
	BackoffBase  int    `db:"backoff_base_ms"`
	MaxBackoffMs int    `db:"max_backoff_ms"`
	Jitter       bool   `db:"backoff_jitter"`
}

// StepReadiness is a step with its readiness facts.
type StepReadiness struct {
	Step
	DependenciesSatisfied bool
	RetryEligible         bool
	ReadyForExecution     bool
	TotalParents          int
	CompletedParents      int
	LastFailureAt         *time.Time
	CompletedAt           *time.Time
	Parents               []string
}

// TaskTransition is one row of a task's history.
type TaskTransition struct {
	UUID        uuid.UUID       `db:"task_transition_uuid"`
	TaskUUID    uuid.UUID       `db:"task_uuid"`
	FromState   *string         `db:"from_state"`
	ToState     string          `db:"to_state"`
	Event       string          `db:"event"`
	Metadata    json.RawMessage `db:"metadata"`
	ProcessorID string          `db:"processor_id"`
	CreatedAt   time.Time       `db:"created_at"`
}

// StepTransition is one row of a step's history.
type StepTransition struct {
	UUID      uuid.UUID       `db:"workflow_step_transition_uuid"`
	StepUUID  uuid.UUID       `db:"workflow_step_uuid"`
	TaskUUID  uuid.UUID       `db:"task_uuid"`
	StepName  string          `db:"step_name"`
	FromState *string         `db:"from_state"`
	ToState   string          `db:"to_state"`
	Event     string          `db:"event"`
	Metadata  json.RawMessage `db:"metadata"`
	CreatedAt time.Time       `db:"created_at"`
}

// AuditEntry is one result a worker reported for a step.
type AuditEntry struct {
	UUID     uuid.UUID `db:"workflow_step_result_audit_uuid"`
	StepUUID uuid.UUID `db:"workflow_step_uuid"`
	// TransitionUUID is the step transition the result caused (the one
	// out of in_progress recorded with it); uuid.Nil if its history row is
	// gone.
	TransitionUUID  uuid.UUID       `db:"workflow_step_transition_uuid"`
	TaskUUID        uuid.UUID       `db:"task_uuid"`
	StepName        string          `db:"step_name"`
	Attempt         int             `db:"attempt"`
	WorkerID        string          `db:"worker_id"`
	CorrelationID   *uuid.UUID      `db:"correlation_id"`
	Success         bool            `db:"success"`
	ExecutionTimeMs *int64          `db:"execution_time_ms"`
	FromState       string          `db:"from_state"`
	ToState         string          `db:"to_state"`
	Result          json.RawMessage `db:"result"`
	RecordedAt      time.Time       `db:"recorded_at"`
}

// DLQEntry is an investigation record for a task that got stuck.
type DLQEntry struct {
	UUID                uuid.UUID       `db:"dlq_entry_uuid"`
	TaskUUID            uuid.UUID       `db:"task_uuid"`
	OriginalState       string          `db:"original_state"`
	Reason              string          `db:"dlq_reason"`
	DLQTimestamp        time.Time       `db:"dlq_timestamp"`
	ResolutionStatus    string          `db:"resolution_status"`
	ResolutionTimestamp *time.Time      `db:"resolution_timestamp"`
	ResolutionNotes     *string         `db:"resolution_notes"`
	ResolvedBy          *string         `db:"resolved_by"`
	TaskSnapshot        json.RawMessage `db:"task_snapshot"`
	Metadata            json.RawMessage `db:"metadata"`
	CreatedAt           time.Time       `db:"created_at"`
	UpdatedAt           time.Time       `db:"updated_at"`
}
