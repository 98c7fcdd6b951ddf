package worker

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/store"
)

// StepContext is everything a handler knows about the step it runs: the
// task's context (its input), the step's configuration (the template's
// handler.initialization), the results of every completed ancestor step by
// name, and the attempt.
type StepContext struct {
	claimed *store.ClaimedStep
	ctx     map[string]any // decoded task context, lazily
	cfg     map[string]any // decoded step config, lazily
}

// NewStepContext wraps a claimed step (used by executors and tests).
func NewStepContext(c *store.ClaimedStep) *StepContext { return &StepContext{claimed: c} }

// TaskUUID is the task's id.
func (s *StepContext) TaskUUID() uuid.UUID { return s.claimed.Task.UUID }

// StepUUID is the step's id.
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

// Attempt is this execution's attempt number (1 for the first run).
func (s *StepContext) Attempt() int { return s.claimed.Step.Attempts }

// MaxAttempts is the step's attempt limit.
func (s *StepContext) MaxAttempts() int { return s.claimed.Step.Retry.MaxAttempts }

// IsRetry reports whether an earlier attempt ran.
func (s *StepContext) IsRetry() bool { return s.claimed.Step.Attempts > 1 }

// IsLastRetry reports whether this is the last attempt allowed.
func (s *StepContext) IsLastRetry() bool {
	return s.claimed.Step.Attempts >= s.claimed.Step.Retry.MaxAttempts
}

// Checkpoint is the step's saved progress (nil when none).
func (s *StepContext) Checkpoint() json.RawMessage { return s.claimed.Step.Checkpoint }

// RawContext is the task context as JSON.
func (s *StepContext) RawContext() json.RawMessage { return s.claimed.Task.Context }

// DecodeContext unmarshals the task context into v.
func (s *StepContext) DecodeContext(v any) error {
	if err := json.Unmarshal(s.claimed.Task.Context, v); err != nil {
		return fmt.Errorf("decoding task context: %w", err)
	}
	return nil
}

// Input returns a top-level field of the task context.
func (s *StepContext) Input(key string) (any, bool) {
	if s.ctx == nil {
		s.ctx = map[string]any{}
		_ = json.Unmarshal(s.claimed.Task.Context, &s.ctx)
	}
	v, ok := s.ctx[key]
	return v, ok
}

// InputOr returns a top-level field of the task context, or def.
func (s *StepContext) InputOr(key string, def any) any {
	if v, ok := s.Input(key); ok && v != nil {
		return v
	}
	return def
}

// DecodeInput unmarshals one top-level field of the task context into v.
func (s *StepContext) DecodeInput(key string, v any) error {
	return decodeField(s.claimed.Task.Context, key, v, "task context")
}

// RawConfig is the step configuration (handler.initialization) as JSON.
func (s *StepContext) RawConfig() json.RawMessage { return s.claimed.Step.Inputs }

// Config returns one key of the step configuration.
func (s *StepContext) Config(key string) (any, bool) {
	if s.cfg == nil {
		s.cfg = map[string]any{}
		_ = json.Unmarshal(s.claimed.Step.Inputs, &s.cfg)
	}
	v, ok := s.cfg[key]
	return v, ok
}

// DecodeConfig unmarshals one key of the step configuration into v (the whole
// configuration when key is empty).
func (s *StepContext) DecodeConfig(key string, v any) error {
	if key == "" {
		if err := json.Unmarshal(s.claimed.Step.Inputs, v); err != nil {
			return fmt.Errorf("decoding step config: %w", err)
		}
		return nil
	}
	return decodeField(s.claimed.Step.Inputs, key, v, "step config")
}

// DependencyNames lists the completed ancestors whose results are available.
func (s *StepContext) DependencyNames() []string {
	out := make([]string, 0, len(s.claimed.Dependencies))
	for n := range s.claimed.Dependencies {
		out = append(out, n)
	}
	return out
}

// DependencyResult returns the value an ancestor step returned (the
// "result" field of its stored execution result).
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

// DecodeDependency unmarshals an ancestor's result into v.
func (s *StepContext) DecodeDependency(name string, v any) error {
	raw, ok := s.DependencyResult(name)
	if !ok {
		return fmt.Errorf("no result from step %q (is it an ancestor of %q?)", name, s.StepName())
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decoding result of step %q: %w", name, err)
	}
	return nil
}

// DependencyField digs into an ancestor's result: path elements are object
// keys or array indexes.
func (s *StepContext) DependencyField(name string, path ...string) (any, bool) {
	raw, ok := s.DependencyResult(name)
	if !ok {
		return nil, false
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, false
	}
	for _, p := range path {
		switch node := v.(type) {
		case map[string]any:
			if v, ok = node[p]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(node) {
				return nil, false
			}
			v = node[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func decodeField(doc json.RawMessage, key string, v any, what string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		return fmt.Errorf("decoding %s: %w", what, err)
	}
	raw, ok := m[key]
	if !ok {
		return fmt.Errorf("%s has no field %q", what, key)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decoding %s field %q: %w", what, key, err)
	}
	return nil
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
	return json.Marshal(stepJSON{
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
}
