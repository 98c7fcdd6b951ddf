package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

type summaryOutput struct {
	Body api.TaskSummaryResponse
}

type investigationInput struct {
	Limit int `query:"limit" default:"100" minimum:"1" maximum:"1000"`
}

type investigationOutput struct {
	Body []api.InvestigationQueueEntry
}

func (s *Server) summaryRoutes() {
	register(s, huma.Operation{
		OperationID: "getTaskSummary", Method: http.MethodGet, Path: "/v1/tasks/{uuid}/summary", Tags: []string{"tasks"},
		Summary: "A task in one answer: execution context, template steps, step states with their last error, DLQ status",
	}, []int{400, 404}, s.taskSummary)
	register(s, huma.Operation{
		OperationID: "getInvestigationQueue", Method: http.MethodGet, Path: "/v1/dlq/investigation-queue", Tags: []string{"dlq"},
		Summary: "Pending DLQ entries, the most urgent first",
		Description: "priority_score = minutes in the DLQ × the reason's weight (dependency_cycle_detected 3, " +
			"max_retries_exceeded 2, worker_unavailable 1.5, others 1) × (1 + (task priority + 100) / 200). " +
			"The 10000 oldest pending entries are ranked.",
	}, []int{400}, s.investigationQueue)
}

func (s *Server) taskSummary(ctx context.Context, in *taskIDInput) (*summaryOutput, error) {
	id, err := parseID("uuid", in.UUID)
	if err != nil {
		return nil, err
	}
	task, err := s.store.GetTask(ctx, id)
	if err != nil {
		return nil, err
	}
	steps, err := s.store.StepReadiness(ctx, []uuid.UUID{id}, nil)
	if err != nil {
		return nil, err
	}
	out := api.TaskSummaryResponse{Steps: []api.StepSummary{}, Template: api.TemplateOutline{Steps: []api.TemplateStepOutline{}}}
	ec := executionContexts(map[uuid.UUID]state.TaskState{id: task.State}, steps)[id]
	c := ec.StepCounts
	out.Task = api.TaskSummary{TaskUUID: task.UUID, Name: task.Name, Namespace: task.Namespace, Version: task.Version,
		Status: string(task.State), CreatedAt: task.CreatedAt, UpdatedAt: task.UpdatedAt, CompletedAt: task.CompletedAt,
		Initiator: task.Initiator, SourceSystem: task.SourceSystem, Reason: task.Reason, CorrelationID: task.CorrelationID,
		TotalSteps: c.Total, PendingSteps: c.Pending, InProgressSteps: c.InProgress, CompletedSteps: c.Completed,
		FailedSteps: c.Failed, CompletionPercentage: ec.CompletionPercentage, HealthStatus: ec.HealthStatus,
		ExecutionStatus: string(ec.ExecutionStatus)}
	if ec.RecommendedAction != "" {
		action := ec.RecommendedAction
		out.Task.RecommendedAction = &action
	}
	for _, r := range steps {
		created := r.CreatedAt
		out.Steps = append(out.Steps, api.StepSummary{StepUUID: r.UUID, Name: r.Name, CurrentState: string(r.State),
			CreatedAt: &created, CompletedAt: r.CompletedAt, LastAttemptedAt: r.LastAttemptedAt, Attempts: r.Attempts,
			MaxAttempts: r.Retry.MaxAttempts, DependenciesSatisfied: r.DependenciesSatisfied,
			RetryEligible: r.RetryEligible, Error: stepError(r.Results)})
	}
	nt, err := s.store.GetNamedTask(ctx, task.Namespace, task.Name, task.Version)
	switch {
	case err == nil:
		out.Template = templateOutline(nt.Configuration)
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	dlq, err := s.store.DLQForTask(ctx, id)
	switch {
	case err == nil:
		reason, status := api.DLQWireValue(dlq.Reason), api.DLQWireValue(dlq.ResolutionStatus)
		out.DLQ = api.DLQSummary{InDLQ: status == api.ResolutionPending, DLQReason: &reason, ResolutionStatus: &status}
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	out.Links = api.TaskSummaryLinks{Task: "/v1/tasks/" + id.String(), Steps: "/v1/tasks/" + id.String() + "/workflow_steps",
		DLQ: "/v1/dlq/task/" + id.String()}
	return &summaryOutput{Body: out}, nil
}

// stepError reads the failure of a stored step result, or nil when the
// step has not failed.
func stepError(results json.RawMessage) *api.StepErrorSummary {
	var r struct {
		Success bool `json:"success"`
		Error   *struct {
			Message    string `json:"message"`
			ErrorType  string `json:"error_type"`
			Retryable  bool   `json:"retryable"`
			StatusCode *int   `json:"status_code"`
		} `json:"error"`
	}
	if len(results) == 0 || json.Unmarshal(results, &r) != nil || r.Success || r.Error == nil {
		return nil
	}
	e := &api.StepErrorSummary{Retryable: r.Error.Retryable, StatusCode: r.Error.StatusCode, Message: r.Error.Message}
	if r.Error.ErrorType != "" {
		t := r.Error.ErrorType
		e.ErrorType = &t
	}
	return e
}

// templateOutline reads the step definitions of a stored template.
func templateOutline(config json.RawMessage) api.TemplateOutline {
	var t struct {
		Steps []struct {
			Name    string `json:"name"`
			Type    string `json:"type"`
			Handler struct {
				Callable string `json:"callable"`
			} `json:"handler"`
			Dependencies []string `json:"dependencies"`
			Retry        struct {
				Retryable   *bool `json:"retryable"`
				MaxAttempts *int  `json:"max_attempts"`
			} `json:"retry"`
		} `json:"steps"`
	}
	out := api.TemplateOutline{Steps: []api.TemplateStepOutline{}}
	if json.Unmarshal(config, &t) != nil {
		return out
	}
	for _, st := range t.Steps {
		o := api.TemplateStepOutline{Name: st.Name, StepType: st.Type, Handler: st.Handler.Callable,
			Dependencies: st.Dependencies, Retryable: true, MaxAttempts: 3}
		if o.StepType == "" {
			o.StepType = "standard"
		}
		if o.Dependencies == nil {
			o.Dependencies = []string{}
		}
		if st.Retry.Retryable != nil {
			o.Retryable = *st.Retry.Retryable
		}
		if st.Retry.MaxAttempts != nil {
			o.MaxAttempts = *st.Retry.MaxAttempts
		}
		out.Steps = append(out.Steps, o)
	}
	return out
}

func (s *Server) investigationQueue(ctx context.Context, in *investigationInput) (*investigationOutput, error) {
	rows, err := s.store.InvestigationQueue(ctx, in.Limit)
	if err != nil {
		return nil, err
	}
	out := make([]api.InvestigationQueueEntry, len(rows))
	for i, r := range rows {
		ns, name, st := r.Namespace, r.TaskName, r.CurrentState
		minutes := int(r.MinutesInState)
		out[i] = api.InvestigationQueueEntry{DLQEntryUUID: r.UUID, TaskUUID: r.TaskUUID, OriginalState: r.OriginalState,
			DLQReason: api.DLQWireValue(r.Reason), DLQTimestamp: api.Naive(r.DLQTimestamp), MinutesInDLQ: r.MinutesInDLQ,
			NamespaceName: &ns, TaskName: &name, CurrentState: &st, TimeInStateMinutes: &minutes, Priority: r.Priority,
			PriorityScore: r.Score}
	}
	return &investigationOutput{Body: out}, nil
}
