package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tasker-go/tasker/internal/otlptest"
	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/internal/testlog"
	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/telemetry"
)

// TestWorkerProcessJoinsTheTasksTrace runs orchestration in this process
// (spans to an in-memory exporter) and the worker as a separate OS process
// (this test binary re-executed as tasker-worker), which exports its spans
// over OTLP HTTP to a collector in the test. The only things the two
// processes share are the database and the trace context stored with the
// task: every claim and handler run the worker exported is in the task's
// trace, a child of the orchestrator's creation span.
func TestWorkerProcessJoinsTheTasksTrace(t *testing.T) {
	col := otlptest.NewHTTP(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	s := systest.Start(t, systest.Options{Workers: -1, OrchestrationTracer: telemetry.NewTracer(tp)})

	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = []string{
		runWorkerEnv + "=1",
		"PATH=" + os.Getenv("PATH"),
		"DATABASE_URL=" + s.DB.URL,
		"TASKER_ENV=test",
		"TASKER__DATABASE__SCHEMA=" + s.DB.Schema,
		"TASKER__WORKER__WEB__BIND_ADDRESS=127.0.0.1:0",
		"TASKER__WORKER__WORKER_ID=worker-process",
		"TASKER_TEMPLATE_PATH=" + t.TempDir(),
		"TASKER__TELEMETRY__ENABLED=true",
		"TASKER__TELEMETRY__PROTOCOL=http/protobuf",
		"TASKER__TELEMETRY__ENDPOINT=" + col.Endpoint,
		"OTEL_BSP_SCHEDULE_DELAY=50", // export within 50 ms instead of 5 s
	}
	var out testlog.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			t.Logf("worker process killed: %v", <-exited)
		}
	}()
	require.NotEqual(t, os.Getpid(), cmd.Process.Pid)

	// The caller's span: the task continues its trace.
	callerRec := tracetest.NewSpanRecorder()
	callerTP := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(callerRec))
	defer func() { _ = callerTP.Shutdown(context.Background()) }()
	callerCtx, caller := callerTP.Tracer("caller").Start(s.Ctx, "caller")
	caller.End()
	created, err := s.Core.CreateTask(callerCtx, orchestration.TaskRequest{Namespace: "examples_diamond",
		Name: "square_diamond", Version: "1.0.0", Context: json.RawMessage(`{"even_number": 2}`)})
	require.NoError(t, err)
	task := created.Task.UUID
	traceID := caller.SpanContext().TraceID().String()

	require.Eventually(t, func() bool {
		tk, err := s.Store.GetTask(s.Ctx, task)
		return err == nil && tk.State == state.TaskComplete
	}, 60*time.Second, 20*time.Millisecond, "the worker process runs the task; its log:\n%s", &out)
	byName := func() map[string][]otlptest.Span {
		m := map[string][]otlptest.Span{}
		for _, sp := range col.Spans() {
			if sp.Attr("task_uuid") == task.String() {
				m[sp.Name] = append(m[sp.Name], sp)
			}
		}
		return m
	}
	require.Eventually(t, func() bool { return len(byName()[telemetry.SpanStepExecute]) == 4 },
		30*time.Second, 20*time.Millisecond, "the worker process exports a run span per step; its log:\n%s", &out)

	// Stop it as Kubernetes would; it exits cleanly.
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		stopped = true
		require.NoError(t, err, "the worker process's log:\n%s", &out)
	case <-time.After(30 * time.Second):
		t.Fatalf("the worker process did not stop; its log:\n%s", &out)
	}

	var root sdktrace.ReadOnlySpan
	for _, sp := range rec.Ended() {
		if sp.Name() == telemetry.SpanTaskCreate {
			root = sp
		}
	}
	require.NotNil(t, root, "the orchestrator recorded the creation")
	require.Equal(t, traceID, root.SpanContext().TraceID().String())
	rootID := root.SpanContext().SpanID().String()

	got := byName()
	require.Len(t, got[telemetry.SpanStepExecute], 4)
	require.Len(t, got[telemetry.SpanStepClaim], 4)
	steps := map[string]bool{}
	for _, name := range []string{telemetry.SpanStepClaim, telemetry.SpanStepExecute} {
		for _, sp := range got[name] {
			require.Equal(t, "tasker-worker", sp.Service, "exported by the worker process")
			require.Equal(t, traceID, sp.TraceID(), "%s is in the task's trace", name)
			require.Equal(t, rootID, sp.ParentID(), "%s's parent is the orchestrator's creation span", name)
			require.Equal(t, "worker-process", sp.Attr("worker_id"))
			require.Equal(t, created.Task.CorrelationID.String(), sp.Attr("correlation_id"))
			if name == telemetry.SpanStepExecute {
				require.Equal(t, "success", sp.Attr("outcome"))
				steps[sp.Attr("step_name")] = true
			}
		}
	}
	require.Equal(t, map[string]bool{"diamond_start": true, "diamond_branch_b": true, "diamond_branch_c": true,
		"diamond_end": true}, steps)
}
