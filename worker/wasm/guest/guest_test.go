package guest_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/wasm/guest"
	"github.com/tasker-go/tasker/worker/workertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// invoke runs h on the event a worker sends for b and reads the result as
// the worker does.
func invoke(t *testing.T, b *workertest.StepBuilder, h guest.Handler) worker.Result {
	t.Helper()
	ev, err := worker.StepEvent(context.Background(), b.Build())
	require.NoError(t, err)
	res, err := worker.DecodeResult(guest.Invoke(ev, h))
	require.NoError(t, err)
	return res
}

func TestStepAccessors(t *testing.T) {
	b := workertest.NewStep("charge").WithCallable("wasm:pay/charge").WithAttempt(2, 5).
		WithContext(map[string]int{"amount": 12}).WithConfig(map[string]string{"currency": "EUR"}).
		WithDependency("quote", map[string]int{"total": 40})
	res := invoke(t, b, func(s *guest.Step) (any, error) {
		var ctx struct{ Amount int }
		var in struct{ Currency string }
		var dep struct{ Total int }
		require.NoError(t, s.Context(&ctx))
		require.NoError(t, s.Inputs(&in))
		require.NoError(t, s.Dependency("quote", &dep))
		require.True(t, s.HasDependency("quote"))
		require.False(t, s.HasDependency("other"))
		return map[string]any{"name": s.Name(), "attempt": s.Attempt(), "max": s.MaxAttempts(), "callable": s.Callable(),
			"task": s.TaskName(), "ns": s.Namespace(), "sum": ctx.Amount + dep.Total, "currency": in.Currency,
			"has_ids": s.TaskUUID() != "" && s.StepUUID() != "" && s.EventID() != ""}, nil
	})
	require.True(t, res.IsSuccess(), res.Message())
	got, err := workertest.Value(res)
	require.NoError(t, err)
	require.JSONEq(t, `{"name": "charge", "attempt": 2, "max": 5, "callable": "wasm:pay/charge", "task": "test_task",
		"ns": "default", "sum": 52, "currency": "EUR", "has_ids": true}`, string(got))
}

func TestFailureClassification(t *testing.T) {
	b := workertest.NewStep("s")
	for _, c := range []struct {
		err       error
		errorType string
		retryable bool
		after     bool
	}{
		{errors.New("flaky"), "RetryableError", true, false},
		{guest.Permanent(errors.New("bad input")), "PermanentError", false, false},
		{guest.WithErrorType(guest.Permanent(errors.New("declined")), "PaymentDeclined"), "PaymentDeclined", false, false},
		{guest.RetryAfter(errors.New("busy"), 30), "RetryableError", true, true},
	} {
		res := invoke(t, b, func(*guest.Step) (any, error) { return nil, c.err })
		require.False(t, res.IsSuccess())
		require.Equal(t, c.err.Error(), res.Message())
		require.Equal(t, c.errorType, res.ErrorType())
		require.Equal(t, c.retryable, res.Retryable())
		d, ok := res.RetryAfter()
		require.Equal(t, c.after, ok)
		if ok {
			require.Equal(t, 30.0, d.Seconds())
		}
	}
	require.NoError(t, guest.Permanent(nil))
	require.NoError(t, guest.WithErrorType(nil, "x"))
	require.NoError(t, guest.RetryAfter(nil, 1))
}

func TestPanicsAndBadInput(t *testing.T) {
	res := invoke(t, workertest.NewStep("s"), func(*guest.Step) (any, error) { panic("boom") })
	require.False(t, res.IsSuccess())
	require.False(t, res.Retryable())
	require.Equal(t, "handler_panic", res.ErrorType())
	require.Equal(t, "handler panicked: boom", res.Message())

	res = invoke(t, workertest.NewStep("s"), func(*guest.Step) (any, error) { return func() {}, nil })
	require.False(t, res.IsSuccess())
	require.Contains(t, res.Message(), "encoding the handler's result")

	res = invoke(t, workertest.NewStep("s").WithContext(map[string]int{"n": 1}), func(s *guest.Step) (any, error) {
		var v struct{ N string }
		return nil, s.Context(&v)
	})
	require.False(t, res.Retryable())
	require.Contains(t, res.Message(), "reading the task context")

	out, err := worker.DecodeResult(guest.Invoke([]byte("not json"), func(*guest.Step) (any, error) { return 1, nil }))
	require.NoError(t, err)
	require.False(t, out.IsSuccess())
	require.Contains(t, out.Message(), "reading the step event")

	var raw json.RawMessage
	res = invoke(t, workertest.NewStep("s"), func(s *guest.Step) (any, error) { raw = s.Raw; return nil, nil })
	require.True(t, res.IsSuccess())
	require.Contains(t, string(raw), `"task_sequence_step"`)
}

