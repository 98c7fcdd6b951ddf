package worker

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
)

func TestStepTimeout(t *testing.T) {
	require.Equal(t, 3*time.Second, stepTimeout(&store.Step{TimeoutSeconds: 3}, time.Minute))
	require.Equal(t, time.Minute, stepTimeout(&store.Step{}, time.Minute))
}

func TestBuildResult(t *testing.T) {
	cs := claimedStep("x")
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	info := runInfo{workerID: "w1", hostname: "h1", started: start, finished: start.Add(1500 * time.Millisecond)}

	raw, ok, et := buildResult(cs, success(map[string]int{"n": 1}, map[string]any{"k": "v"}), info)
	require.True(t, ok)
	require.Empty(t, et)
	r := stepresult.Parse(raw)
	require.Equal(t, cs.Step.UUID, r.StepUUID)
	require.JSONEq(t, `{"n":1}`, string(r.Result))
	require.EqualValues(t, 1500, r.Metadata.ExecutionTimeMs)
	require.Equal(t, "w1", r.Metadata.WorkerID)
	require.Equal(t, "h1", r.Metadata.WorkerHostname)
	require.Equal(t, start, *r.Metadata.StartedAt)
	require.Nil(t, r.OrchestrationMetadata)

	raw, ok, et = buildResult(cs, success(nil, nil), info)
	require.True(t, ok)
	require.Empty(t, et)
	require.JSONEq(t, `{}`, string(stepresult.Parse(raw).Result), "no value stores an empty object")

	raw, ok, et = buildResult(cs, failure("slow down", "RateLimited", true).withRetryAfter(1500*time.Millisecond), info)
	require.False(t, ok)
	require.Equal(t, "RateLimited", et)
	r = stepresult.Parse(raw)
	require.Equal(t, "1.5", r.OrchestrationMetadata.Headers["Retry-After"])
	require.Equal(t, stepresult.StatusFailed, r.Status)
	require.True(t, r.Retryable())

	raw, ok, et = buildResult(cs, failure("untyped", "", false), info)
	require.False(t, ok)
	require.Equal(t, stepresult.ErrorTypeUnexpected, et)
	require.Equal(t, stepresult.ErrorTypeUnexpected, stepresult.Parse(raw).Error.ErrorType)

	for name, bad := range map[string]Result{
		"value":    success(math.NaN(), nil),
		"raw":      success(json.RawMessage(`{nope`), nil),
		"metadata": success(1, map[string]any{"f": func() {}}),
	} {
		raw, ok, et = buildResult(cs, bad, info)
		require.False(t, ok, name)
		require.Equal(t, stepresult.ErrorTypeInvalidResult, et, name)
		r = stepresult.Parse(raw)
		require.False(t, r.Retryable(), name)
		require.Equal(t, stepresult.StatusError, r.Status, name)
	}
}

func TestStripNUL(t *testing.T) {
	require.JSONEq(t, `{"a\ufffd":["x\ufffdy", 1.50]}`, string(stripNUL(json.RawMessage(`{"a\u0000":["x\u0000y", 1.50]}`))))
	same := json.RawMessage(`{"a":"b"}`)
	require.Equal(t, same, stripNUL(same))
}

func TestFormatSeconds(t *testing.T) {
	require.Equal(t, "30", formatSeconds(30*time.Second))
	require.Equal(t, "0.25", formatSeconds(250*time.Millisecond))
	require.Equal(t, "0", formatSeconds(-time.Second))
}

func TestInvokeRecoversAndTimesOut(t *testing.T) {
	sc := newStepContext(claimedStep("x"), nil)
	res, ok := invoke(context.Background(), execFunc(func(context.Context, *StepContext) Result { panic("kaboom") }), sc)
	require.True(t, ok)
	require.Equal(t, stepresult.ErrorTypeHandlerPanic, res.ErrorType())
	require.Equal(t, "handler panicked: kaboom", res.Message())
	require.NotEmpty(t, res.Backtrace())

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	release := make(chan struct{})
	defer close(release)
	_, ok = invoke(ctx, execFunc(func(context.Context, *StepContext) Result {
		<-release // ignores its context
		return success(nil, nil)
	}), sc)
	require.False(t, ok, "the worker stops waiting for a handler that ignores its context")
}

func TestSlots(t *testing.T) {
	s := newSlots(3)
	n, _ := s.reserve(5)
	require.Equal(t, 3, n)
	require.Zero(t, s.takePeak(), "a reservation is not use")
	s.settle(3, 3)
	n, changed := s.reserve(1)
	require.Zero(t, n)
	s.done()
	select {
	case <-changed:
	default:
		t.Fatal("a finished handler signals waiters")
	}
	require.Equal(t, 3, s.takePeak())
	require.Equal(t, 2, s.takePeak(), "the peak restarts from the handlers still running")
	s.setLimit(1)
	n, _ = s.reserve(1)
	require.Zero(t, n, "a lowered limit admits nothing until usage drops below it")
	s.done()
	s.done()
	n, _ = s.reserve(4)
	require.Equal(t, 1, n)
	s.settle(1, 0)
	limit, inUse := s.snapshot()
	require.Equal(t, 1, limit)
	require.Zero(t, inUse)
}

func TestResultWithMetadataDoesNotAlias(t *testing.T) {
	base := success(1, map[string]any{"a": 1})
	derived := base.withMetadata(map[string]any{"b": 2})
	require.Equal(t, map[string]any{"a": 1}, base.Metadata())
	require.Equal(t, map[string]any{"a": 1, "b": 2}, derived.Metadata())
}

// execFunc adapts a function to Executor.
type execFunc func(ctx context.Context, step *StepContext) Result

func (f execFunc) Execute(ctx context.Context, step *StepContext) Result { return f(ctx, step) }
