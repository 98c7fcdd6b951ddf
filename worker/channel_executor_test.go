package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

func claimedStep(callable string) *store.ClaimedStep {
	return &store.ClaimedStep{
		MessageID: 7,
		Step: store.Step{UUID: uuid.New(), Name: "fetch", HandlerCallable: callable, HandlerMethod: "call",
			Attempts: 1, Retry: store.RetryPolicy{MaxAttempts: 3, Retryable: true}, Inputs: json.RawMessage(`{"url":"u"}`)},
		Task: store.ClaimedTask{UUID: uuid.New(), Namespace: "ns", Name: "t", Version: "1",
			Context: json.RawMessage(`{"order": 42}`)},
		Dependencies: map[string]json.RawMessage{"prev": json.RawMessage(`{"result": {"x": 1}}`)},
	}
}

// foreign plays the other language: it polls events, decodes the step and
// answers with reply(step).
func foreign(t *testing.T, x *ChannelExecutor, n int, reply func(step map[string]any) string) chan error {
	t.Helper()
	errs := make(chan error, n)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for done := 0; done < n; {
			evs, err := x.PollWait(ctx, 10)
			if err != nil {
				errs <- err
				return
			}
			for _, ev := range evs {
				var step map[string]any
				if err := json.Unmarshal(ev.Step, &step); err != nil {
					errs <- err
					return
				}
				errs <- x.Complete(ev.ID, []byte(reply(step)))
				done++
			}
		}
	}()
	return errs
}

func TestChannelExecutorRoundTrip(t *testing.T) {
	x := NewChannelExecutor(ChannelExecutorConfig{Buffer: 4})
	errs := foreign(t, x, 1, func(step map[string]any) string {
		task := step["task"].(map[string]any)
		order := task["context"].(map[string]any)["order"].(float64)
		deps := step["dependency_results"].(map[string]any)
		handler := step["handler"].(map[string]any)
		return fmt.Sprintf(`{"success": true, "result": {"order": %v, "callable": %q, "deps": %d, "config": %q},
			"metadata": {"lang": "python"}}`, order, handler["callable"], len(deps),
			step["step_config"].(map[string]any)["url"])
	})
	r := x.Execute(context.Background(), NewStepContext(claimedStep("py.Fetch")))
	require.NoError(t, <-errs)
	require.True(t, r.IsSuccess())
	require.JSONEq(t, `{"order": 42, "callable": "py.Fetch", "deps": 1, "config": "u"}`, string(r.Value().(json.RawMessage)))
	require.Equal(t, map[string]any{"lang": "python"}, r.Metadata())
	require.Zero(t, x.Pending())
}

func TestChannelExecutorFailuresAndBadResults(t *testing.T) {
	x := NewChannelExecutor(ChannelExecutorConfig{})
	replies := []string{
		`{"success": false, "error": {"message": "nope", "error_type": "PermanentError", "error_code": "E1",
			"retryable": false, "backtrace": ["a.py:1"]}, "retry_after_seconds": 2.5}`,
		`this is not json`,
		`{"success": false}`,
	}
	for i, reply := range replies {
		errs := foreign(t, x, 1, func(map[string]any) string { return reply })
		r := x.Execute(context.Background(), NewStepContext(claimedStep("rb.Thing")))
		err := <-errs
		require.False(t, r.IsSuccess(), i)
		if i == 0 {
			require.NoError(t, err)
			require.Equal(t, "nope", r.Message())
			require.Equal(t, "E1", r.ErrorCode())
			require.Equal(t, []string{"a.py:1"}, r.Backtrace())
			d, ok := r.RetryAfter()
			require.True(t, ok)
			require.Equal(t, 2500*time.Millisecond, d)
			continue
		}
		require.Error(t, err, "the foreign side hears about its bad result")
		require.Equal(t, stepresult.ErrorTypeInvalidResult, r.ErrorType(), "the step still gets a result")
		require.False(t, r.Retryable())
	}
}

func TestChannelExecutorAbandonedEvents(t *testing.T) {
	x := NewChannelExecutor(ChannelExecutorConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Result)
	go func() { done <- x.Execute(ctx, NewStepContext(claimedStep("py.Slow"))) }()
	var ev Event
	require.Eventually(t, func() bool {
		evs := x.Poll(1)
		if len(evs) == 1 {
			ev = evs[0]
		}
		return len(evs) == 1
	}, 5*time.Second, time.Millisecond)
	cancel()
	r := <-done
	require.False(t, r.IsSuccess())
	require.ErrorIs(t, x.Complete(ev.ID, []byte(`{"success": true}`)), ErrUnknownEvent)

	// An event abandoned before anyone polled it is never handed out.
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { done <- x.Execute(ctx2, NewStepContext(claimedStep("py.Slow"))) }()
	require.Eventually(t, func() bool { return x.Pending() == 1 }, 5*time.Second, time.Millisecond)
	cancel2()
	<-done
	require.Empty(t, x.Poll(10))
	require.Zero(t, x.Pending())
}

// TestCoreFallsBackToChannelExecutor: steps whose callable is not a Go
// handler go to the fallback executor; Go handlers still run in Go.
func TestCoreFallsBackToChannelExecutor(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: mixed
namespace_name: ffi_ns
version: "1"
steps:
  - {name: go_step, handler: {callable: go.step}}
  - {name: py_step, dependencies: [go_step], handler: {callable: "handlers.PyStep", initialization: {k: v}}}
`)
	reg := NewRegistry()
	reg.MustRegister("go.step", HandlerFunc(func(context.Context, *StepContext) Result {
		return Success(map[string]int{"from_go": 1}, nil)
	}))
	x := NewChannelExecutor(ChannelExecutorConfig{})
	errs := foreign(t, x, 1, func(step map[string]any) string {
		dep := step["dependency_results"].(map[string]any)["go_step"].(map[string]any)["result"].(map[string]any)
		return fmt.Sprintf(`{"success": true, "result": {"from_python": %v}}`, dep["from_go"])
	})
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg, fallback: x})
	h.orchestrate()
	tk := h.createTask(tpl, `{}`)
	h.waitFor("the task to complete", func() bool { return h.taskState(tk.id) == state.TaskComplete })
	require.NoError(t, <-errs)
	require.JSONEq(t, `{"from_python": 1}`, string(stepresult.Parse(h.step(tk, "py_step").Results).Result))
	require.EqualValues(t, 2, c.Stats().Recorded)
}

func TestDecodeResult(t *testing.T) {
	r, err := DecodeResult([]byte(`{"success": true}`))
	require.NoError(t, err)
	require.True(t, r.IsSuccess())
	for _, bad := range []string{`{}`, `{"success": "yes"}`, `{"success": false, "error": {}}`,
		`{"success": true, "retry_after_seconds": -1}`, `[]`} {
		_, err := DecodeResult([]byte(bad))
		require.Error(t, err, bad)
	}
	r, err = DecodeResult([]byte(`{"success": true, "retry_after_seconds": 1e300}`))
	require.NoError(t, err)
	d, _ := r.RetryAfter()
	require.Positive(t, d, "huge delays saturate instead of overflowing")
}
