package worker

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/telemetry"
	"github.com/tasker-go/tasker/shared/template"
)

// TestTraceContextReachesForeignHandlers: a span started in another
// process (its own tracer provider) is stored with the task; the worker's
// claim and run spans are its children, and the step event handed to a
// foreign handler carries the run span's traceparent, so the handler's own
// spans join the trace under the run. A task created untraced gives a step
// event without the field.
func TestTraceContextReachesForeignHandlers(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, batchYAML)

	// The "orchestration process".
	orchTP := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = orchTP.Shutdown(context.Background()) })
	orchCtx, orchSpan := orchTP.Tracer("orchestration").Start(h.ctx, "create")
	orchSpan.End()
	h.traceParent = telemetry.Traceparent(orchCtx)
	require.NotEmpty(t, h.traceParent)

	// The "worker process".
	rec := tracetest.NewSpanRecorder()
	workTP := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = workTP.Shutdown(context.Background()) })
	x := NewChannelExecutor(ChannelExecutorConfig{})
	h.newCore(coreSpec{templates: []*template.Template{tpl}, fallback: x, tracer: telemetry.NewTracer(workTP)})
	h.orchestrate()
	traced := h.createTask(tpl, `{}`)
	h.traceParent = ""
	untraced := h.createTask(tpl, `{}`)

	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	defer cancel()
	parents := map[string]string{}
	for range 2 {
		evs, err := x.PollWait(ctx, 1)
		require.NoError(t, err)
		require.Len(t, evs, 1)
		var m struct {
			TaskUUID    string  `json:"task_uuid"`
			Traceparent *string `json:"traceparent"`
		}
		require.NoError(t, json.Unmarshal(evs[0].JSON, &m))
		if m.Traceparent != nil {
			parents[m.TaskUUID] = *m.Traceparent
		}
		require.NoError(t, x.Complete(evs[0].ID, []byte(`{"success": true, "result": {}}`)))
	}
	require.NotContains(t, parents, untraced.id.String(), "an untraced task's event has no traceparent")
	tp, ok := parents[traced.id.String()]
	require.True(t, ok, "the traced task's event has a traceparent")
	h.waitFor("both tasks to complete", func() bool {
		return h.taskState(traced.id) == state.TaskComplete && h.taskState(untraced.id) == state.TaskComplete
	})

	var run, claim sdktrace.ReadOnlySpan
	require.Eventually(t, func() bool {
		for _, s := range rec.Ended() {
			switch s.Name() {
			case telemetry.SpanStepExecute:
				run = s
			case telemetry.SpanStepClaim:
				claim = s
			}
		}
		return run != nil && claim != nil
	}, 10*time.Second, 10*time.Millisecond)
	want := orchSpan.SpanContext()
	for _, s := range []sdktrace.ReadOnlySpan{run, claim} {
		require.Equal(t, want.TraceID(), s.SpanContext().TraceID(), "%s joins the orchestrator's trace", s.Name())
		require.Equal(t, want.SpanID(), s.Parent().SpanID(), "%s is a child of the orchestrator's span", s.Name())
		require.True(t, s.Parent().IsRemote())
	}
	require.False(t, claim.EndTime().After(run.StartTime()), "the claim precedes the run")
	handlerParent := trace.SpanContextFromContext(telemetry.ContextWithTraceparent(context.Background(), tp))
	require.Equal(t, run.SpanContext().TraceID(), handlerParent.TraceID())
	require.Equal(t, run.SpanContext().SpanID(), handlerParent.SpanID(), "the event names the run span")
	require.Len(t, rec.Ended(), 2, "the untraced task records no span")
}
