package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Handler runs the business logic of one kind of step. Register it under the
// `handler.callable` string of the templates that use it.
//
// A handler returns Success or Failure. It should honour ctx: the worker
// cancels it when the step's timeout_seconds passes or the worker stops. A
// panic is caught and reported as a non-retryable failure.
type Handler interface {
	Handle(ctx context.Context, step *StepContext) Result
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, step *StepContext) Result

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, step *StepContext) Result { return f(ctx, step) }

// Result is what a handler returns. Build it with Success or Failure.
type Result struct {
	success    bool
	value      any
	metadata   map[string]any
	message    string
	errorType  string
	errorCode  string
	retryable  bool
	retryAfter *time.Duration
	backtrace  []string
	// system marks failures the worker made (panic, timeout, missing
	// handler): stored with status "error" instead of "failed".
	system bool
}

// Success reports that the step did its work. value is stored as the step's
// result (any JSON-encodable value; dependants read it by step name);
// metadata is optional handler metadata kept with it.
func Success(value any, metadata map[string]any) Result {
	return Result{success: true, value: value, metadata: metadata}
}

// Failure reports that the step failed. errorType classifies it (for example
// "ValidationError", "PermanentError", "RetryableError"); retryable says
// whether running the step again could succeed. Orchestration retries only
// when the template allows it, retryable is true, and attempts remain.
func Failure(message, errorType string, retryable bool) Result {
	return Result{message: message, errorType: errorType, retryable: retryable}
}

// WithRetryAfter asks orchestration to wait d before the next attempt
// instead of the template's backoff (capped by configuration).
func (r Result) WithRetryAfter(d time.Duration) Result {
	r.retryAfter = &d
	return r
}

// WithErrorCode attaches an application error code to a failure.
func (r Result) WithErrorCode(code string) Result {
	r.errorCode = code
	return r
}

// WithBacktrace attaches a stack trace to a failure (bindings pass the
// foreign exception's backtrace here).
func (r Result) WithBacktrace(lines []string) Result {
	r.backtrace = lines
	return r
}

// WithMetadata attaches handler metadata (merged into any already set).
func (r Result) WithMetadata(md map[string]any) Result {
	merged := make(map[string]any, len(r.metadata)+len(md))
	for k, v := range r.metadata {
		merged[k] = v
	}
	for k, v := range md {
		merged[k] = v
	}
	r.metadata = merged
	return r
}

// IsSuccess reports whether r is a success.
func (r Result) IsSuccess() bool { return r.success }

// Value returns the success value.
func (r Result) Value() any { return r.value }

// Message returns the failure message.
func (r Result) Message() string { return r.message }

// ErrorType returns the failure's error type.
func (r Result) ErrorType() string { return r.errorType }

// ErrorCode returns the failure's error code.
func (r Result) ErrorCode() string { return r.errorCode }

// Retryable reports whether a failure may be retried.
func (r Result) Retryable() bool { return r.retryable }

// RetryAfter returns the requested retry delay, if any.
func (r Result) RetryAfter() (time.Duration, bool) {
	if r.retryAfter == nil {
		return 0, false
	}
	return *r.retryAfter, true
}

// Metadata returns the handler metadata.
func (r Result) Metadata() map[string]any { return r.metadata }

// Backtrace returns the failure's stack trace, if any.
func (r Result) Backtrace() []string { return r.backtrace }

// systemFailure is a failure the worker reports on a handler's behalf.
func systemFailure(message, errorType string, retryable bool) Result {
	return Result{message: message, errorType: errorType, retryable: retryable, system: true}
}

// Registry maps handler.callable strings to handlers. It is safe for
// concurrent use.
type Registry struct {
	mu       sync.RWMutex
	handlers map[string]Handler
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{handlers: map[string]Handler{}} }

// Register adds a handler under callable. Registering the same callable
// twice is an error: two handlers for one name is always a mistake.
func (r *Registry) Register(callable string, h Handler) error {
	if callable == "" {
		return fmt.Errorf("registering handler: empty callable")
	}
	if h == nil {
		return fmt.Errorf("registering handler %q: nil handler", callable)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.handlers[callable]; dup {
		return fmt.Errorf("registering handler %q: already registered", callable)
	}
	r.handlers[callable] = h
	return nil
}

// MustRegister is Register that panics on error, for init-time wiring.
func (r *Registry) MustRegister(callable string, h Handler) {
	if err := r.Register(callable, h); err != nil {
		panic(err)
	}
}

// RegisterFunc registers a function handler.
func (r *Registry) RegisterFunc(callable string, f func(ctx context.Context, step *StepContext) Result) error {
	return r.Register(callable, HandlerFunc(f))
}

// Lookup finds the handler of callable.
func (r *Registry) Lookup(callable string) (Handler, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	h, ok := r.handlers[callable]
	return h, ok
}

// Callables lists the registered callables, sorted.
func (r *Registry) Callables() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.handlers))
	for c := range r.handlers {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// encodeValue turns a success value into JSON.
func encodeValue(v any) (json.RawMessage, error) {
	if v == nil {
		return json.RawMessage(`{}`), nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		if !json.Valid(raw) {
			return nil, fmt.Errorf("result is not valid JSON")
		}
		return raw, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding result: %w", err)
	}
	return b, nil
}
