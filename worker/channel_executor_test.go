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

// foreign plays the other language: it polls events, decodes each and
// answers with reply(event).
func foreign(t *testing.T, x *ChannelExecutor, n int, reply func(ev map[string]any) string) chan error {
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
				var m map[string]any
				if err := json.Unmarshal(ev.JSON, &m); err != nil {
					errs <- err
					return
				}
				if m["event_id"] != ev.ID {
					errs <- fmt.Errorf("event_id %v, want %s", m["event_id"], ev.ID)
					return
				}
				errs <- x.Complete(ev.ID, []byte(reply(m)))
				done++
			}
		}
	}()
	return errs
}

// dig walks nested objects of a decoded event.
func dig(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[p]
	}
	return v
}

func TestChannelExecutorRoundTrip(t *testing.T) {
	x := NewChannelExecutor(ChannelExecutorConfig{})
	errs := foreign(t, x, 1, func(ev map[string]any) string {
		tss := ev["task_sequence_step"].(map[string]any)
		order := dig(tss, "task", "task", "context", "order")
		deps := tss["dependency_results"].(map[string]any)
		return fmt.Sprintf(`{"success": true, "status": "completed", "result": {"order": %v, "callable": %q, "deps": %d, "config": %q},
			"metadata": {"execution_time_ms": 3, "custom": {"lang": "python"}}}`, order,
			dig(tss, "step_definition", "handler", "callable"), len(deps), dig(tss, "workflow_step", "inputs", "url"))
	})
	r := x.Execute(context.Background(), newStepContext(claimedStep("py.Fetch"), nil))
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
		r := x.Execute(context.Background(), newStepContext(claimedStep("rb.Thing"), nil))
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
	go func() { done <- x.Execute(ctx, newStepContext(claimedStep("py.Slow"), nil)) }()
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
	go func() { done <- x.Execute(ctx2, newStepContext(claimedStep("py.Slow"), nil)) }()
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
	handle(t, reg, "go.step", func(context.Context, *Step[struct{}]) (any, error) {
		return map[string]int{"from_go": 1}, nil
	})
	x := NewChannelExecutor(ChannelExecutorConfig{})
	errs := foreign(t, x, 1, func(ev map[string]any) string {
		dep := dig(ev, "task_sequence_step", "dependency_results", "go_step", "result").(map[string]any)
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
	for bad, want := range map[string]error{
		`{}`:                              ErrInvalidResult,
		`{"success": "yes"}`:              ErrInvalidResult,
		`{"success": false, "error": {}}`: ErrInvalidResult,
		`{"success": false}`:              ErrInvalidResult,
		`{"success": true, "retry_after_seconds": -1}`:                                                                     ErrInvalidResult,
		`{"success": false, "error": {"message": "m"}, "orchestration_metadata": {"backoff_hint": {"delay_seconds": -2}}}`: ErrInvalidResult,
		`{"success": true, "metadata": {"custom": [1]}}`:                                                                   ErrInvalidResult,
		`{"success": false, "error": {"message": "m", "backtrace": 3}}`:                                                    ErrInvalidResult,
		`{"success": false, "error": {"message": "m", "retryable": "no"}}`:                                                 ErrInvalidResult,
		`[]`:                  ErrInvalidResult,
		`{"success": true`:    ErrMalformedJSON,
		"{\"success\": \xff}": ErrMalformedJSON,
		"":                    ErrMalformedJSON,
	} {
		_, err := DecodeResult([]byte(bad))
		require.ErrorIs(t, err, want, bad)
	}
	r, err = DecodeResult([]byte(`{"success": true, "retry_after_seconds": 1e300}`))
	require.NoError(t, err)
	d, _ := r.RetryAfter()
	require.Positive(t, d, "huge delays saturate instead of overflowing")
}

// TestDecodeStepExecutionResult: tasker-core's result shape, as the Ruby,
// Python and TypeScript subscribers send it, maps onto a Result field by
// field, with the documented fallbacks.
func TestDecodeStepExecutionResult(t *testing.T) {
	type want struct {
		success    bool
		value      string
		message    string
		errorType  string
		errorCode  string
		retryable  bool
		retryAfter time.Duration // -1: none
		backtrace  []string
		metadata   map[string]any
	}
	for name, tc := range map[string]struct {
		in   string
		want want
	}{
		"success with custom metadata": {
			in: `{"step_uuid": "x", "success": true, "status": "completed", "result": {"n": 1},
				"metadata": {"execution_time_ms": 4, "worker_id": "rb", "custom": {"handler_class": "A"}},
				"error": null, "orchestration_metadata": null}`,
			want: want{success: true, value: `{"n": 1}`, retryAfter: -1, metadata: map[string]any{"handler_class": "A"}},
		},
		"scalar success, legacy metadata": {
			in:   `{"success": true, "result": 36, "metadata": {"lang": "ruby", "execution_time_ms": 1}}`,
			want: want{success: true, value: `36`, retryAfter: -1, metadata: map[string]any{"lang": "ruby"}},
		},
		"failure with backoff hint": {
			in: `{"success": false, "status": "failed", "result": {},
				"metadata": {"retryable": true, "error_code": "TIMEOUT", "custom": {"k": "v"}},
				"error": {"message": "gateway timeout", "error_type": "RetryableError", "retryable": true,
					"backtrace": ["a.rb:1", "b.rb:2"], "status_code": null, "context": {}},
				"orchestration_metadata": {"backoff_hint": {"backoff_type": "ServerRequested", "delay_seconds": 5}}}`,
			want: want{message: "gateway timeout", errorType: "RetryableError", errorCode: "TIMEOUT", retryable: true,
				retryAfter: 5 * time.Second, backtrace: []string{"a.rb:1", "b.rb:2"}, metadata: map[string]any{"k": "v"}},
		},
		"Retry-After header": {
			in:   `{"success": false, "error": {"message": "slow down"}, "orchestration_metadata": {"headers": {"Retry-After": "7"}}}`,
			want: want{message: "slow down", retryable: true, retryAfter: 7 * time.Second},
		},
		"retryable from metadata": {
			in:   `{"success": false, "error": {"message": "bad card", "error_type": "PermanentError"}, "metadata": {"retryable": false}}`,
			want: want{message: "bad card", errorType: "PermanentError", retryAfter: -1},
		},
		"retryable by default": {
			in:   `{"success": false, "error": {"message": "boom"}}`,
			want: want{message: "boom", retryable: true, retryAfter: -1},
		},
		"Ruby subscriber: error_message, no error object": {
			in:   `{"event_id": "e", "success": false, "result": null, "error_message": "raised", "metadata": {"retryable": false, "error_type": "PermanentError"}}`,
			want: want{message: "raised", errorType: "PermanentError", retryAfter: -1},
		},
		"Python: status and stack trace": {
			in:   `{"success": false, "status": "permanent_error", "error": {"message": "no", "error_type": "permanent_error", "stack_trace": "line1\nline2\n"}}`,
			want: want{message: "no", errorType: "permanent_error", retryAfter: -1, backtrace: []string{"line1", "line2"}},
		},
		"only an error type": {
			in:   `{"success": false, "metadata": {"error_type": "ValidationError"}}`,
			want: want{message: "step failed with ValidationError", errorType: "ValidationError", retryable: true, retryAfter: -1},
		},
		"legacy failure": {
			in: `{"success": false, "error": {"message": "nope", "error_type": "PermanentError", "error_code": "E1",
				"retryable": false, "backtrace": ["a.py:1"]}, "retry_after_seconds": 2.5}`,
			want: want{message: "nope", errorType: "PermanentError", errorCode: "E1", retryAfter: 2500 * time.Millisecond,
				backtrace: []string{"a.py:1"}},
		},
	} {
		r, err := DecodeResult([]byte(tc.in))
		require.NoError(t, err, name)
		w := tc.want
		require.Equal(t, w.success, r.IsSuccess(), name)
		if w.success {
			require.JSONEq(t, w.value, string(r.Value().(json.RawMessage)), name)
		} else {
			require.Equal(t, w.message, r.Message(), name)
			require.Equal(t, w.errorType, r.ErrorType(), name)
			require.Equal(t, w.errorCode, r.ErrorCode(), name)
			require.Equal(t, w.retryable, r.Retryable(), name)
			require.Equal(t, w.backtrace, r.Backtrace(), name)
		}
		d, ok := r.RetryAfter()
		if w.retryAfter < 0 {
			require.False(t, ok, name)
		} else {
			require.True(t, ok, name)
			require.Equal(t, w.retryAfter, d, name)
		}
		require.Equal(t, w.metadata, r.Metadata(), name)
	}
}

func TestDecodeCheckpoint(t *testing.T) {
	cp, err := DecodeCheckpoint([]byte(`{"cursor": {"page": 2}, "items_processed": 40, "accumulated_results": [1], "step_uuid": "s"}`))
	require.NoError(t, err)
	require.JSONEq(t, `{"page": 2}`, string(cp.Cursor))
	require.EqualValues(t, 40, cp.ItemsProcessed)
	require.JSONEq(t, `[1]`, string(cp.AccumulatedResults))
	for bad, want := range map[string]error{
		`{"cursor": 1`: ErrMalformedJSON,
		"{\"cursor\": \"\xff\", \"items_processed\": 1}": ErrMalformedJSON,
		`{"items_processed": 1}`:                         ErrInvalidCheckpoint,
		`{"cursor": 1}`:                                  ErrInvalidCheckpoint,
		`{"cursor": 1, "items_processed": 1.5}`:          ErrInvalidCheckpoint,
		`{"cursor": 1, "items_processed": "many"}`:       ErrInvalidCheckpoint,
		`"cursor"`: ErrInvalidCheckpoint,
	} {
		_, err := DecodeCheckpoint([]byte(bad))
		require.ErrorIs(t, err, want, bad)
	}
}

// BenchmarkChannelExecutorRoundTrip measures what the foreign-handler path
// adds to a step, without the C call itself: encoding tasker-core's event,
// handing it over, decoding a StepExecutionResult.
func BenchmarkChannelExecutorRoundTrip(b *testing.B) {
	x := NewChannelExecutor(ChannelExecutorConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			evs, err := x.PollWait(ctx, 10)
			if err != nil {
				return
			}
			for _, ev := range evs {
				_ = x.Complete(ev.ID, []byte(`{"step_uuid": "x", "success": true, "status": "completed",
					"result": {"value": 36}, "metadata": {"execution_time_ms": 0, "custom": {"by": "bench"}}}`))
			}
		}
	}()
	step := newStepContext(claimedStep("rb.Bench"), nil)
	b.ReportAllocs()
	for b.Loop() {
		if r := x.Execute(ctx, step); !r.IsSuccess() {
			b.Fatal(r.Message())
		}
	}
	cancel()
	<-done
}
