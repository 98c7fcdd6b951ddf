package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// This file encodes a claimed step as tasker-core's step event, the JSON
// that tasker-core's Ruby and Python handler code reads:
//
//	{"event_id", "task_uuid", "step_uuid", "correlation_id",
//	 "task_correlation_id", "parent_correlation_id", "traceparent" (tracing only),
//	 "task_sequence_step": {
//	   "task": {"task": {<task row>}, "task_name", "task_version", "namespace_name"},
//	   "workflow_step": {<step row; attempts before this run>},
//	   "dependency_results": {<ancestor name>: <its StepExecutionResult>},
//	   "step_definition": {<the template step>}}}
//
// docs/capi.md describes every field.

type stepEvent struct {
	EventID             string     `json:"event_id"`
	TaskUUID            uuid.UUID  `json:"task_uuid"`
	StepUUID            uuid.UUID  `json:"step_uuid"`
	CorrelationID       uuid.UUID  `json:"correlation_id"`
	TaskCorrelationID   uuid.UUID  `json:"task_correlation_id"`
	ParentCorrelationID *uuid.UUID `json:"parent_correlation_id"`
	// Traceparent is the W3C traceparent of the worker's span for this
	// run, when tracing is on: a handler's own spans join the task's trace
	// as its children.
	Traceparent      string           `json:"traceparent,omitempty"`
	TaskSequenceStep taskSequenceStep `json:"task_sequence_step"`
}

type taskSequenceStep struct {
	Task              taskForHandler             `json:"task"`
	WorkflowStep      workflowStepRecord         `json:"workflow_step"`
	DependencyResults map[string]json.RawMessage `json:"dependency_results"`
	StepDefinition    stepDefinition             `json:"step_definition"`
}

type taskForHandler struct {
	Task          taskRecord `json:"task"`
	TaskName      string     `json:"task_name"`
	TaskVersion   string     `json:"task_version"`
	NamespaceName string     `json:"namespace_name"`
}

type taskRecord struct {
	TaskUUID            uuid.UUID       `json:"task_uuid"`
	NamedTaskUUID       *uuid.UUID      `json:"named_task_uuid"`
	Complete            bool            `json:"complete"`
	RequestedAt         *time.Time      `json:"requested_at"`
	Initiator           *string         `json:"initiator"`
	SourceSystem        *string         `json:"source_system"`
	Reason              *string         `json:"reason"`
	Tags                []string        `json:"tags"`
	Context             json.RawMessage `json:"context"`
	IdentityHash        *string         `json:"identity_hash"`
	Priority            int             `json:"priority"`
	CreatedAt           *time.Time      `json:"created_at"`
	UpdatedAt           *time.Time      `json:"updated_at"`
	CorrelationID       uuid.UUID       `json:"correlation_id"`
	ParentCorrelationID *uuid.UUID      `json:"parent_correlation_id"`
}

type workflowStepRecord struct {
	WorkflowStepUUID      uuid.UUID       `json:"workflow_step_uuid"`
	TaskUUID              uuid.UUID       `json:"task_uuid"`
	NamedStepUUID         *uuid.UUID      `json:"named_step_uuid"`
	Name                  string          `json:"name"`
	TemplateStepName      string          `json:"template_step_name"`
	Retryable             bool            `json:"retryable"`
	MaxAttempts           int             `json:"max_attempts"`
	InProcess             bool            `json:"in_process"`
	Processed             bool            `json:"processed"`
	ProcessedAt           *time.Time      `json:"processed_at"`
	Attempts              int             `json:"attempts"`
	LastAttemptedAt       *time.Time      `json:"last_attempted_at"`
	BackoffRequestSeconds *int            `json:"backoff_request_seconds"`
	Inputs                json.RawMessage `json:"inputs"`
	Results               json.RawMessage `json:"results"`
	Checkpoint            json.RawMessage `json:"checkpoint"`
	CreatedAt             *time.Time      `json:"created_at"`
	UpdatedAt             *time.Time      `json:"updated_at"`
}

