package workertest

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/worker"
)

func TestRunPassesContextAndResult(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "v")
	h := worker.HandlerFunc(func(ctx context.Context, step *worker.StepContext) worker.Result {
		return worker.Success(map[string]any{"seen": ctx.Value(key{}), "step": step.StepName()}, map[string]any{"m": 1})
	})
	res := RunContext(ctx, h, NewStep("s").Build())
	require.True(t, res.IsSuccess())
	require.Equal(t, map[string]any{"m": 1}, res.Metadata())
	var out struct{ Seen, Step string }
	require.NoError(t, DecodeValue(res, &out))
	require.Equal(t, "v", out.Seen)
	require.Equal(t, "s", out.Step)
}

func TestRunTurnsPanicsIntoPermanentFailures(t *testing.T) {
	res := Run(worker.HandlerFunc(func(context.Context, *worker.StepContext) worker.Result { panic("boom") }), NewStep("s").Build())
	require.False(t, res.IsSuccess())
	require.False(t, res.Retryable())
	require.Equal(t, stepresult.ErrorTypeHandlerPanic, res.ErrorType())
	require.Contains(t, res.Message(), "boom")
	require.Contains(t, res.Metadata()["panic_stack"], "run_test.go")
}

// TestRunFailsUnreadableInputs: as in a worker, a handler that looked up an
// input of a context that is not a JSON object fails as a permanent
// ValidationError, whatever it returned.
func TestRunFailsUnreadableInputs(t *testing.T) {
	h := worker.HandlerFunc(func(_ context.Context, step *worker.StepContext) worker.Result {
		return worker.Success(step.InputOr("n", 1), nil)
	})
	res := Run(h, NewStep("s").WithContext([]int{1, 2}).Build())
	require.False(t, res.IsSuccess())
	require.False(t, res.Retryable())
	require.Equal(t, stepresult.ErrorTypeValidation, res.ErrorType())
	require.Equal(t, "task context is a JSON array, not an object", res.Message())

	require.True(t, Run(h, NewStep("s").WithContext(map[string]int{"n": 2}).Build()).IsSuccess())
}

func TestRunRejectsUnencodableResults(t *testing.T) {
	res := Run(worker.HandlerFunc(func(context.Context, *worker.StepContext) worker.Result {
		return worker.Success(math.Inf(1), nil)
	}), NewStep("s").Build())
	require.False(t, res.IsSuccess())
	require.Equal(t, stepresult.ErrorTypeInvalidResult, res.ErrorType())
	require.False(t, res.Retryable())
}

func TestValue(t *testing.T) {
	raw, err := Value(worker.Success(nil, nil))
	require.NoError(t, err)
	require.JSONEq(t, `{}`, string(raw))
	raw, err = Value(worker.Success([]int{1, 2}, nil))
	require.NoError(t, err)
	require.JSONEq(t, `[1,2]`, string(raw))

	_, err = Value(worker.Failure("nope", "PermanentError", false))
	require.ErrorContains(t, err, "PermanentError: nope")
	var v any
	require.Error(t, DecodeValue(worker.Failure("nope", "PermanentError", false), &v))
	var wrongType int
	require.Error(t, DecodeValue(worker.Success("text", nil), &wrongType))
}
