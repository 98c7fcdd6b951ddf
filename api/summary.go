package api

import (
	"time"

	"github.com/google/uuid"
)

// TaskSummaryResponse is one task in a single answer for people and tools
// (GET /v1/tasks/{uuid}/summary): the task with its execution context, its
// template's step definitions, each step's state with its last error, the
// task's latest DLQ entry and links to the detailed endpoints.
type TaskSummaryResponse struct {
	Task     TaskSummary      `json:"task"`
	Template TemplateOutline  `json:"template"`
	Steps    []StepSummary    `json:"steps"`
	DLQ      DLQSummary       `json:"dlq"`
	Links    TaskSummaryLinks `json:"links"`
}

// TaskSummary is the task part of a summary.
type TaskSummary struct {
	TaskUUID             uuid.UUID  `json:"task_uuid"`
	Name                 string     `json:"name"`
	Namespace            string     `json:"namespace"`
	Version              string     `json:"version"`
	Status               string     `json:"status"`
	CreatedAt            time.Time  `json:"created_at"`
	UpdatedAt            time.Time  `json:"updated_at"`
	CompletedAt          *time.Time `json:"completed_at"`
	Initiator            string     `json:"initiator"`
	SourceSystem         string     `json:"source_system"`
	Reason               string     `json:"reason"`
	CorrelationID        uuid.UUID  `json:"correlation_id"`
	TotalSteps           int        `json:"total_steps"`
	PendingSteps         int        `json:"pending_steps"`
	InProgressSteps      int        `json:"in_progress_steps"`
	CompletedSteps       int        `json:"completed_steps"`
	FailedSteps          int        `json:"failed_steps"`
	CompletionPercentage float64    `json:"completion_percentage"`
	HealthStatus         string     `json:"health_status"`
	ExecutionStatus      string     `json:"execution_status"`
	RecommendedAction    *string    `json:"recommended_action"`
}

// TemplateOutline lists a template's step definitions.
type TemplateOutline struct {
	Steps []TemplateStepOutline `json:"steps"`
}

// TemplateStepOutline is one step definition of a template.
type TemplateStepOutline struct {
	Name         string   `json:"name"`
	StepType     string   `json:"step_type"`
	Handler      string   `json:"handler"`
	Dependencies []string `json:"dependencies"`
	Retryable    bool     `json:"retryable"`
	MaxAttempts  int      `json:"max_attempts"`
}

// StepSummary is one step of a summary. Its timestamps are RFC 3339
// strings.
type StepSummary struct {
	StepUUID              uuid.UUID         `json:"step_uuid"`
	Name                  string            `json:"name"`
	CurrentState          string            `json:"current_state"`
	CreatedAt             *time.Time        `json:"created_at"`
	CompletedAt           *time.Time        `json:"completed_at"`
	LastAttemptedAt       *time.Time        `json:"last_attempted_at"`
	Attempts              int               `json:"attempts"`
	MaxAttempts           int               `json:"max_attempts"`
	DependenciesSatisfied bool              `json:"dependencies_satisfied"`
	RetryEligible         bool              `json:"retry_eligible"`
	Error                 *StepErrorSummary `json:"error"`
}

// StepErrorSummary describes a step's last failure.
type StepErrorSummary struct {
	ErrorType  *string `json:"error_type"`
	Retryable  bool    `json:"retryable"`
	StatusCode *int    `json:"status_code"`
	Message    string  `json:"message,omitempty"`
}

// DLQSummary tells whether the task has a DLQ entry, and its latest.
type DLQSummary struct {
	InDLQ            bool    `json:"in_dlq" doc:"Whether the task has a pending DLQ entry"`
	DLQReason        *string `json:"dlq_reason"`
	ResolutionStatus *string `json:"resolution_status"`
}

// TaskSummaryLinks are the paths of the detailed endpoints.
type TaskSummaryLinks struct {
	Task  string `json:"task"`
	Steps string `json:"steps"`
	DLQ   string `json:"dlq"`
}
