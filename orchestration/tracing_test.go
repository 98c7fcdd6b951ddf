package orchestration_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/telemetry"
)

// spanRecorder is a tracer provider with an in-memory exporter.
func spanRecorder(t *testing.T) (*tracetest.SpanRecorder, *sdktrace.TracerProvider) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return rec, tp
}

// ended is the ended spans named name whose task_uuid is task.
func ended(rec *tracetest.SpanRecorder, name string, task uuid.UUID) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() != name {
			continue
		}
		if v, ok := spanAttr(s, telemetry.AttrTaskUUID); ok && v.AsString() == task.String() {
			out = append(out, s)
		}
	}
	return out
}

func spanAttr(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// lastFinalizeSpan checks that task has n finalization spans and returns
// the last, after checking it is in the trace of the task's creation span
// root and its child.
func lastFinalizeSpan(t *testing.T, rec *tracetest.SpanRecorder, task uuid.UUID, root sdktrace.ReadOnlySpan, n int) sdktrace.ReadOnlySpan {
	t.Helper()
	finals := ended(rec, telemetry.SpanTaskFinal, task)
	require.Len(t, finals, n)
	f := finals[n-1]
	require.Equal(t, root.SpanContext().TraceID(), f.SpanContext().TraceID(), "in the task's trace")
	require.Equal(t, root.SpanContext().SpanID(), f.Parent().SpanID(), "a child of the creation span")
	return f
}

func requireAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want map[attribute.Key]attribute.Value) {
	t.Helper()
	for key, w := range want {
		got, ok := spanAttr(s, key)
		require.True(t, ok, "%s has %s", s.Name(), key)
		require.Equal(t, w, got, "%s's %s", s.Name(), key)
	}
}

// A cancelled task's trace ends with a finalization span, a child of the
// task's creation span, saying who ended it and why; the cancel request's
// own trace context is linked, not made the parent.
func TestCancelledTaskIsFinalizedInItsTrace(t *testing.T) {
	t.Parallel()
	rec, tp := spanRecorder(t)
	h := newTracedHarness(t, telemetry.NewTracer(tp))
	tpl := h.fixture("rust/mathematical_sequence.yaml", false)
	task := h.create(tpl, input) // no worker: its first step waits in the queue
	creates := ended(rec, telemetry.SpanTaskCreate, task.UUID)
	require.Len(t, creates, 1)
	root := creates[0]

	callerRec, callerTP := spanRecorder(t)
	callerCtx, caller := callerTP.Tracer("operator").Start(h.ctx, "operator")
	caller.End()
	require.Len(t, callerRec.Ended(), 1)

	cancelled, err := h.core.CancelTask(callerCtx, task.UUID, "customer withdrew the order")
	require.NoError(t, err)
	require.Equal(t, state.TaskCancelled, cancelled.State)

	f := lastFinalizeSpan(t, rec, task.UUID, root, 1)
	requireAttrs(t, f, map[attribute.Key]attribute.Value{
		"task_state":                attribute.StringValue("cancelled"),
		telemetry.AttrTaskEvent:     attribute.StringValue("cancel"),
		telemetry.AttrReason:        attribute.StringValue("customer withdrew the order"),
		telemetry.AttrNamespace:     attribute.StringValue(tpl.NamespaceName),
		telemetry.AttrCorrelationID: attribute.StringValue(task.CorrelationID.String()),
	})
	require.Equal(t, codes.Unset, f.Status().Code, "a cancel is not an error")
	require.Len(t, f.Links(), 1)
	require.Equal(t, caller.SpanContext().SpanID(), f.Links()[0].SpanContext.SpanID(), "the cancel request is linked")

	// Cancelling again fails and records nothing.
	_, err = h.core.CancelTask(h.ctx, task.UUID, "again")
	require.ErrorIs(t, err, store.ErrInvalidState)
	require.Len(t, ended(rec, telemetry.SpanTaskFinal, task.UUID), 1)
}

// A task an operator's step fix finishes (the failed last step completed
// by hand) gets a second finalization span, in its trace, naming the
// action, its reason and the step.
func TestTaskFinishedByAStepFixIsFinalizedInItsTrace(t *testing.T) {
	t.Parallel()
	rec, tp := spanRecorder(t)
	h := newTracedHarness(t, telemetry.NewTracer(tp))
	tpl := h.fixture("rust/mathematical_sequence.yaml", true)
	h.drive(tpl.NamespaceName, failAt("linear_step_4", false, 0))
	task := h.create(tpl, input)
	h.waitState(task.UUID, state.TaskError)
	root := ended(rec, telemetry.SpanTaskCreate, task.UUID)[0]
	require.Eventually(t, func() bool { return len(ended(rec, telemetry.SpanTaskFinal, task.UUID)) == 1 },
		10*time.Second, 10*time.Millisecond, "the failure finalized the task")

	step := h.steps(task.UUID)["linear_step_4"]
	_, err := h.core.ApplyStepAction(h.ctx, task.UUID, step.UUID, store.StepAction{
		Kind: store.ActionCompleteManually, By: "ops", Reason: "computed by hand",
		Result: json.RawMessage(`{"success":true,"status":"completed","result":{"result":1}}`),
	})
	require.NoError(t, err)
	require.Equal(t, state.TaskComplete, h.taskState(task.UUID))

	f := lastFinalizeSpan(t, rec, task.UUID, root, 2)
	requireAttrs(t, f, map[attribute.Key]attribute.Value{
		"task_state":            attribute.StringValue("complete"),
		telemetry.AttrTaskEvent: attribute.StringValue("complete_manually"),
		telemetry.AttrReason:    attribute.StringValue("computed by hand"),
		telemetry.AttrStepUUID:  attribute.StringValue(step.UUID.String()),
	})
}

