package worker

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/template"
)

const eventsYAML = `
name: events
namespace_name: ev
version: 1.0.0
steps:
  - name: go_step
    handler: {callable: ev.go}
    retry: {max_attempts: 1}
    publishes_events:
      - name: thing.done
        schema: {type: object, required: [id], properties: {id: {type: integer}}}
  - name: ffi_good
    handler: {callable: "Py::Good"}
    retry: {max_attempts: 1}
    publishes_events: [{name: ffi.done, delivery_mode: fast, condition: always, publisher: FfiPublisher}]
  - name: ffi_bad
    handler: {callable: "Py::Bad"}
    retry: {max_attempts: 1}
    publishes_events: [{name: ffi.done}]
`

// foreignResults plays a foreign executor: it returns fixed result JSON per
// callable.
type foreignResults map[string]string

func (f foreignResults) Execute(_ context.Context, step *StepContext) Result {
	r, err := DecodeResult([]byte(f[step.Callable()]))
	if err != nil {
		return systemFailure(err.Error(), stepresult.ErrorTypeInvalidResult, false)
	}
	return r
}

// TestPublishedEventsTravelWithTheResult: events a Go handler publishes
// through its step context, and events a foreign handler lists in its
// result JSON, are stored in the step's result with their declaration's
// condition, delivery mode and publisher, and are published when the result
// is processed; a payload that fails the schema or an undeclared name is
// refused (a foreign handler's result then fails, naming the event).
func TestPublishedEventsTravelWithTheResult(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, eventsYAML)
	reg := NewRegistry()
	var refusals []error
	handle(t, reg, "ev.go", func(_ context.Context, s *Step[struct{}]) (any, error) {
		refusals = append(refusals, s.PublishEvent("thing.done", map[string]any{"id": "x"}), s.PublishEvent("other", nil))
		return map[string]int{"ok": 1}, s.PublishEvent("thing.done", map[string]any{"id": 7})
	})
	x := foreignResults{
		"Py::Good": `{"success": true, "result": {}, "domain_events": [{"event_name": "ffi.done", "payload": {"x": 1}}]}`,
		"Py::Bad":  `{"success": true, "result": {}, "domain_events": [{"name": "nope", "payload": {}}]}`,
	}
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg, fallback: x})
	h.orchestrate()
	tk := h.createTask(tpl, `{}`)
	h.waitFor("the task to finish", func() bool { return h.taskState(tk.id) == state.TaskError })
	require.Equal(t, []uint64{1, 1, 0}, []uint64{c.stats.eventsDurable.Load(), c.stats.eventsFast.Load(),
		c.stats.eventsBroadcast.Load()}, "counted for /metrics/events")

	require.Len(t, refusals, 2)
	require.ErrorIs(t, refusals[0], ErrInvalidEventPayload)
	require.Contains(t, refusals[0].Error(), `"thing.done"`)
	require.Contains(t, refusals[0].Error(), "/id: must be integer")
	require.ErrorIs(t, refusals[1], ErrUndeclaredEvent)

	goRes := stepresult.Parse(h.step(tk, "go_step").Results)
	require.Len(t, goRes.DomainEvents, 1)
	ev := goRes.DomainEvents[0]
	require.Equal(t, "thing.done", ev.Name)
	require.JSONEq(t, `{"id": 7}`, string(ev.Payload))
	require.Equal(t, "success", ev.Condition)
	require.Equal(t, "durable", ev.DeliveryMode)
	require.Equal(t, "ev.go", ev.FiredBy)
	require.False(t, ev.FiredAt.IsZero())

	good := stepresult.Parse(h.step(tk, "ffi_good").Results)
	require.Len(t, good.DomainEvents, 1)
	require.Equal(t, "fast", good.DomainEvents[0].DeliveryMode)
	require.Equal(t, "always", good.DomainEvents[0].Condition)
	require.Equal(t, "FfiPublisher", good.DomainEvents[0].FiredBy)

	bad := stepresult.Parse(h.step(tk, "ffi_bad").Results)
	require.False(t, bad.Success)
	require.Equal(t, stepresult.ErrorTypeInvalidResult, bad.Error.ErrorType)
	require.Contains(t, bad.Error.Message, `"nope"`)
	require.Empty(t, bad.DomainEvents)

	recs, err := h.store.DomainEvents(h.ctx, tk.id, 0, 0)
	require.NoError(t, err)
	var names []string
	for _, r := range recs {
		names = append(names, r.Event.EventName)
	}
	require.ElementsMatch(t, []string{"thing.done", "ffi.done"}, names, "published when orchestration committed the results")
}

// TestDecodeResultDomainEvents: the result JSON of a foreign handler may
// carry events; one without a name is an invalid result.
func TestDecodeResultDomainEvents(t *testing.T) {
	r, err := DecodeResult([]byte(`{"success": true, "domain_events": [{"event_name": "a", "payload": {"k": 1}}]}`))
	require.NoError(t, err)
	require.Equal(t, []EventRequest{{Name: "a", Payload: json.RawMessage(`{"k": 1}`)}}, r.eventRequests)
	_, err = DecodeResult([]byte(`{"success": true, "domain_events": [{"payload": {}}]}`))
	require.True(t, errors.Is(err, ErrInvalidResult), "%v", err)
	require.Contains(t, err.Error(), "domain_events[0]: event_name is required")
}

