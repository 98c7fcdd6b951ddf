package systest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/telemetry"
)

// recorder is one process's tracer provider with an in-memory exporter.
func recorder(t *testing.T) (*tracetest.SpanRecorder, *sdktrace.TracerProvider) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	return rec, tp
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func byName(spans []sdktrace.ReadOnlySpan) map[string][]sdktrace.ReadOnlySpan {
	out := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		out[s.Name()] = append(out[s.Name()], s)
	}
	return out
}

// A diamond task is one trace across the orchestration and worker
// "processes" (two tracer providers that share nothing but the database):
// the caller's traceparent header is the parent of the task's creation
// span, and every enqueue, claim, handler run, result and the
// finalization are children of it, with tasker-core's attribute names.
func TestDiamondTaskIsOneTraceAcrossProcesses(t *testing.T) {
	orchRec, orchTP := recorder(t)
	workRec, workTP := recorder(t)
	s := systest.Start(t, systest.Options{
		OrchestrationTracer: telemetry.NewTracer(orchTP),
		WorkerTracer:        telemetry.NewTracer(workTP),
	})

	// The caller's span, in a third provider: only its traceparent travels.
	callerRec, callerTP := recorder(t)
	callerCtx, caller := callerTP.Tracer("caller").Start(t.Context(), "caller")
	caller.End()
	require.Len(t, callerRec.Ended(), 1)
	traceID := caller.SpanContext().TraceID()

	correlation := uuid.New()
	body, err := json.Marshal(map[string]any{"namespace": "examples_diamond", "name": "square_diamond",
		"version": "1.0.0", "context": map[string]any{"even_number": 2}, "correlation_id": correlation})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/v1/tasks", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", telemetry.Traceparent(callerCtx))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var created struct {
		TaskUUID uuid.UUID `json:"task_uuid"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&created))
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	require.Eventually(t, func() bool {
		tk, err := s.Store.GetTask(s.Ctx, created.TaskUUID)
		return err == nil && tk.State == state.TaskComplete
	}, 30*time.Second, 20*time.Millisecond)
	// The worker's run spans end after the result was handed over; the
	// finalization span right after the commit.
	var orch, work map[string][]sdktrace.ReadOnlySpan
	require.Eventually(t, func() bool {
		orch, work = byName(orchRec.Ended()), byName(workRec.Ended())
		return len(orch[telemetry.SpanTaskFinal]) == 1 && len(work[telemetry.SpanStepExecute]) == 4
	}, 10*time.Second, 10*time.Millisecond)

	require.Len(t, orch[telemetry.SpanTaskCreate], 1)
	root := orch[telemetry.SpanTaskCreate][0]
	require.Equal(t, traceID, root.SpanContext().TraceID(), "the task continues the caller's trace")
	require.Equal(t, caller.SpanContext().SpanID(), root.Parent().SpanID())
	require.True(t, root.Parent().IsRemote())
	v, _ := attr(root, telemetry.AttrCorrelationID)
	require.Equal(t, correlation.String(), v.AsString())

	// Every span of the task, in either process, is in the trace and a
	// child of the creation span.
	steps := map[string]bool{}
	for _, spans := range []map[string][]sdktrace.ReadOnlySpan{orch, work} {
		for name, list := range spans {
			if name == telemetry.SpanTaskCreate {
				continue
			}
			for _, sp := range list {
				require.Equal(t, traceID, sp.SpanContext().TraceID(), "%s is in the task's trace", name)
				require.Equal(t, root.SpanContext().SpanID(), sp.Parent().SpanID(), "%s is a child of the creation", name)
				v, ok := attr(sp, telemetry.AttrTaskUUID)
				require.True(t, ok, "%s has task_uuid", name)
				require.Equal(t, created.TaskUUID.String(), v.AsString())
			}
		}
	}
	require.Len(t, work[telemetry.SpanStepClaim], 4)
	require.Len(t, orch[telemetry.SpanStepResult], 4)
	require.NotEmpty(t, orch[telemetry.SpanStepEnqueue])
	for _, sp := range work[telemetry.SpanStepExecute] {
		name, _ := attr(sp, telemetry.AttrStepName)
		steps[name.AsString()] = true
		for key, want := range map[attribute.Key]attribute.Value{
			telemetry.AttrNamespace:     attribute.StringValue("examples_diamond"),
			telemetry.AttrAttempt:       attribute.IntValue(1),
			telemetry.AttrWorkerID:      attribute.StringValue("systest-worker-0"),
			telemetry.AttrCorrelationID: attribute.StringValue(correlation.String()),
			telemetry.AttrOutcome:       attribute.StringValue("success"),
		} {
			got, ok := attr(sp, key)
			require.True(t, ok, "execute span has %s", key)
			require.Equal(t, want, got, "execute span's %s", key)
		}
		_, ok := attr(sp, telemetry.AttrStepUUID)
		require.True(t, ok)
		require.Equal(t, trace.SpanKindInternal, sp.SpanKind())
	}
	require.Equal(t, map[string]bool{"diamond_start": true, "diamond_branch_b": true, "diamond_branch_c": true,
		"diamond_end": true}, steps)
	final, _ := attr(orch[telemetry.SpanTaskFinal][0], "task_state")
	require.Equal(t, "complete", final.AsString())
}