type stepDefinition struct {
	Name             string                    `json:"name"`
	Description      *string                   `json:"description"`
	Handler          handlerDefinition         `json:"handler"`
	Type             string                    `json:"type"`
	SystemDependency *string                   `json:"system_dependency"`
	Dependencies     []string                  `json:"dependencies"`
	Retry            retryDefinition           `json:"retry"`
	TimeoutSeconds   *int                      `json:"timeout_seconds"`
	PublishesEvents  []template.PublishedEvent `json:"publishes_events"`
	BatchConfig      *template.BatchConfig     `json:"batch_config"`
}

type handlerDefinition struct {
	Callable       string          `json:"callable"`
	Method         string          `json:"method"`
	Resolver       *string         `json:"resolver"`
	Initialization json.RawMessage `json:"initialization"`
}

type retryDefinition struct {
	Retryable     bool   `json:"retryable"`
	MaxAttempts   int    `json:"max_attempts"`
	Backoff       string `json:"backoff"`
	BackoffBaseMs int    `json:"backoff_base_ms"`
	MaxBackoffMs  int    `json:"max_backoff_ms"`
}

// StepEvent encodes step as tasker-core's step event (docs/capi.md), the
// JSON handed to handlers outside Go, with a new event id. With the context
// the worker passes to Execute, step_definition is the step of the template
// the worker registered; otherwise it is rebuilt from the step.
func StepEvent(ctx context.Context, step *StepContext) (json.RawMessage, error) {
	var def *template.Step
	if run := runOf(ctx); run != nil {
		def = run.def
	}
	return encodeStepEvent(uuid.NewString(), step.claimed, def)
}

// encodeStepEvent encodes the step cs as tasker-core's step event with id.
// def is the step's template definition, nil when the worker does not know
// the task's template: the definition is then rebuilt from the step row
// (with no description, dependencies or batch configuration).
func encodeStepEvent(id string, cs *store.ClaimedStep, def *template.Step) (json.RawMessage, error) {
	t, st := &cs.Task, &cs.Step
	ev := stepEvent{
		EventID: id, TaskUUID: t.UUID, StepUUID: st.UUID,
		CorrelationID: t.CorrelationID, TaskCorrelationID: t.CorrelationID, ParentCorrelationID: t.ParentCorrelationID,
		Traceparent: t.TraceParent,
		TaskSequenceStep: taskSequenceStep{
			Task: taskForHandler{
				Task: taskRecord{
					TaskUUID: t.UUID, NamedTaskUUID: optUUID(t.NamedTaskUUID), Complete: t.Complete,
					RequestedAt: optTime(t.RequestedAt), Initiator: optString(t.Initiator),
					SourceSystem: optString(t.SourceSystem), Reason: optString(t.Reason), Tags: nonNil(t.Tags),
					Context: jsonOr(t.Context, `{}`), IdentityHash: optString(t.IdentityHash), Priority: t.Priority,
					CreatedAt: optTime(t.CreatedAt), UpdatedAt: optTime(t.UpdatedAt),
					CorrelationID: t.CorrelationID, ParentCorrelationID: t.ParentCorrelationID,
				},
				TaskName: t.Name, TaskVersion: t.Version, NamespaceName: t.Namespace,
			},
			WorkflowStep: workflowStepRecord{
				WorkflowStepUUID: st.UUID, TaskUUID: st.TaskUUID, NamedStepUUID: optUUID(st.NamedStepUUID),
				Name: st.Name, TemplateStepName: templateStepName(st), Retryable: st.Retry.Retryable,
				MaxAttempts: st.Retry.MaxAttempts, InProcess: true, Processed: false,
				// tasker-core hydrates the step before its claim counts the
				// attempt: handlers compute the current attempt as
				// attempts + 1.
				Attempts:        max(st.Attempts-1, 0),
				LastAttemptedAt: st.LastAttemptedAt, BackoffRequestSeconds: st.BackoffRequestSeconds,
				Inputs: jsonOr(st.Inputs, `{}`), Results: nil, Checkpoint: jsonOr(st.Checkpoint, `null`),
				CreatedAt: optTime(st.CreatedAt), UpdatedAt: optTime(st.UpdatedAt),
			},
			DependencyResults: dependencyResults(cs.Dependencies),
			StepDefinition:    definitionOf(st, def),
		},
	}
	return json.Marshal(ev)
}

