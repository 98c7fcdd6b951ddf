package worker

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// StepContext is the untyped view of the step being run: identity, attempt,
// the raw task context and step configuration, and the stored results of
// every completed ancestor. A typed handler reaches it through the
// *StepContext embedded in its Step; executors receive it directly.
//
// Its methods are safe to call from many goroutines at once; only
// PublishEvent changes it.
type StepContext struct {
	claimed *store.ClaimedStep
	events  *eventSink
}

// StepData describes a step for NewStepContext: what a worker knows about
// a step it claimed. Zero fields read as empty (an empty Context or Config
// as {}).
type StepData struct {
	TaskUUID      uuid.UUID
	StepUUID      uuid.UUID
	CorrelationID uuid.UUID
	// Namespace, TaskName and TaskVersion identify the task's template.
	Namespace   string
	TaskName    string
	TaskVersion string
	// StepName is the step's name; TemplateStepName the template step it
	// was made from (they differ only for steps created at run time).
	StepName         string
	TemplateStepName string
	StepType         string
	// Callable and Method are the template's handler.callable and
	// handler.method.
	Callable string
	Method   string
	// Context is the task context (the task's input), Config the step
	// configuration (handler.initialization).
	Context json.RawMessage
	Config  json.RawMessage
	// Dependencies maps each completed ancestor's name to its stored step
	// execution result ({"success": true, "result": ..., ...}).
	Dependencies map[string]json.RawMessage
	// Attempt is this run's attempt number (1 for the first run);
	// MaxAttempts and Retryable are the step's retry policy.
	Attempt     int
	MaxAttempts int
	Retryable   bool
	// TimeoutSeconds is the step's timeout_seconds (0: the worker default).
	TimeoutSeconds int
	// Checkpoint is the saved checkpoint record, if any (see
	// YieldCheckpoint).
	Checkpoint json.RawMessage
	// PublishesEvents are the step's declared domain events (what
	// PublishEvent accepts).
	PublishesEvents []template.PublishedEvent
}

// NewStepContext builds the view of the step d describes. Workers build it
// from the claimed step; tests and executors outside a worker build it from
// StepData (package workertest has a builder).
func NewStepContext(d StepData) *StepContext {
	return newStepContext(&store.ClaimedStep{
		Task: store.ClaimedTask{
			UUID: d.TaskUUID, Namespace: d.Namespace, Name: d.TaskName, Version: d.TaskVersion,
			Context: d.Context, CorrelationID: d.CorrelationID, Tags: []string{},
		},
		Step: store.Step{
			UUID: d.StepUUID, TaskUUID: d.TaskUUID, Name: d.StepName, TemplateStepName: d.TemplateStepName,
			StepType: d.StepType, HandlerCallable: d.Callable, HandlerMethod: d.Method,
			Retry:          store.RetryPolicy{Retryable: d.Retryable, MaxAttempts: d.MaxAttempts},
			TimeoutSeconds: d.TimeoutSeconds, Attempts: d.Attempt, Inputs: d.Config, Checkpoint: d.Checkpoint,
		},
		Dependencies: d.Dependencies,
	}, d.PublishesEvents)
}

// newStepContext wraps a claimed step, as the worker hands it to executors,
// with the step's declared events.
func newStepContext(c *store.ClaimedStep, decls []template.PublishedEvent) *StepContext {
	return &StepContext{claimed: c, events: &eventSink{decls: decls, callable: c.Step.HandlerCallable}}
}

// TaskUUID is the task's id.
func (s *StepContext) TaskUUID() uuid.UUID { return s.claimed.Task.UUID }

// StepUUID is the step's id. It is the same on every attempt, which makes
// it a good idempotency key for the services a handler calls.
func (s *StepContext) StepUUID() uuid.UUID { return s.claimed.Step.UUID }

// StepName is the step's name.
func (s *StepContext) StepName() string { return s.claimed.Step.Name }

// Namespace, TaskName and TaskVersion identify the task's template.
func (s *StepContext) Namespace() string   { return s.claimed.Task.Namespace }
func (s *StepContext) TaskName() string    { return s.claimed.Task.Name }
func (s *StepContext) TaskVersion() string { return s.claimed.Task.Version }

// CorrelationID is the task's correlation id (for tracing).
func (s *StepContext) CorrelationID() uuid.UUID { return s.claimed.Task.CorrelationID }

// Callable is the template's handler.callable: the name the step's handler
// is registered under.
func (s *StepContext) Callable() string { return s.claimed.Step.HandlerCallable }

// Method is the template's handler.method (default "call"), for handlers
// that serve several methods.
func (s *StepContext) Method() string { return s.claimed.Step.HandlerMethod }

// Attempt is this run's attempt number: 1 for the first run.
func (s *StepContext) Attempt() int { return s.claimed.Step.Attempts }

// MaxAttempts is the step's retry.max_attempts.
func (s *StepContext) MaxAttempts() int { return s.claimed.Step.Retry.MaxAttempts }

