package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"sync"
)

// Handler is a typed step handler: the business logic of one kind of step.
// In is the type its input is decoded into (from the task context), Out the
// type of the result it returns, which dependent steps read by this step's
// name. Register it under the template's handler.callable with Register,
// or write a plain function and adapt it with Func.
//
// Handle returns the step's result, or an error to fail the step. A plain
// error is retried (see Error); wrap it with Permanent, RetryAfter,
// WithErrorType, WithErrorCode or WithMetadata to say more. Handle should
// honour ctx: the worker cancels it when the step's timeout passes, when
// the worker loses the step's claim and when it stops (context.Cause says
// which). A panic is recovered and fails the step without a retry.
type Handler[In, Out any] interface {
	Handle(ctx context.Context, step *Step[In]) (Out, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc[In, Out any] func(ctx context.Context, step *Step[In]) (Out, error)

// Handle calls f.
func (f HandlerFunc[In, Out]) Handle(ctx context.Context, step *Step[In]) (Out, error) {
	return f(ctx, step)
}

// Func adapts fn to Handler, inferring In and Out from its signature:
//
//	worker.Register(reg, "orders.charge_card", worker.Func(chargeCard))
func Func[In, Out any](fn func(ctx context.Context, step *Step[In]) (Out, error)) HandlerFunc[In, Out] {
	return fn
}

// Register adds h to r under callable, the handler.callable string of the
// templates whose steps it runs. Registering an empty callable, a nil
// handler or a callable twice is an error.
func Register[In, Out any](r *Registry, callable string, h Handler[In, Out]) error {
	if f, isFunc := h.(HandlerFunc[In, Out]); h == nil || isFunc && f == nil {
		return fmt.Errorf("registering handler %q: nil handler", callable)
	}
	return r.RegisterExecutor(callable, typedHandler[In, Out]{h: h})
}

// Step is what a typed handler receives: its input, decoded from the task
// context before the handler runs, and the embedded StepContext with the
// step's identity, attempt, configuration, checkpoint and the results of
// its ancestors. Config and Dependency decode the configuration and the
// ancestors' results into types of the handler's choosing.
type Step[In any] struct {
	*StepContext
	// Input is the task context (the task's input) decoded into In. When
	// the context does not decode, the handler is not called: the step
	// fails as a permanent ValidationError naming the field. Use
	// json.RawMessage or map[string]any to read it untyped, and struct{}
	// to ignore it (nothing is decoded).
	Input In

	mu       sync.Mutex
	metadata map[string]any
}

// NewStep decodes the task context of sc into the input of a typed
// handler's Step, as the worker does before it calls the handler. The
// error is the permanent ValidationError the step then fails with. Only
// executors and tests that call a typed handler themselves need it.
func NewStep[In any](sc *StepContext) (*Step[In], error) {
	step := &Step[In]{StepContext: sc}
	if err := decodeInput(sc.RawContext(), &step.Input); err != nil {
		return nil, err
	}
	return step, nil
}

// Metadata returns a copy of the metadata set with SetMetadata.
func (s *Step[In]) Metadata() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.metadata)
}

// SetMetadata records handler metadata stored with the step's result (as
// metadata.custom), whether the step succeeds or fails; metadata carried
// by the handler's error wins over it. It is safe for concurrent use.
func (s *Step[In]) SetMetadata(key string, value any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.metadata == nil {
		s.metadata = map[string]any{}
	}
	s.metadata[key] = value
}

// Config decodes the step's configuration (the template's
// handler.initialization, after environment overrides) into a T. An empty
// configuration leaves T's zero value. A configuration that does not decode
// is a permanent ValidationError naming the field: the handler may return
// the error as it is.
func Config[T, In any](step *Step[In]) (T, error) {
	var v T
	raw := bytes.TrimSpace(step.RawConfig())
	if len(raw) == 0 {
		return v, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, invalid("the step configuration (handler.initialization)", err)
	}
	return v, nil
}

// Error codes of the errors Dependency returns.
const (
	// ErrorCodeMissingDependency: the step has no result from the named
	// step (it is not an ancestor, or the name is wrong).
	ErrorCodeMissingDependency = "MISSING_DEPENDENCY"
	// ErrorCodeInvalidDependency: the ancestor's result does not decode
	// into the type asked for.
	ErrorCodeInvalidDependency = "INVALID_DEPENDENCY"
)

// Dependency decodes the result of the ancestor step name (the value its
// handler returned) into a T. Every completed ancestor is available, not
// only the direct parents. A missing result or one that does not decode is
// a permanent PermanentError (error code ErrorCodeMissingDependency or
// ErrorCodeInvalidDependency): the workflow is wired wrong, and the
// handler may return the error as it is.
func Dependency[T, In any](step *Step[In], name string) (T, error) {
	var v T
	raw, ok := step.DependencyResult(name)
	if !ok {
		return v, &Error{Err: fmt.Errorf("no result from step %q (is it an ancestor of %q?)", name, step.StepName()),
			Type: ErrorTypePermanent, Code: ErrorCodeMissingDependency, Permanent: true}
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, &Error{Err: describeJSONError(fmt.Sprintf("the result of step %q", name), err),
			Type: ErrorTypePermanent, Code: ErrorCodeInvalidDependency, Permanent: true}
	}
	return v, nil
}

// typedHandler runs a Handler: the executor a Registry holds for it.
type typedHandler[In, Out any] struct {
	h Handler[In, Out]
}

// noInput is the type of a handler input that reads nothing.
var noInput = reflect.TypeFor[struct{}]()

// Execute decodes the input, calls the handler and turns what it returned
// into a Result.
func (t typedHandler[In, Out]) Execute(ctx context.Context, sc *StepContext) Result {
	step, err := NewStep[In](sc)
	if err != nil {
		return ResultOf(nil, err)
	}
	out, err := t.h.Handle(ctx, step)
	var r Result
	if err != nil {
		r = ResultOf(nil, err)
	} else {
		r = ResultOf(out, nil)
	}
	if md := step.Metadata(); len(md) > 0 {
		maps.Copy(md, r.metadata)
		r.metadata = md
	}
	return r
}

// decodeInput decodes the task context into *in; an empty context (or one
// for a handler whose input is struct{}) leaves it zero.
func decodeInput[In any](raw json.RawMessage, in *In) error {
	if reflect.TypeFor[In]() == noInput {
		return nil
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, in); err != nil {
		return invalid("the task context", err)
	}
	return nil
}

// invalid is the permanent ValidationError for a document (what) that did
// not decode.
func invalid(what string, err error) error {
	return &Error{Err: describeJSONError(what, err), Type: ErrorTypeValidation, Permanent: true}
}

// describeJSONError says which field of a JSON document (what) failed to
// decode and why.
func describeJSONError(what string, err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return fmt.Errorf("%s: field %q is a JSON %s, want %s", what, te.Field, te.Value, wantOf(te.Type))
	case errors.As(err, &te):
		return fmt.Errorf("%s is a JSON %s, want %s", what, te.Value, wantOf(te.Type))
	case errors.As(err, &se):
		return fmt.Errorf("%s is not valid JSON: %v (at byte %d)", what, se, se.Offset)
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
}

// wantOf names the JSON a Go type decodes from.
func wantOf(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return wantOf(t.Elem())
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer (" + t.String() + ")"
	case reflect.Float32, reflect.Float64:
		return "a number"
	default:
		return t.String()
	}
}
