package workertest

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/worker"
)

type greeting struct {
	Name string `json:"name"`
}

func TestRunPassesContextAndOutput(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "v")
	h := worker.Func(func(ctx context.Context, step *worker.Step[greeting]) (map[string]any, error) {
		return map[string]any{"seen": ctx.Value(key{}), "step": step.StepName(), "name": step.Input.Name}, nil
	})
	out, err := RunContext(ctx, h, NewStep("s").WithContext(map[string]string{"name": "Ada"}))
	require.NoError(t, err)
	require.Equal(t, map[string]any{"seen": "v", "step": "s", "name": "Ada"}, out)
}

func TestRunReturnsTheHandlersError(t *testing.T) {
	declined := errors.New("declined")
	h := worker.Func(func(context.Context, *worker.Step[struct{}]) (int, error) {
		return 0, worker.WithErrorCode(worker.Permanent(declined), "CARD")
	})
	_, err := Run(h, NewStep("s"))
	require.ErrorIs(t, err, declined)
	c := worker.Classify(err)
	require.True(t, c.Permanent)
	require.Equal(t, "CARD", c.Code)
}

// TestRunDecodesTheInputFirst: as on a worker, a context that does not
// decode into the handler's input fails as a permanent ValidationError and
// the handler does not run.
func TestRunDecodesTheInputFirst(t *testing.T) {
	ran := false
	h := worker.Func(func(_ context.Context, s *worker.Step[greeting]) (string, error) {
		ran = true
		return s.Input.Name, nil
	})
	_, err := Run(h, NewStep("s").WithContext([]int{1, 2}))
	require.False(t, ran)
	c := worker.Classify(err)
	require.Equal(t, stepresult.ErrorTypeValidation, c.Type)
	require.True(t, c.Permanent)
	require.EqualError(t, err, "the task context is a JSON array, want an object")
}

func TestRunTurnsPanicsIntoPermanentFailures(t *testing.T) {
	h := worker.Func(func(context.Context, *worker.Step[struct{}]) (int, error) { panic("boom") })
	_, err := Run(h, NewStep("s"))
	c := worker.Classify(err)
	require.Equal(t, stepresult.ErrorTypeHandlerPanic, c.Type)
	require.True(t, c.Permanent)
	require.ErrorContains(t, err, "boom")
	require.Contains(t, c.Metadata["panic_stack"], "run_test.go")
}

func TestRunRejectsUnencodableOutputs(t *testing.T) {
	_, err := Run(worker.Func(func(context.Context, *worker.Step[struct{}]) (float64, error) {
		return math.Inf(1), nil
	}), NewStep("s"))
	c := worker.Classify(err)
	require.Equal(t, stepresult.ErrorTypeInvalidResult, c.Type)
	require.True(t, c.Permanent)
}

func TestExecute(t *testing.T) {
	reg := worker.NewRegistry()
	require.NoError(t, worker.Register(reg, "greet", worker.Func(func(_ context.Context, s *worker.Step[greeting]) (map[string]string, error) {
		s.SetMetadata("attempt", s.Attempt())
		return map[string]string{"greeting": "hello " + s.Input.Name}, nil
	})))
	require.NoError(t, worker.Register(reg, "panics", worker.Func(func(context.Context, *worker.Step[struct{}]) (int, error) {
		panic("kaboom")
	})))
	require.NoError(t, worker.Register(reg, "inf", worker.Func(func(context.Context, *worker.Step[struct{}]) (float64, error) {
		return math.Inf(1), nil
	})))

	res := Execute(reg, NewStep("s").WithCallable("greet").WithContext(greeting{Name: "Ada"}))
	require.True(t, res.IsSuccess())
	require.Equal(t, map[string]any{"attempt": 1}, res.Metadata())
	raw, err := Value(res)
	require.NoError(t, err)
	require.JSONEq(t, `{"greeting": "hello Ada"}`, string(raw))

	res = Execute(reg, NewStep("s").WithCallable("panics"))
	require.False(t, res.IsSuccess())
	require.False(t, res.Retryable())
	require.Equal(t, stepresult.ErrorTypeHandlerPanic, res.ErrorType())
	require.Contains(t, res.Message(), "kaboom")
	require.Contains(t, res.Metadata()["panic_stack"], "run_test.go")

	res = Execute(reg, NewStep("s").WithCallable("inf"))
	require.Equal(t, stepresult.ErrorTypeInvalidResult, res.ErrorType())
	require.False(t, res.Retryable())

	res = Execute(reg, NewStep("s").WithCallable("nobody"))
	require.Equal(t, stepresult.ErrorTypeHandlerNotFound, res.ErrorType())
}

func TestValue(t *testing.T) {
	raw, err := Value(worker.ResultOf(nil, nil))
	require.NoError(t, err)
	require.JSONEq(t, `{}`, string(raw))
	raw, err = Value(worker.ResultOf([]int{1, 2}, nil))
	require.NoError(t, err)
	require.JSONEq(t, `[1,2]`, string(raw))
	raw, err = Value(worker.ResultOf(json.RawMessage(`{"a":1}`), nil))
	require.NoError(t, err)
	require.JSONEq(t, `{"a":1}`, string(raw))
	nope := worker.ResultOf(nil, worker.Permanent(errors.New("nope")))
	_, err = Value(nope)
	require.ErrorContains(t, err, "PermanentError: nope")
	var v any
	require.Error(t, DecodeValue(nope, &v))
	var wrongType int
	require.Error(t, DecodeValue(worker.ResultOf("text", nil), &wrongType))
}