// IsRetry reports whether an earlier attempt ran.
func (s *StepContext) IsRetry() bool { return s.claimed.Step.Attempts > 1 }

// IsLastAttempt reports whether this is the last attempt the step's retry
// policy allows: a failure now ends the step, retryable or not.
func (s *StepContext) IsLastAttempt() bool {
	return s.claimed.Step.Attempts >= s.claimed.Step.Retry.MaxAttempts
}

// Checkpoint returns the progress the step saved with YieldCheckpoint
// (on an earlier run of this attempt, or on an earlier attempt), and
// whether there is any.
func (s *StepContext) Checkpoint() (Checkpoint, bool) {
	raw := s.claimed.Step.Checkpoint
	if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
		return Checkpoint{}, false
	}
	var cp Checkpoint
	if err := json.Unmarshal(raw, &cp); err != nil {
		return Checkpoint{}, false
	}
	if string(cp.AccumulatedResults) == "null" {
		cp.AccumulatedResults = nil
	}
	return cp, true
}

// RawCheckpoint is the whole saved checkpoint record as JSON ({"cursor",
// "items_processed", "accumulated_results", "timestamp", "history"}), nil
// when there is none.
func (s *StepContext) RawCheckpoint() json.RawMessage { return s.claimed.Step.Checkpoint }

// RawContext is the task context (the task's input) as JSON.
func (s *StepContext) RawContext() json.RawMessage { return s.claimed.Task.Context }

// RawConfig is the step configuration (the template's
// handler.initialization, after environment overrides) as JSON.
func (s *StepContext) RawConfig() json.RawMessage { return s.claimed.Step.Inputs }

// DependencyNames lists the completed ancestors whose results are available
// (every ancestor, not only the direct parents).
func (s *StepContext) DependencyNames() []string {
	out := make([]string, 0, len(s.claimed.Dependencies))
	for n := range s.claimed.Dependencies {
		out = append(out, n)
	}
	return out
}

// DependencyResult returns, as JSON, the value an ancestor step's handler
// returned (the "result" field of its stored execution result), and
// whether the step has a result from that ancestor. Dependency decodes it.
func (s *StepContext) DependencyResult(name string) (json.RawMessage, bool) {
	raw, ok := s.claimed.Dependencies[name]
	if !ok {
		return nil, false
	}
	var wrapper struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(raw, &wrapper); err != nil || wrapper.Result == nil {
		return raw, true
	}
	return wrapper.Result, true
}

// stepJSON is the JSON form of a StepContext: what handlers outside Go
// (ChannelExecutor events, WASM modules) receive.
type stepJSON struct {
	Task              store.ClaimedTask          `json:"task"`
	Step              stepJSONStep               `json:"workflow_step"`
	Handler           stepJSONHandler            `json:"handler"`
	StepConfig        json.RawMessage            `json:"step_config"`
	DependencyResults map[string]json.RawMessage `json:"dependency_results"`
}

type stepJSONStep struct {
	UUID             uuid.UUID       `json:"step_uuid"`
	Name             string          `json:"name"`
	TemplateStepName string          `json:"template_step_name"`
	StepType         string          `json:"step_type"`
	Attempt          int             `json:"attempt"`
	MaxAttempts      int             `json:"max_attempts"`
	Retryable        bool            `json:"retryable"`
	TimeoutSeconds   int             `json:"timeout_seconds"`
	Checkpoint       json.RawMessage `json:"checkpoint,omitempty"`
}

type stepJSONHandler struct {
	Callable string `json:"callable"`
	Method   string `json:"method"`
}

// MarshalJSON encodes the step for handlers outside Go: {"task": {...,
// "context": ...}, "workflow_step": {...}, "handler": {"callable",
// "method"}, "step_config": ..., "dependency_results": {name: stored
// result}}.
func (s *StepContext) MarshalJSON() ([]byte, error) {
	st := s.claimed.Step
	deps := s.claimed.Dependencies
	if deps == nil {
		deps = map[string]json.RawMessage{}
	}
	cfg := st.Inputs
	if len(cfg) == 0 {
		cfg = json.RawMessage(`{}`)
	}
	b, err := json.Marshal(stepJSON{
		Task: s.claimed.Task,
		Step: stepJSONStep{
			UUID: st.UUID, Name: st.Name, TemplateStepName: st.TemplateStepName, StepType: st.StepType,
			Attempt: st.Attempts, MaxAttempts: st.Retry.MaxAttempts, Retryable: st.Retry.Retryable,
			TimeoutSeconds: st.TimeoutSeconds, Checkpoint: st.Checkpoint,
		},
		Handler:           stepJSONHandler{Callable: st.HandlerCallable, Method: st.HandlerMethod},
		StepConfig:        cfg,
		DependencyResults: deps,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding step %s: %w", st.Name, err)
	}
	return b, nil
}