func TestLookup(t *testing.T) {
	doc := json.RawMessage(` { "a" : "x\"}{[" , "b\\" : 1, "c": {"d": [1, {"e": "]"}], "e": {"f": "\\\\"}} , "g": null } `)
	for _, c := range []struct {
		path []string
		want string
		ok   bool
	}{
		{[]string{"a"}, `"x\"}{["`, true},
		{[]string{"c", "d"}, `[1, {"e": "]"}]`, true},
		{[]string{"c", "e", "f"}, `"\\\\"`, true},
		{[]string{"g"}, `null`, true},
		{[]string{"c", "x"}, ``, false},
		{[]string{"a", "b"}, ``, false}, // a is not an object
		{[]string{"zz"}, ``, false},
	} {
		v, ok, err := guest.Lookup(doc, c.path...)
		require.NoError(t, err, c.path)
		require.Equal(t, c.ok, ok, c.path)
		require.Equal(t, c.want, string(v), c.path)
	}
	for _, bad := range []string{`{"a": "unterminated}`, `{"a" 1}`, `{"a": [1, 2}`, `{"a": 1 "b": 2}`, `{1: 2}`, `{"a": }`} {
		_, _, err := guest.Lookup(json.RawMessage(bad), "zz")
		require.Error(t, err, bad)
	}
	v, ok, err := guest.Lookup(json.RawMessage(`{}`), "a")
	require.NoError(t, err)
	require.False(t, ok)
	require.Nil(t, v)
}

// The SDK reads only the parts of the event a handler asks for; what it
// reads it reads exactly, escapes and odd spacing included.
func TestLazyEvent(t *testing.T) {
	ev := []byte(` {"event_id": "e\"1", "task_uuid": "t", "step_uuid": "s",
	  "task_sequence_step": {"task": {"task": {"context": {"n": "q\u0041"}}, "task_name": "tn", "task_version": "1.0.0", "namespace_name": "ns"},
	  "workflow_step": {"name": "st\u00e9p", "attempts": 2, "max_attempts": 4, "inputs": null},
	  "dependency_results": {"a": {"success": true, "result": {"v": [1, "}"]}}, "b": {"success": true}, "c": {"result": null}},
	  "step_definition": {"handler": {"callable": "wasm:m/f"}}}} `)
	out := guest.Invoke(ev, func(s *guest.Step) (any, error) {
		var ctx struct{ N string }
		require.NoError(t, s.Context(&ctx))
		var in map[string]any
		require.NoError(t, s.Inputs(&in))
		a, err := s.DependencyJSON("a")
		require.NoError(t, err)
		b, err := s.DependencyJSON("b")
		require.NoError(t, err)
		var c map[string]any
		require.NoError(t, s.Dependency("c", &c))
		_, err = s.DependencyJSON("d")
		require.ErrorContains(t, err, `step "stép" has no completed ancestor "d"`)
		return map[string]any{"ctx": ctx.N, "in": in, "a": a, "b": b, "c": c, "has_a": s.HasDependency("a"), "has_d": s.HasDependency("d"),
			"event": s.EventID(), "task": s.TaskUUID(), "step": s.StepUUID(), "name": s.Name(), "attempt": s.Attempt(), "max": s.MaxAttempts(),
			"tn": s.TaskName(), "tv": s.TaskVersion(), "ns": s.Namespace(), "callable": s.Callable()}, nil
	})
	res, err := worker.DecodeResult(out)
	require.NoError(t, err)
	require.True(t, res.IsSuccess(), res.Message())
	got, err := workertest.Value(res)
	require.NoError(t, err)
	require.JSONEq(t, `{"ctx": "qA", "in": {}, "a": {"v": [1, "}"]}, "b": {}, "c": {}, "has_a": true, "has_d": false,
		"event": "e\"1", "task": "t", "step": "s", "name": "stép", "attempt": 3, "max": 4,
		"tn": "tn", "tv": "1.0.0", "ns": "ns", "callable": "wasm:m/f"}`, string(got))

	// A malformed part fails the handler that reads it, permanently.
	res, err = worker.DecodeResult(guest.Invoke([]byte(`{"task_sequence_step": {"dependency_results": {"a": {"result": [1, 2}}}}`),
		func(s *guest.Step) (any, error) { return s.DependencyJSON("a") }))
	require.NoError(t, err)
	require.False(t, res.IsSuccess())
	require.False(t, res.Retryable())
	require.Contains(t, res.Message(), `reading the result of step "a": malformed JSON`)

	// A json.RawMessage result is passed on as it is.
	res, err = worker.DecodeResult(guest.Invoke(ev, func(*guest.Step) (any, error) { return json.RawMessage(`{"k": [1]}`), nil }))
	require.NoError(t, err)
	got, err = workertest.Value(res)
	require.NoError(t, err)
	require.JSONEq(t, `{"k": [1]}`, string(got))
}