func templateStepName(st *store.Step) string {
	if st.TemplateStepName != "" {
		return st.TemplateStepName
	}
	return st.Name
}

// definitionOf is the template step as tasker-core's step_definition.
func definitionOf(st *store.Step, def *template.Step) stepDefinition {
	if def == nil {
		init := json.RawMessage(`{}`)
		if st.StepType != string(template.StepBatchWorker) {
			// Ordinary steps are created with the template's
			// initialization as their inputs.
			init = jsonOr(st.Inputs, `{}`)
		}
		d := stepDefinition{
			Name: templateStepName(st),
			Handler: handlerDefinition{Callable: st.HandlerCallable, Method: methodOr(st.HandlerMethod),
				Initialization: init},
			Type: stepTypeOr(st.StepType), Dependencies: []string{},
			Retry: retryDefinition{Retryable: st.Retry.Retryable, MaxAttempts: st.Retry.MaxAttempts,
				Backoff: st.Retry.Backoff, BackoffBaseMs: st.Retry.BackoffBase, MaxBackoffMs: st.Retry.MaxBackoffMs},
			PublishesEvents: []template.PublishedEvent{},
		}
		if st.TimeoutSeconds > 0 {
			d.TimeoutSeconds = &st.TimeoutSeconds
		}
		return d
	}
	init, err := json.Marshal(def.Handler.Initialization)
	if err != nil || def.Handler.Initialization == nil {
		init = json.RawMessage(`{}`)
	}
	d := stepDefinition{
		Name: def.Name, Description: optString(def.Description),
		Handler: handlerDefinition{Callable: def.Handler.Callable, Method: methodOr(def.Handler.Method),
			Resolver: optString(def.Handler.Resolver), Initialization: init},
		Type: stepTypeOr(string(def.Type)), SystemDependency: optString(def.SystemDependency),
		Dependencies: nonNil(def.Dependencies),
		Retry: retryDefinition{Retryable: def.Retry.Retryable, MaxAttempts: def.Retry.MaxAttempts,
			Backoff: string(def.Retry.Backoff), BackoffBaseMs: def.Retry.BackoffBaseMs, MaxBackoffMs: def.Retry.MaxBackoffMs},
		PublishesEvents: def.PublishesEvents, BatchConfig: def.BatchConfig,
	}
	if d.PublishesEvents == nil {
		d.PublishesEvents = []template.PublishedEvent{}
	}
	if def.TimeoutSeconds > 0 {
		d.TimeoutSeconds = &def.TimeoutSeconds
	}
	return d
}

// dependencyResults gives each ancestor's stored execution result; a stored
// value that is not one (a result set by hand) is wrapped as a successful
// result whose "result" is the value.
func dependencyResults(deps map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(deps))
	for name, raw := range deps {
		var probe struct {
			Success *bool `json:"success"`
		}
		if len(raw) > 0 && json.Unmarshal(raw, &probe) == nil && probe.Success != nil {
			out[name] = raw
			continue
		}
		value := jsonOr(raw, `null`)
		if bytes.Equal(bytes.TrimSpace(value), []byte(`null`)) {
			value = json.RawMessage(`{}`)
		}
		wrapped, _ := json.Marshal(map[string]any{
			"success": true, "result": value, "status": "completed", "metadata": map[string]any{},
		})
		out[name] = wrapped
	}
	return out
}

func jsonOr(raw json.RawMessage, def string) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage(def)
	}
	return raw
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optUUID(u uuid.UUID) *uuid.UUID {
	if u == uuid.Nil {
		return nil
	}
	return &u
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func methodOr(m string) string {
	if m == "" {
		return template.DefaultHandlerMethod
	}
	return m
}

func stepTypeOr(t string) string {
	if t == "" {
		return string(template.StepStandard)
	}
	return t
}