// A task the staleness detector moves to error gets its finalization span,
// in its trace, with the reason and what the detector saw.
func TestStaleTaskIsFinalizedInItsTrace(t *testing.T) {
	t.Parallel()
	rec, tp := spanRecorder(t)
	h := newTracedHarness(t, telemetry.NewTracer(tp), func(c *config.Orchestration) {
		c.Staleness.StepsInProcess = time.Millisecond
		c.Staleness.Action = config.StalenessDLQ
	})
	tpl := h.fixture("rust/mathematical_sequence.yaml", false)
	hold := make(chan struct{})
	defer close(hold)
	h.drive(tpl.NamespaceName, func(store.ClaimedStep) outcome { return outcome{hold: hold} })
	task := h.create(tpl, input)
	root := ended(rec, telemetry.SpanTaskCreate, task.UUID)[0]
	require.Eventually(t, func() bool {
		return h.steps(task.UUID)["linear_step_1"].State == state.StepInProgress
	}, 10*time.Second, 10*time.Millisecond)
	// The worker stops heartbeating: its claim lapses.
	h.exec(`UPDATE workflow_steps SET claim_deadline = now() - interval '1 second' WHERE state = 'in_progress'`)
	h.core.RunMaintenance(h.ctx)
	require.Equal(t, state.TaskError, h.taskState(task.UUID))

	f := lastFinalizeSpan(t, rec, task.UUID, root, 1)
	requireAttrs(t, f, map[attribute.Key]attribute.Value{
		"task_state":            attribute.StringValue("error"),
		telemetry.AttrTaskEvent: attribute.StringValue("staleness_timeout"),
		telemetry.AttrReason:    attribute.StringValue("staleness_timeout"),
		"stale_state":           attribute.StringValue("steps_in_process"),
		"dlq":                   attribute.BoolValue(true),
		telemetry.AttrTaskName:  attribute.StringValue(tpl.Name),
	})
	require.Equal(t, codes.Error, f.Status().Code)
	require.Empty(t, f.Links(), "the detector's pass is not a traced request")
}

// A task requested through the orchestration_task_requests queue continues
// the trace of the message's traceparent; a message without one, or with a
// malformed one, starts a trace of its own.
func TestQueuedTaskRequestContinuesItsTrace(t *testing.T) {
	t.Parallel()
	rec, tp := spanRecorder(t)
	h := newTracedHarness(t, telemetry.NewTracer(tp))
	tpl := h.fixture("rust/mathematical_sequence.yaml", false)
	_, senderTP := spanRecorder(t)
	senderCtx, sender := senderTP.Tracer("sender").Start(h.ctx, "send task request")
	sender.End()

	send := func(ctxJSON, traceparent string) {
		msg, err := json.Marshal(orchestration.TaskRequestMessage{RequestID: uuid.NewString(), Traceparent: traceparent,
			TaskRequest: orchestration.TaskRequest{Namespace: tpl.NamespaceName, Name: tpl.Name, Version: tpl.Version,
				Context: json.RawMessage(ctxJSON)}})
		require.NoError(t, err)
		require.NoError(t, h.queue.Send(h.ctx, messaging.TaskRequestsQueue, 0, msg))
	}
	send(`{"even_number": 2}`, telemetry.Traceparent(senderCtx))
	send(`{"even_number": 4}`, "")
	send(`{"even_number": 6}`, "00-not-a-trace-context")

	byContext := map[string]sdktrace.ReadOnlySpan{}
	require.Eventually(t, func() bool {
		page, err := h.store.ListTasks(h.ctx, store.TaskFilter{Namespace: tpl.NamespaceName})
		require.NoError(t, err)
		for _, task := range page.Tasks {
			if c := ended(rec, telemetry.SpanTaskCreate, task.UUID); len(c) == 1 {
				var v struct {
					EvenNumber int `json:"even_number"`
				}
				require.NoError(t, json.Unmarshal(task.Context, &v))
				byContext[map[int]string{2: "traced", 4: "none", 6: "malformed"}[v.EvenNumber]] = c[0]
			}
		}
		return len(byContext) == 3
	}, 10*time.Second, 10*time.Millisecond)

	traced := byContext["traced"]
	require.Equal(t, sender.SpanContext().TraceID(), traced.SpanContext().TraceID(), "the sender's trace continues")
	require.Equal(t, sender.SpanContext().SpanID(), traced.Parent().SpanID())
	require.True(t, traced.Parent().IsRemote())
	for _, name := range []string{"none", "malformed"} {
		s := byContext[name]
		require.False(t, s.Parent().IsValid(), "%s: a new trace", name)
		require.NotEqual(t, sender.SpanContext().TraceID(), s.SpanContext().TraceID(), name)
	}

	// The message's traceparent is optional on the wire.
	var m orchestration.TaskRequestMessage
	require.NoError(t, json.Unmarshal([]byte(`{"request_id":"r","task_request":{"name":"n","namespace":"ns"}}`), &m))
	require.Empty(t, m.Traceparent)
	b, err := json.Marshal(orchestration.TaskRequestMessage{RequestID: "r"})
	require.NoError(t, err)
	require.NotContains(t, string(b), "traceparent")
}
