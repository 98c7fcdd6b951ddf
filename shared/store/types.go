package store

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/state"
)

// Namespace is a routing domain; each has its own worker queue.
type Namespace struct {
	UUID          uuid.UUID `json:"task_namespace_uuid"`
	Name          string    `json:"name"`
	Description   string    `json:"description,omitempty"`
	TemplateCount int       `json:"template_count"`
}

// NamedTask is a registered task template.
type NamedTask struct {
	UUID             uuid.UUID       `json:"named_task_uuid"`
	NamespaceUUID    uuid.UUID       `json:"task_namespace_uuid"`
	Namespace        string          `json:"namespace"`
	Name             string          `json:"name"`
	Version          string          `json:"version"`
	Description      string          `json:"description,omitempty"`
	Configuration    json.RawMessage `json:"configuration"`
	IdentityStrategy string          `json:"identity_strategy"`
	StepCount        int             `json:"step_count"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
}

// Task is a task instance.
type Task struct {
	UUID                uuid.UUID       `json:"task_uuid"`
	NamedTaskUUID       uuid.UUID       `json:"named_task_uuid"`
	Namespace           string          `json:"namespace"`
	Name                string          `json:"name"`
	Version             string          `json:"version"`
	State               state.TaskState `json:"status"`
	Complete            bool            `json:"complete"`
	RequestedAt         time.Time       `json:"requested_at"`
	CompletedAt         *time.Time      `json:"completed_at"`
	Initiator           string          `json:"initiator"`
	SourceSystem        string          `json:"source_system"`
	Reason              string          `json:"reason"`
	Tags                []string        `json:"tags"`
	Context             json.RawMessage `json:"context"`
	IdentityHash        string          `json:"-"`
	Priority            int             `json:"priority"`
	CorrelationID       uuid.UUID       `json:"correlation_id"`
	ParentCorrelationID *uuid.UUID      `json:"parent_correlation_id"`
	StateChangedAt      time.Time       `json:"state_changed_at"`
	CreatedAt           time.Time       `json:"created_at"`
	UpdatedAt           time.Time       `json:"updated_at"`
}

// Step is a workflow step instance.
type Step struct {
	UUID                  uuid.UUID       `json:"step_uuid"`
	TaskUUID              uuid.UUID       `json:"task_uuid"`
	NamedStepUUID         uuid.UUID       `json:"named_step_uuid"`
	Name                  string          `json:"name"`
	TemplateStepName      string          `json:"template_step_name"`
	StepType              string          `json:"step_type"`
	State                 state.StepState `json:"current_state"`
	HandlerCallable       string          `json:"handler_callable"`
	HandlerMethod         string          `json:"handler_method"`
	Retry                 RetryPolicy     `json:"retry"`
	TimeoutSeconds        int             `json:"timeout_seconds"`
	Attempts              int             `json:"attempts"`
	InProcess             bool            `json:"in_process"`
	Processed             bool            `json:"processed"`
	ProcessedAt           *time.Time      `json:"processed_at"`
	LastAttemptedAt       *time.Time      `json:"last_attempted_at"`
	BackoffRequestSeconds *int            `json:"backoff_request_seconds"`
	NextRetryAt           *time.Time      `json:"next_retry_at"`
	ClaimedBy             string          `json:"claimed_by,omitempty"`
	ClaimDeadline         *time.Time      `json:"claim_deadline,omitempty"`
	Inputs                json.RawMessage `json:"inputs"`
	Results               json.RawMessage `json:"results"`
	Checkpoint            json.RawMessage `json:"checkpoint,omitempty"`
	Priority              int             `json:"priority"`
	StateChangedAt        time.Time       `json:"state_changed_at"`
	CreatedAt             time.Time       `json:"created_at"`
	UpdatedAt             time.Time       `json:"updated_at"`
}

// RetryPolicy is a step's retry configuration, copied from its template at
// creation.
type RetryPolicy struct {
	Retryable    bool   `json:"retryable"`
	MaxAttempts  int    `json:"max_attempts"`
	Backoff      string `json:"backoff"`
	BackoffBase  int    `json:"backoff_base_ms"`
	MaxBackoffMs int    `json:"max_backoff_ms"`
	Jitter       bool   `json:"jitter"`
}

// StepReadiness is a step with its readiness facts (reference §1.6).
type StepReadiness struct {
	Step
	DependenciesSatisfied bool       `json:"dependencies_satisfied"`
	RetryEligible         bool       `json:"retry_eligible"`
	ReadyForExecution     bool       `json:"ready_for_execution"`
	TotalParents          int        `json:"total_parents"`
	CompletedParents      int        `json:"completed_parents"`
	LastFailureAt         *time.Time `json:"last_failure_at"`
	CompletedAt           *time.Time `json:"completed_at"`
	Parents               []string   `json:"dependencies"`
}

// TaskTransition is one row of a task's history.
type TaskTransition struct {
	UUID        uuid.UUID       `json:"task_transition_uuid"`
	TaskUUID    uuid.UUID       `json:"task_uuid"`
	FromState   *string         `json:"from_state"`
	ToState     string          `json:"to_state"`
	Event       string          `json:"event"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	ProcessorID string          `json:"processor_id,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
}

// StepTransition is one row of a step's history.
type StepTransition struct {
	UUID      uuid.UUID       `json:"workflow_step_transition_uuid"`
	StepUUID  uuid.UUID       `json:"workflow_step_uuid"`
	TaskUUID  uuid.UUID       `json:"task_uuid"`
	StepName  string          `json:"step_name"`
	FromState *string         `json:"from_state"`
	ToState   string          `json:"to_state"`
	Event     string          `json:"event"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// AuditEntry is one result a worker reported for a step.
type AuditEntry struct {
	UUID            uuid.UUID       `json:"audit_uuid"`
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

// DLQEntry is an investigation record for a task that got stuck.
type DLQEntry struct {
	UUID                uuid.UUID       `json:"dlq_entry_uuid"`
	TaskUUID            uuid.UUID       `json:"task_uuid"`
	OriginalState       string          `json:"original_state"`
	Reason              string          `json:"dlq_reason"`
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
