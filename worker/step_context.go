package worker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
)

// StepContext is everything a handler knows about the step it runs: the
// task's context (its input), the step's configuration (the template's
// handler.initialization), the results of every completed ancestor step by
// name, and the attempt.
//
// Its methods are safe to call from many goroutines at once: a handler may
// fan out and read inputs everywhere. Input, InputOr and Config decode the
// task context and the step configuration once, on first use. Both must be
// JSON objects; when one is not, those lookups find nothing, Err says why,
// and the worker fails the step permanently with error type
// ValidationError and that message, whatever the handler returned.
type StepContext struct {
	claimed *store.ClaimedStep
	input   lazyObject // the task context
	config  lazyObject // the step configuration
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

// Input returns a top-level field of the task context. It finds nothing
// when the context is not a JSON object; see Err.
func (s *StepContext) Input(key string) (any, bool) {
	m, _ := s.input.get(s.claimed.Task.Context, "task context")
	v, ok := m[key]
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

// Config returns one key of the step configuration. It finds nothing when
// the configuration is not a JSON object; see Err.
func (s *StepContext) Config(key string) (any, bool) {
	m, _ := s.config.get(s.claimed.Step.Inputs, "step config")
	v, ok := m[key]
	return v, ok
}

// Err says why Input, InputOr or Config found nothing: the task context or
// the step configuration they read is not a JSON object. It is nil when
// they read both fine or were not called. A handler may check it; if it is
// not nil once the handler returns, the worker fails the step permanently
// (ValidationError, with this message) whatever the handler returned, since
// the handler worked without its data.
func (s *StepContext) Err() error {
	return errors.Join(s.input.failure(), s.config.failure())
}

// decodeFailure turns a handler's result into the permanent
// ValidationError failure described at Err when a lookup could not decode
// its document.
func (s *StepContext) decodeFailure(r Result) Result {
	if err := s.Err(); err != nil {
		return Failure(oneLineError(err), stepresult.ErrorTypeValidation, false)
	}
	return r
}

// lazyObject is a JSON object decoded once, on first use, by whichever
// goroutine asks first; the others wait for it. (sync.Once would do, but
// its closure costs an allocation per step.)
type lazyObject struct {
	mu      sync.Mutex
	decoded atomic.Bool // set after m and err are
	m       map[string]any
	err     error
}

// get decodes raw on the first call and returns the object (empty, never
// nil, when raw is empty or null) or the reason it is not one.
func (l *lazyObject) get(raw json.RawMessage, what string) (map[string]any, error) {
	if !l.decoded.Load() {
		l.mu.Lock()
		if !l.decoded.Load() {
			l.err = decodeObject(raw, what, &l.m)
			l.decoded.Store(true)
		}
		l.mu.Unlock()
	}
	return l.m, l.err
}

// failure is the decoding error of a lookup that happened, else nil.
func (l *lazyObject) failure() error {
	if !l.decoded.Load() {
		return nil
	}
	return l.err
}

// decodeObject decodes a JSON object into *m; empty input and null read as
// {}. On error *m is the empty object.
func decodeObject(raw json.RawMessage, what string, m *map[string]any) error {
	*m = map[string]any{}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil
	}
	if trimmed[0] != '{' {
		if !json.Valid(trimmed) {
			return fmt.Errorf("%s is not valid JSON", what)
		}
		return fmt.Errorf("%s is a JSON %s, not an object", what, jsonKind(trimmed[0]))
	}
	if err := json.Unmarshal(trimmed, m); err != nil {
		*m = map[string]any{}
		return fmt.Errorf("%s is not valid JSON: %w", what, err)
	}
	return nil
}

// jsonKind names the kind of JSON value that starts with c.
func jsonKind(c byte) string {
	switch c {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	}
	return "number"
}

// oneLineError joins a multi-error onto one line.
func oneLineError(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
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
