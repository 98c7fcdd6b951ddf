package store

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/state"
)

// Namespace is a routing domain; each has its own worker queue.
type Namespace struct {
	UUID          uuid.UUID
	Name          string
	Description   string
	TemplateCount int
}

// NamedTask is a registered task template.
type NamedTask struct {
	UUID             uuid.UUID
	NamespaceUUID    uuid.UUID
	Namespace        string
	Name             string
	Version          string
	Description      string
	Configuration    json.RawMessage
	IdentityStrategy string
	StepCount        int
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Task is a task instance.
type Task struct {
	UUID                uuid.UUID
	NamedTaskUUID       uuid.UUID
	Namespace           string
	Name                string
	Version             string
	State               state.TaskState
	Complete            bool
	RequestedAt         time.Time
	CompletedAt         *time.Time
	Initiator           string
	SourceSystem        string
	Reason              string
	Tags                []string
	Context             json.RawMessage
	IdentityHash        string
	Priority            int
	CorrelationID       uuid.UUID
	ParentCorrelationID *uuid.UUID
	StateChangedAt      time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
	// TraceParent is the W3C traceparent of the span that created the task
	// (empty when it was created untraced): the parent of every later span
	// about it.
	TraceParent string
}

// Step is a workflow step instance.
type Step struct {
	UUID                  uuid.UUID
	TaskUUID              uuid.UUID
	NamedStepUUID         uuid.UUID
	Name                  string
	TemplateStepName      string
	StepType              string
	State                 state.StepState
	HandlerCallable       string
	HandlerMethod         string
	Retry                 RetryPolicy
	TimeoutSeconds        int
	Attempts              int
	InProcess             bool
	Processed             bool
	ProcessedAt           *time.Time
	LastAttemptedAt       *time.Time
	BackoffRequestSeconds *int
	NextRetryAt           *time.Time
	ClaimedBy             string
	ClaimDeadline         *time.Time
	Inputs                json.RawMessage
	Results               json.RawMessage
	Checkpoint            json.RawMessage
	Priority              int
	StateChangedAt        time.Time
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// RetryPolicy is a step's retry configuration, copied from its template at
// creation.
type RetryPolicy struct {
	Retryable    bool
	MaxAttempts  int
	Backoff      string
	BackoffBase  int
	MaxBackoffMs int
	Jitter       bool
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
	UUID        uuid.UUID
	TaskUUID    uuid.UUID
	FromState   *string
	ToState     string
	Event       string
	Metadata    json.RawMessage
	ProcessorID string
	CreatedAt   time.Time
}

// StepTransition is one row of a step's history.
type StepTransition struct {
	UUID      uuid.UUID
	StepUUID  uuid.UUID
	TaskUUID  uuid.UUID
	StepName  string
	FromState *string
	ToState   string
	Event     string
	Metadata  json.RawMessage
	CreatedAt time.Time
}

// AuditEntry is one result a worker reported for a step.
type AuditEntry struct {
	UUID     uuid.UUID
	StepUUID uuid.UUID
	// TransitionUUID is the step transition the result caused (the one
	// out of in_progress recorded with it); uuid.Nil if its history row is
	// gone.
	TransitionUUID  uuid.UUID
	TaskUUID        uuid.UUID
	StepName        string
	Attempt         int
	WorkerID        string
	CorrelationID   *uuid.UUID
	Success         bool
	ExecutionTimeMs *int64
	FromState       string
	ToState         string
	Result          json.RawMessage
	RecordedAt      time.Time
}

// DLQEntry is an investigation record for a task that got stuck.
type DLQEntry struct {
	UUID                uuid.UUID
	TaskUUID            uuid.UUID
	OriginalState       string
	Reason              string
	DLQTimestamp        time.Time
	ResolutionStatus    string
	ResolutionTimestamp *time.Time
	ResolutionNotes     *string
	ResolvedBy          *string
	TaskSnapshot        json.RawMessage
	Metadata            json.RawMessage
	CreatedAt           time.Time
	UpdatedAt           time.Time
}
