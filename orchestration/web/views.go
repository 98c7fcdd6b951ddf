package web

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// TaskResponse is a task as the API shows it: the task row, its execution
// context flattened in (step counts, execution_status, recommended_action,
// completion_percentage, health_status), and its steps' readiness (empty in
// list responses).
type TaskResponse struct {
	store.Task
	store.StepCounts
	ExecutionStatus      string         `json:"execution_status" doc:"blocked_by_failures, has_ready_steps, processing, all_complete or waiting_for_dependencies"`
	RecommendedAction    string         `json:"recommended_action" doc:"handle_failures, execute_ready_steps, wait_for_completion, finalize_task or wait_for_dependencies"`
	CompletionPercentage float64        `json:"completion_percentage"`
	HealthStatus         string         `json:"health_status" doc:"healthy, recovering or blocked"`
	Steps                []StepResponse `json:"steps"`
}

// StepResponse is a step with its readiness facts (tasker-core's
// StepResponse, plus the names of the steps it depends on).
type StepResponse struct {
	StepUUID              uuid.UUID       `json:"step_uuid"`
	TaskUUID              uuid.UUID       `json:"task_uuid"`
	Name                  string          `json:"name"`
	StepType              string          `json:"step_type"`
	CurrentState          state.StepState `json:"current_state"`
	DependenciesSatisfied bool            `json:"dependencies_satisfied"`
	RetryEligible         bool            `json:"retry_eligible"`
	ReadyForExecution     bool            `json:"ready_for_execution"`
	TotalParents          int             `json:"total_parents"`
	CompletedParents      int             `json:"completed_parents"`
	Dependencies          []string        `json:"dependencies" doc:"Names of the steps this step depends on"`
	Attempts              int             `json:"attempts"`
	MaxAttempts           int             `json:"max_attempts"`
	Retryable             bool            `json:"retryable"`
	LastFailureAt         *time.Time      `json:"last_failure_at"`
	NextRetryAt           *time.Time      `json:"next_retry_at"`
	LastAttemptedAt       *time.Time      `json:"last_attempted_at"`
	CreatedAt             time.Time       `json:"created_at"`
	UpdatedAt             time.Time       `json:"updated_at"`
	CompletedAt           *time.Time      `json:"completed_at"`
	Results               json.RawMessage `json:"results" doc:"The stored step execution result (null until the step reports)"`
}

func stepView(r store.StepReadiness) StepResponse {
	deps := r.Parents
	if deps == nil {
		deps = []string{}
	}
	return StepResponse{
		StepUUID: r.UUID, TaskUUID: r.TaskUUID, Name: r.Name, StepType: r.StepType, CurrentState: r.State,
		DependenciesSatisfied: r.DependenciesSatisfied, RetryEligible: r.RetryEligible,
		ReadyForExecution: r.ReadyForExecution, TotalParents: r.TotalParents, CompletedParents: r.CompletedParents,
		Dependencies: deps, Attempts: r.Attempts, MaxAttempts: r.Retry.MaxAttempts, Retryable: r.Retry.Retryable,
		LastFailureAt: r.LastFailureAt, NextRetryAt: r.NextRetryAt, LastAttemptedAt: r.LastAttemptedAt,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, CompletedAt: r.CompletedAt, Results: r.Results,
	}
}

func stepViews(rs []store.StepReadiness) []StepResponse {
	out := make([]StepResponse, len(rs))
	for i, r := range rs {
		out[i] = stepView(r)
	}
	return out
}

// taskView combines a task, its execution context and (optionally) steps.
func taskView(t store.Task, ec store.ExecutionContext, steps []StepResponse) TaskResponse {
	if t.Tags == nil {
		t.Tags = []string{}
	}
	if steps == nil {
		steps = []StepResponse{}
	}
	return TaskResponse{
		Task: t, StepCounts: ec.StepCounts, ExecutionStatus: string(ec.ExecutionStatus),
		RecommendedAction: ec.RecommendedAction, CompletionPercentage: ec.CompletionPercentage,
		HealthStatus: ec.HealthStatus, Steps: steps,
	}
}
