package web

import (
	"github.com/google/uuid"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/dag"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// The functions below convert what the store returns into the API's types
// (package api): the only place where a database row becomes a response
// body. Lists are never null on the wire.

func stepView(r store.StepReadiness) api.StepResponse {
	deps := r.Parents
	if deps == nil {
		deps = []string{}
	}
	return api.StepResponse{
		StepUUID: r.UUID, WorkflowStepUUID: r.UUID, NamedStepUUID: r.NamedStepUUID, TaskUUID: r.TaskUUID, Name: r.Name, StepType: r.StepType, CurrentState: string(r.State),
		DependenciesSatisfied: r.DependenciesSatisfied, RetryEligible: r.RetryEligible,
		ReadyForExecution: r.ReadyForExecution, TotalParents: r.TotalParents, CompletedParents: r.CompletedParents,
		Dependencies: deps, Attempts: r.Attempts, MaxAttempts: r.Retry.MaxAttempts, Retryable: r.Retry.Retryable,
		BackoffRequestSeconds: r.BackoffRequestSeconds, LastFailureAt: api.NaivePtr(r.LastFailureAt),
		NextRetryAt: api.NaivePtr(r.NextRetryAt), LastAttemptedAt: api.NaivePtr(r.LastAttemptedAt),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, CompletedAt: r.CompletedAt, Results: r.Results,
	}
}

func stepViews(rs []store.StepReadiness) []api.StepResponse {
	out := make([]api.StepResponse, len(rs))
	for i, r := range rs {
		out[i] = stepView(r)
	}
	return out
}

// executionContexts counts the steps' readiness rows into the execution
// contexts of tasks (task id → current state).
func executionContexts(tasks map[uuid.UUID]state.TaskState, steps []store.StepReadiness) map[uuid.UUID]dag.ExecutionContext {
	ss := make([]dag.StepStatus, len(steps))
	for i, r := range steps {
		ss[i] = dag.StepStatus{TaskUUID: r.TaskUUID, State: r.State, Ready: r.ReadyForExecution}
	}
	return dag.ExecutionContexts(tasks, ss)
}

// taskView combines a task, its execution context and (optionally) steps.
func taskView(t store.Task, ec dag.ExecutionContext, steps []api.StepResponse) api.TaskResponse {
	tags := t.Tags
	if tags == nil {
		tags = []string{}
	}
	if steps == nil {
		steps = []api.StepResponse{}
	}
	c := ec.StepCounts
	return api.TaskResponse{
		TaskUUID: t.UUID, NamedTaskUUID: t.NamedTaskUUID, Namespace: t.Namespace, Name: t.Name, Version: t.Version,
		Status: string(t.State), Complete: t.Complete, RequestedAt: t.RequestedAt, CompletedAt: t.CompletedAt,
		Initiator: t.Initiator, SourceSystem: t.SourceSystem, Reason: t.Reason, Tags: tags, Context: t.Context,
		Priority: t.Priority, CorrelationID: t.CorrelationID, ParentCorrelationID: t.ParentCorrelationID,
		StateChangedAt: t.StateChangedAt, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,

		TotalSteps: c.Total, PendingSteps: c.Pending, EnqueuedSteps: c.Enqueued, InProgressSteps: c.InProgress,
		EnqueuedForOrchestrationSteps:        c.EnqueuedForOrchestration,
		EnqueuedAsErrorForOrchestrationSteps: c.EnqueuedAsErrorForOrchestration,
		WaitingForRetrySteps:                 c.WaitingForRetry, CompletedSteps: c.Completed, FailedSteps: c.Failed,
		CancelledSteps: c.Cancelled, ReadySteps: c.Ready,

		ExecutionStatus: string(ec.ExecutionStatus), RecommendedAction: ec.RecommendedAction,
		CompletionPercentage: ec.CompletionPercentage, HealthStatus: ec.HealthStatus, Steps: steps,
	}
}

func auditViews(rows []store.AuditEntry) []api.AuditEntry {
	out := make([]api.AuditEntry, len(rows))
	for i, a := range rows {
		out[i] = api.AuditEntry{
			AuditUUID: a.UUID, StepUUID: a.StepUUID, TransitionUUID: a.TransitionUUID, TaskUUID: a.TaskUUID, StepName: a.StepName, Attempt: a.Attempt,
			WorkerID: a.WorkerID, CorrelationID: a.CorrelationID, Success: a.Success, ExecutionTimeMs: a.ExecutionTimeMs,
			FromState: a.FromState, ToState: a.ToState, Result: a.Result, RecordedAt: a.RecordedAt,
		}
	}
	return out
}

func dlqView(e store.DLQEntry) api.DLQEntry {
	return api.DLQEntry{
		DLQEntryUUID: e.UUID, TaskUUID: e.TaskUUID, OriginalState: e.OriginalState, DLQReason: api.DLQWireValue(e.Reason),
		DLQTimestamp: api.Naive(e.DLQTimestamp), ResolutionStatus: api.DLQWireValue(e.ResolutionStatus),
		ResolutionTimestamp: api.NaivePtr(e.ResolutionTimestamp),
		ResolutionNotes:     e.ResolutionNotes, ResolvedBy: e.ResolvedBy, TaskSnapshot: e.TaskSnapshot,
		Metadata: e.Metadata, CreatedAt: api.Naive(e.CreatedAt), UpdatedAt: api.Naive(e.UpdatedAt),
	}
}

func dlqViews(rows []store.DLQEntry) []api.DLQEntry {
	out := make([]api.DLQEntry, len(rows))
	for i, e := range rows {
		out[i] = dlqView(e)
	}
	return out
}

func dlqStatViews(rows []store.DLQStat) []api.DLQStat {
	out := make([]api.DLQStat, len(rows))
	for i, s := range rows {
		out[i] = api.DLQStat{
			Reason: api.DLQWireValue(s.Reason), Total: s.Total, Pending: s.Pending, ManuallyResolved: s.ManuallyResolved,
			PermanentFailures: s.PermanentlyFailed, Cancelled: s.Cancelled, Oldest: api.NaivePtr(s.Oldest), Newest: api.NaivePtr(s.Newest),
			AvgResolutionMinutes: s.AverageResolutionMinutes,
		}
	}
	return out
}

func staleTaskViews(rows []store.StaleTask) []api.StaleTask {
	out := make([]api.StaleTask, len(rows))
	for i, t := range rows {
		out[i] = api.StaleTask{
			TaskUUID: t.TaskUUID, Namespace: t.Namespace, NamespaceName: t.Namespace, TaskName: t.TaskName,
			CurrentState: string(t.State), StateChangedAt: t.StateChangedAt,
			TimeInStateMinutes: int(t.MinutesInState), TimeInStateSeconds: t.MinutesInState * 60,
			ThresholdMinutes: t.ThresholdMinutes, StalenessThresholdMinutes: int(t.ThresholdMinutes),
			TaskAgeMinutes: int(t.TaskAgeMinutes), CorrelationID: t.CorrelationID, Priority: t.Priority,
			RequestedAt: t.RequestedAt, CreatedAt: t.CreatedAt, HealthStatus: t.HealthStatus,
			StalenessAction: t.StalenessAction, AutoDLQOnTimeout: t.AutoDLQ, AutoFailOnTimeout: t.AutoFail,
		}
	}
	return out
}

func eventView(e store.TaskEvent) api.TaskEvent {
	return api.TaskEvent{
		ID: e.ID, Kind: e.Kind, TaskUUID: e.TaskUUID, StepUUID: e.StepUUID, StepName: e.StepName,
		FromState: e.FromState, ToState: e.ToState, Event: e.Event, At: e.At,
	}
}
