package workertest

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"

	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/worker"
)

// Run calls the typed handler h on the step b builds, with a background
// context. See RunContext.
func Run[In, Out any](h worker.Handler[In, Out], b *StepBuilder) (Out, error) {
	return RunContext(context.Background(), h, b)
}

// RunContext calls h on the step b builds the way a worker does and returns
// what it returned: the task context is decoded into In first (when it
// does not decode the handler is not called and the error is the permanent
// ValidationError the step would fail with); a panic becomes a permanent
// error of type handler_panic (its stack in the metadata under
// "panic_stack"); an output that cannot be encoded as JSON becomes a
// permanent error of type invalid_result. worker.Classify(err) gives the
// error's classification as the worker would store it.
//
// It panics when b holds a value that could not be encoded (see
// StepBuilder.Build).
func RunContext[In, Out any](ctx context.Context, h worker.Handler[In, Out], b *StepBuilder) (out Out, err error) {
	step, err := worker.NewStep[In](b.Build())
	if err != nil {
		return out, err
	}
	defer func() {
		if p := recover(); p != nil {
			err = &worker.Error{Err: fmt.Errorf("handler panicked: %v", p), Type: stepresult.ErrorTypeHandlerPanic,
				Permanent: true, Metadata: map[string]any{"panic_stack": string(debug.Stack())}}
		}
	}()
	out, err = h.Handle(ctx, step)
	if err == nil {
		if _, encErr := json.Marshal(out); encErr != nil {
			err = &worker.Error{Err: fmt.Errorf("handler result is not JSON-encodable: %w", encErr),
				Type: stepresult.ErrorTypeInvalidResult, Permanent: true}
		}
	}
	return out, err
}

// Execute runs the step b builds through e (a worker.Registry, or the
// executor Registry.Lookup found for a callable) with a background context.
// See ExecuteContext.
func Execute(e worker.Executor, b *StepBuilder) worker.Result {
	return ExecuteContext(context.Background(), e, b)
}

// ExecuteContext runs the step b builds through e and returns the result a
// worker would record: a panic becomes a non-retryable failure of type
// handler_panic (the stack is kept in the metadata under "panic_stack"),
// and a success value that cannot be encoded as JSON becomes a
// non-retryable failure of type invalid_result. Value and DecodeValue read
// a success's value as the worker would store it.
//
// It panics when b holds a value that could not be encoded (see
// StepBuilder.Build).
func ExecuteContext(ctx context.Context, e worker.Executor, b *StepBuilder) worker.Result {
	return execute(ctx, e, b.Build())
}

func execute(ctx context.Context, e worker.Executor, step *worker.StepContext) (res worker.Result) {
	defer func() {
		if p := recover(); p != nil {
			res = worker.ResultOf(nil, &worker.Error{Err: fmt.Errorf("handler panicked: %v", p),
				Type: stepresult.ErrorTypeHandlerPanic, Permanent: true,
				Metadata: map[string]any{"panic_stack": string(debug.Stack())}})
		}
	}()
	res = e.Execute(ctx, step)
	if res.IsSuccess() {
		if _, err := encodeJSON(res.Value()); err != nil {
			return worker.ResultOf(nil, &worker.Error{Err: fmt.Errorf("handler result is not JSON-encodable: %w", err),
				Type: stepresult.ErrorTypeInvalidResult, Permanent: true})
		}
	}
	return res
}

// Value returns the JSON a worker would store as the result of r: the
// encoded success value (the empty object for a nil value). It is an error
// to ask for the value of a failure.
func Value(r worker.Result) (json.RawMessage, error) {
	if !r.IsSuccess() {
		return nil, fmt.Errorf("result is a failure (%s: %s), not a success", r.ErrorType(), r.Message())
	}
	raw, err := encodeJSON(r.Value())
	if err != nil {
		return nil, fmt.Errorf("encoding result value: %w", err)
	}
	return raw, nil
}

// DecodeValue decodes the JSON form of a success value into v, the way a
// dependant step would read it.
func DecodeValue(r worker.Result, v any) error {
	raw, err := Value(r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decoding result value: %w", err)
	}
	return nil
}
