package workertest

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/worker"
)

// Run calls h on step with a background context. See RunContext.
func Run(h worker.Handler, step *worker.StepContext) worker.Result {
	return RunContext(context.Background(), h, step)
}

// RunContext calls h on step the way a worker does: a panic becomes a
// non-retryable failure of type handler_panic (the stack is kept in the
// metadata under "panic_stack"), a lookup (Input, InputOr, Config) that
// found the task context or step configuration not to be a JSON object
// makes the result a non-retryable failure of type ValidationError (see
// worker.StepContext.Err), and a success value that cannot be encoded as
// JSON becomes a non-retryable failure of type invalid_result.
func RunContext(ctx context.Context, h worker.Handler, step *worker.StepContext) (res worker.Result) {
	defer func() {
		if p := recover(); p != nil {
			res = worker.Failure(fmt.Sprintf("handler panicked: %v", p), stepresult.ErrorTypeHandlerPanic, false).
				WithMetadata(map[string]any{"panic_stack": string(debug.Stack())})
		}
	}()
	res = h.Handle(ctx, step)
	if err := step.Err(); err != nil {
		return worker.Failure(strings.ReplaceAll(err.Error(), "\n", "; "), stepresult.ErrorTypeValidation, false)
	}
	if res.IsSuccess() {
		if _, err := encodeJSON(res.Value()); err != nil {
			return worker.Failure(fmt.Sprintf("handler result is not JSON-encodable: %v", err),
				stepresult.ErrorTypeInvalidResult, false)
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