// TestChannelExecutorCompleteChecksEvents: a foreign handler (Ruby, Python
// through the C ABI) lists its events in the result it completes with; an
// undeclared one or a payload that fails the schema makes Complete return an
// error wrapping ErrInvalidResult naming it (the step fails as
// invalid_result), a good one is stored with the result.
func TestChannelExecutorCompleteChecksEvents(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, eventsYAML)
	x := NewChannelExecutor(ChannelExecutorConfig{})
	reg := NewRegistry()
	handle(t, reg, "ev.go", noop)
	h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg, fallback: x})
	h.orchestrate()
	tk := h.createTask(tpl, `{}`)
	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	defer cancel()
	done := map[string]error{}
	for len(done) < 2 {
		evs, err := x.PollWait(ctx, 2)
		require.NoError(t, err)
		for _, ev := range evs {
			switch ev.Callable {
			case "Py::Good":
				done[ev.Callable] = x.Complete(ev.ID, []byte(`{"success": true, "result": {},
					"domain_events": [{"event_name": "ffi.done", "payload": {"x": 1}}]}`))
			case "Py::Bad":
				done[ev.Callable] = x.Complete(ev.ID, []byte(`{"success": true, "result": {},
					"domain_events": [{"event_name": "ffi.done", "payload": {}}, {"event_name": "ffi.other"}]}`))
			}
		}
	}
	require.NoError(t, done["Py::Good"])
	require.ErrorIs(t, done["Py::Bad"], ErrInvalidResult)
	require.ErrorIs(t, done["Py::Bad"], ErrUndeclaredEvent)
	require.Contains(t, done["Py::Bad"].Error(), `domain_events[1]: publishing "ffi.other"`)
	h.waitFor("the task to finish", func() bool { return h.taskState(tk.id) == state.TaskError })
	good := stepresult.Parse(h.step(tk, "ffi_good").Results)
	require.Len(t, good.DomainEvents, 1)
	bad := stepresult.Parse(h.step(tk, "ffi_bad").Results)
	require.Equal(t, stepresult.ErrorTypeInvalidResult, bad.Error.ErrorType)
	require.Empty(t, bad.DomainEvents)
}

// TestDeclaredEventsPublishedWithTheResultByDefault: declared events a
// handler did not publish itself are published with its result as payload
// (the success value, or the failure's message, type and code), as
// tasker-core's default publisher does, when that payload matches the
// declared schema; orchestration then applies the conditions.
func TestDeclaredEventsPublishedWithTheResultByDefault(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `
name: auto
namespace_name: ev_auto
version: 1.0.0
steps:
  - name: ok
    handler: {callable: auto.ok}
    retry: {max_attempts: 1}
    publishes_events:
      - {name: auto.done, schema: {type: object, required: [n]}}
      - {name: auto.failed, condition: failure, schema: {type: object, required: [error_message]}}
      - {name: auto.strict, schema: {type: object, required: [missing]}}
  - name: fails
    dependencies: [ok]
    handler: {callable: auto.fails}
    retry: {max_attempts: 1}
    publishes_events:
      - {name: auto.failed, condition: failure, schema: {type: object, required: [error_code]}}
`)
	reg := NewRegistry()
	handle(t, reg, "auto.ok", func(context.Context, *Step[struct{}]) (any, error) { return map[string]int{"n": 1}, nil })
	handle(t, reg, "auto.fails", func(context.Context, *Step[struct{}]) (any, error) {
		return nil, &Error{Err: errors.New("card declined"), Code: "E1", Permanent: true}
	})
	h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg})
	h.orchestrate()
	tk := h.createTask(tpl, `{}`)
	h.waitFor("the task to finish", func() bool { return h.taskState(tk.id) == state.TaskError })

	ok := stepresult.Parse(h.step(tk, "ok").Results)
	require.Len(t, ok.DomainEvents, 1, "auto.failed and auto.strict do not fit the result")
	require.Equal(t, "auto.done", ok.DomainEvents[0].Name)
	require.JSONEq(t, `{"n": 1}`, string(ok.DomainEvents[0].Payload))
	failed := stepresult.Parse(h.step(tk, "fails").Results)
	require.Len(t, failed.DomainEvents, 1)
	require.JSONEq(t, `{"error_message": "card declined", "error_type": "PermanentError", "error_code": "E1", "retryable": false}`,
		string(failed.DomainEvents[0].Payload))

	recs, err := h.store.DomainEvents(h.ctx, tk.id, 0, 0)
	require.NoError(t, err)
	var names []string
	for _, r := range recs {
		names = append(names, r.Event.EventName+"@"+r.Event.Metadata.StepName)
	}
	require.Equal(t, []string{"auto.done@ok", "auto.failed@fails"}, names)
}
