package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

const eventYAML = `name: evt
namespace_name: evt_ns
version: "2.0.0"
steps:
  - name: first
    handler: {callable: go.first}
  - name: second
    description: the foreign step
    dependencies: [first]
    handler: {callable: "Ruby::Second", method: run, resolver: explicit, initialization: {factor: 3}}
    retry: {retryable: true, max_attempts: 4, backoff: linear, backoff_base_ms: 50, max_backoff_ms: 500}
    timeout_seconds: 30
    publishes_events: [{name: second.done}]
`

// keysOf lists an object's keys, sorted.
func keysOf(t *testing.T, v any) []string {
	t.Helper()
	m, ok := v.(map[string]any)
	require.True(t, ok, "%v is not an object", v)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sorted(ss ...string) []string {
	sort.Strings(ss)
	return ss
}

// TestStepEventShape: a step handed to a foreign handler arrives in
// tasker-core's event shape, every field present, with the template's step
// definition, the ancestors' execution results and the attempts before
// this run.
func TestStepEventShape(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, eventYAML)
	reg := NewRegistry()
	handle(t, reg, "go.first", func(_ context.Context, s *Step[struct{}]) (map[string]int, error) {
		s.SetMetadata("by", "go")
		return map[string]int{"value": 7}, nil
	})
	x := NewChannelExecutor(ChannelExecutorConfig{})
	events := make(chan map[string]any, 1)
	errs := foreign(t, x, 1, func(ev map[string]any) string {
		events <- ev
		return `{"success": true, "result": 8}`
	})
	h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg, fallback: x})
	h.orchestrate()
	tk := h.createTask(tpl, `{"order": 1}`)
	h.waitFor("the task to complete", func() bool { return h.taskState(tk.id) == state.TaskComplete })
	require.NoError(t, <-errs)
	ev := <-events

	require.Equal(t, sorted("event_id", "task_uuid", "step_uuid", "correlation_id", "task_correlation_id",
		"parent_correlation_id", "task_sequence_step"), keysOf(t, ev))
	require.Equal(t, tk.id.String(), ev["task_uuid"])
	require.Equal(t, tk.steps["second"].String(), ev["step_uuid"])
	require.Equal(t, ev["correlation_id"], ev["task_correlation_id"])
	tss := ev["task_sequence_step"]
	require.Equal(t, sorted("task", "workflow_step", "dependency_results", "step_definition"), keysOf(t, tss))

	task := dig(ev, "task_sequence_step", "task")
	require.Equal(t, sorted("task", "task_name", "task_version", "namespace_name"), keysOf(t, task))
	require.Equal(t, "evt", dig(ev, "task_sequence_step", "task", "task_name"))
	require.Equal(t, "2.0.0", dig(ev, "task_sequence_step", "task", "task_version"))
	require.Equal(t, "evt_ns", dig(ev, "task_sequence_step", "task", "namespace_name"))
	row := dig(ev, "task_sequence_step", "task", "task").(map[string]any)
	require.Equal(t, sorted("task_uuid", "named_task_uuid", "complete", "requested_at", "initiator", "source_system",
		"reason", "tags", "context", "identity_hash", "priority", "created_at", "updated_at", "correlation_id",
		"parent_correlation_id"), keysOf(t, row))
	require.Equal(t, map[string]any{"order": float64(1)}, row["context"])
	require.Equal(t, false, row["complete"])
	require.NotNil(t, row["named_task_uuid"])
	require.NotNil(t, row["identity_hash"])
	_, err := time.Parse(time.RFC3339Nano, row["requested_at"].(string))
	require.NoError(t, err)

	ws := dig(ev, "task_sequence_step", "workflow_step").(map[string]any)
	require.Equal(t, sorted("workflow_step_uuid", "task_uuid", "named_step_uuid", "name", "template_step_name",
		"retryable", "max_attempts", "in_process", "processed", "processed_at", "attempts", "last_attempted_at",
		"backoff_request_seconds", "inputs", "results", "checkpoint", "created_at", "updated_at"), keysOf(t, ws))
	require.Equal(t, "second", ws["name"])
	require.Equal(t, "second", ws["template_step_name"])
	require.EqualValues(t, 0, ws["attempts"], "attempts before this run, as tasker-core hydrates them")
	require.EqualValues(t, 4, ws["max_attempts"])
	require.Equal(t, true, ws["in_process"])
	require.Nil(t, ws["results"])
	require.Nil(t, ws["checkpoint"])
	require.Equal(t, map[string]any{"factor": float64(3)}, ws["inputs"])

	deps := dig(ev, "task_sequence_step", "dependency_results").(map[string]any)
	require.Equal(t, []string{"first"}, keysOf(t, deps))
	first := deps["first"].(map[string]any)
	require.Equal(t, true, first["success"])
	require.Equal(t, map[string]any{"value": float64(7)}, first["result"])
	require.Equal(t, "completed", first["status"])
	require.Equal(t, tk.steps["first"].String(), first["step_uuid"])
	require.Equal(t, map[string]any{"by": "go"}, dig(first, "metadata", "custom"))

	def := dig(ev, "task_sequence_step", "step_definition").(map[string]any)
	require.Equal(t, sorted("name", "description", "handler", "type", "system_dependency", "dependencies", "retry",
		"timeout_seconds", "publishes_events", "batch_config"), keysOf(t, def))
	require.Equal(t, "second", def["name"])
	require.Equal(t, "the foreign step", def["description"])
	require.Equal(t, map[string]any{"callable": "Ruby::Second", "method": "run", "resolver": "explicit",
		"initialization": map[string]any{"factor": float64(3)}}, def["handler"])
	require.Equal(t, "standard", def["type"])
	require.Equal(t, []any{"first"}, def["dependencies"])
	require.Equal(t, map[string]any{"retryable": true, "max_attempts": float64(4), "backoff": "linear",
		"backoff_base_ms": float64(50), "max_backoff_ms": float64(500)}, def["retry"])
	require.EqualValues(t, 30, def["timeout_seconds"])
	require.Len(t, def["publishes_events"], 1)
	require.Nil(t, def["batch_config"])

	require.JSONEq(t, `8`, string(stepresult.Parse(h.step(tk, "second").Results).Result))
}

// TestStepEventWithoutTemplate: a step of a template the worker did not
// register gets a definition rebuilt from its row; a retry shows the
// attempts made before; a dependency value set by hand is wrapped as an
// execution result.
func TestStepEventWithoutTemplate(t *testing.T) {
	cs := claimedStep("py.Fetch")
	cs.Step.Attempts = 3
	cs.Step.StepType = "batch_worker"
	cs.Step.TemplateStepName = "process_batch"
	cs.Step.Name = "process_batch_001"
	cs.Step.TimeoutSeconds = 12
	cs.Step.Retry = store.RetryPolicy{Retryable: true, MaxAttempts: 5, Backoff: "fibonacci", BackoffBase: 10, MaxBackoffMs: 90}
	cs.Step.Checkpoint = json.RawMessage(`{"cursor": 5}`)
	cs.Dependencies = map[string]json.RawMessage{"manual": json.RawMessage(`{"resolved": true}`), "none": json.RawMessage(`null`)}
	raw, err := encodeStepEvent("e-1", cs, nil, nil)
	require.NoError(t, err)
	var ev map[string]any
	require.NoError(t, json.Unmarshal(raw, &ev))
	require.EqualValues(t, 2, dig(ev, "task_sequence_step", "workflow_step", "attempts"))
	require.Equal(t, map[string]any{"cursor": float64(5)}, dig(ev, "task_sequence_step", "workflow_step", "checkpoint"))
	require.Equal(t, "process_batch", dig(ev, "task_sequence_step", "workflow_step", "template_step_name"))
	def := dig(ev, "task_sequence_step", "step_definition").(map[string]any)
	require.Equal(t, "process_batch", def["name"])
	require.Equal(t, "batch_worker", def["type"])
	require.Equal(t, map[string]any{}, dig(def, "handler", "initialization"), "a batch worker's inputs are its cursor, not its configuration")
	require.Equal(t, "py.Fetch", dig(def, "handler", "callable"))
	require.EqualValues(t, 12, def["timeout_seconds"])
	require.Equal(t, "fibonacci", dig(def, "retry", "backoff"))
	require.Equal(t, []any{}, def["dependencies"])
	require.Equal(t, map[string]any{"resolved": true}, dig(ev, "task_sequence_step", "dependency_results", "manual", "result"))
	require.Equal(t, true, dig(ev, "task_sequence_step", "dependency_results", "manual", "success"))
	require.Equal(t, map[string]any{}, dig(ev, "task_sequence_step", "dependency_results", "none", "result"))

	cs.Step.StepType = "standard"
	raw, err = encodeStepEvent("e-2", cs, nil, nil)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &ev))
	require.Equal(t, map[string]any{"url": "u"}, dig(ev, "task_sequence_step", "step_definition", "handler", "initialization"),
		"an ordinary step was created with its template's initialization as inputs")
}

const batchYAML = `name: cp
namespace_name: cp_ns
version: "1"
steps:
  - {name: crunch, handler: {callable: "Py::Crunch"}, timeout_seconds: 60}
`

// TestChannelExecutorYield: a foreign handler checkpoints twice; each
// yield saves the record under the kept claim and brings the step back as a
// new event that carries it; the finished events are unknown; a bad
// checkpoint leaves the event open.
func TestChannelExecutorYield(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, batchYAML)
	x := NewChannelExecutor(ChannelExecutorConfig{})
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, fallback: x})
	h.orchestrate()
	tk := h.createTask(tpl, `{}`)
	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	defer cancel()
	next := func() (Event, map[string]any) {
		evs, err := x.PollWait(ctx, 1)
		require.NoError(t, err)
		require.Len(t, evs, 1)
		var m map[string]any
		require.NoError(t, json.Unmarshal(evs[0].JSON, &m))
		return evs[0], m
	}

	ev1, m1 := next()
	require.Nil(t, dig(m1, "task_sequence_step", "workflow_step", "checkpoint"))
	require.ErrorIs(t, x.Yield(ctx, ev1.ID, []byte(`{"cursor": 10`)), ErrMalformedJSON)
	require.ErrorIs(t, x.Yield(ctx, ev1.ID, []byte(`{"cursor": 10}`)), ErrInvalidCheckpoint)
	require.ErrorIs(t, x.Yield(ctx, ev1.ID, []byte(`{"cursor": 10, "items_processed": -1}`)), ErrInvalidCheckpoint)
	require.ErrorIs(t, x.Yield(ctx, ev1.ID, []byte(`[1]`)), ErrInvalidCheckpoint)
	require.NoError(t, x.Yield(ctx, ev1.ID, []byte(`{"step_uuid": "ignored", "cursor": 10, "items_processed": 10,
		"accumulated_results": {"sum": 55}}`)))
	require.ErrorIs(t, x.Complete(ev1.ID, []byte(`{"success": true}`)), ErrUnknownEvent, "a yielded event is finished")
	require.ErrorIs(t, x.Yield(ctx, ev1.ID, []byte(`{"cursor": 1, "items_processed": 1}`)), ErrUnknownEvent)

	ev2, m2 := next()
	require.NotEqual(t, ev1.ID, ev2.ID)
	require.Equal(t, ev1.StepUUID, ev2.StepUUID)
	require.EqualValues(t, 0, dig(m2, "task_sequence_step", "workflow_step", "attempts"), "the attempt does not count again")
	cp := dig(m2, "task_sequence_step", "workflow_step", "checkpoint").(map[string]any)
	require.EqualValues(t, 10, cp["cursor"])
	require.EqualValues(t, 10, cp["items_processed"])
	require.Equal(t, map[string]any{"sum": float64(55)}, cp["accumulated_results"])
	require.Len(t, cp["history"], 1)
	require.NotEmpty(t, cp["timestamp"])
	st := h.step(tk, "crunch")
	require.Equal(t, state.StepInProgress, st.State, "the claim is kept")
	require.Equal(t, c.WorkerID(), st.ClaimedBy)

	require.NoError(t, x.Yield(ctx, ev2.ID, []byte(`{"cursor": 20, "items_processed": 20, "accumulated_results": null}`)))
	ev3, m3 := next()
	cp = dig(m3, "task_sequence_step", "workflow_step", "checkpoint").(map[string]any)
	require.EqualValues(t, 20, cp["cursor"])
	require.Nil(t, cp["accumulated_results"])
	require.Len(t, cp["history"], 2)
	require.NoError(t, x.Complete(ev3.ID, []byte(`{"success": true, "result": {"total": 20}}`)))

	h.waitFor("the task to complete", func() bool { return h.taskState(tk.id) == state.TaskComplete })
	st = h.step(tk, "crunch")
	require.Equal(t, 1, st.Attempts)
	require.JSONEq(t, `{"total": 20}`, string(stepresult.Parse(st.Results).Result))
	var rec struct {
		Cursor  int   `json:"cursor"`
		History []any `json:"history"`
	}
	require.NoError(t, json.Unmarshal(st.Checkpoint, &rec))
	require.Equal(t, 20, rec.Cursor)
	require.Len(t, rec.History, 2)
	require.Zero(t, x.Pending())
}

// TestYieldCheckpointFromGo: a Go handler yields checkpoints the same way
// and runs again from each; outside a worker the call says so; a handler
// that yields and then overstays its timeout fails as timed out with its
// checkpoint saved.
func TestYieldCheckpointFromGo(t *testing.T) {
	require.ErrorIs(t, YieldCheckpoint(context.Background(), Checkpoint{}), ErrNoStepRun)

	h := newHarness(t)
	tpl := parseTemplate(t, `name: gocp
namespace_name: gocp_ns
version: "1"
steps:
  - {name: loop, handler: {callable: go.loop}}
  - {name: stall, handler: {callable: go.stall}, timeout_seconds: 1}
`)
	var mu sync.Mutex
	var seen []string
	reg := NewRegistry()
	handle(t, reg, "go.loop", func(ctx context.Context, s *Step[struct{}]) (any, error) {
		var cp struct {
			Cursor int `json:"cursor"`
		}
		if s.RawCheckpoint() != nil {
			if err := json.Unmarshal(s.RawCheckpoint(), &cp); err != nil {
				return nil, Permanent(err)
			}
		}
		if saved, ok := s.Checkpoint(); ok {
			require.JSONEq(t, fmt.Sprint(cp.Cursor), string(saved.Cursor))
			require.EqualValues(t, cp.Cursor, saved.ItemsProcessed)
		}
		mu.Lock()
		seen = append(seen, fmt.Sprintf("attempt %d cursor %d", s.Attempt(), cp.Cursor))
		mu.Unlock()
		if cp.Cursor < 2 {
			next := json.RawMessage(fmt.Sprint(cp.Cursor + 1))
			if err := YieldCheckpoint(ctx, Checkpoint{Cursor: next, ItemsProcessed: int64(cp.Cursor + 1)}); err != nil {
				return nil, err
			}
			return "discarded", nil
		}
		return map[string]int{"done": cp.Cursor}, nil
	})
	handle(t, reg, "go.stall", func(ctx context.Context, s *Step[struct{}]) (any, error) {
		if _, ok := s.Checkpoint(); !ok {
			if err := YieldCheckpoint(ctx, Checkpoint{Cursor: json.RawMessage(`"half"`)}); err != nil {
				return nil, err
			}
			return nil, nil
		}
		<-ctx.Done()
		return nil, errors.New("cancelled")
	})
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg,
		config: func(w *config.Worker) { w.Handlers.DefaultTimeout = 5 * time.Second }})
	h.orchestrate()
	tk := h.createTask(tpl, `{}`)
	h.waitFor("the task to finish", func() bool { return h.taskState(tk.id) == state.TaskError })

	mu.Lock()
	require.Equal(t, []string{"attempt 1 cursor 0", "attempt 1 cursor 1", "attempt 1 cursor 2"}, seen)
	mu.Unlock()
	loop := h.step(tk, "loop")
	require.Equal(t, state.StepComplete, loop.State)
	require.JSONEq(t, `{"done": 2}`, string(stepresult.Parse(loop.Results).Result))
	stall := h.step(tk, "stall")
	res := stepresult.Parse(stall.Results)
	require.Equal(t, stepresult.ErrorTypeHandlerTimeout, res.Metadata.ErrorType)
	var rec struct {
		Cursor string `json:"cursor"`
	}
	require.NoError(t, json.Unmarshal(stall.Checkpoint, &rec))
	require.Equal(t, "half", rec.Cursor)
	require.EqualValues(t, 3, testutilCounter(t, c, "tasker_worker_checkpoints_total"))
}

// testutilCounter reads a counter of the core's metrics.
func testutilCounter(t *testing.T, c *Core, name string) float64 {
	t.Helper()
	mfs, err := c.opts.Gatherer.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// TestYieldAfterClaimLost: a yield for a step whose claim the worker lost
// is refused as an unknown event.
func TestYieldAfterClaimLost(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, batchYAML)
	x := NewChannelExecutor(ChannelExecutorConfig{})
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, fallback: x})
	tk := h.createTask(tpl, `{}`)
	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	defer cancel()
	evs, err := x.PollWait(ctx, 1)
	require.NoError(t, err)
	// Another worker takes the step over (as if this claim had expired).
	n, err := h.store.ReleaseClaims(ctx, c.WorkerID(), []uuid.UUID{tk.steps["crunch"]}, nil)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	err = x.Yield(ctx, evs[0].ID, []byte(`{"cursor": 1, "items_processed": 1}`))
	require.ErrorIs(t, err, ErrUnknownEvent)
	require.Empty(t, h.step(tk, "crunch").Checkpoint)
}

// StepEvent encodes a step outside a worker run: a fresh event id each
// time and the step definition rebuilt from the step.
func TestStepEventOutsideAWorker(t *testing.T) {
	sc := NewStepContext(StepData{StepName: "s", Callable: "wasm:m/f", Method: "call", Attempt: 2, MaxAttempts: 3,
		Context: json.RawMessage(`{"n": 1}`), Dependencies: map[string]json.RawMessage{"a": json.RawMessage(`{"success": true, "result": 7}`)}})
	var evs [2]struct {
		EventID          string `json:"event_id"`
		TaskSequenceStep struct {
			Task struct {
				Task struct {
					Context json.RawMessage `json:"context"`
				} `json:"task"`
			} `json:"task"`
			WorkflowStep struct {
				Attempts int `json:"attempts"`
			} `json:"workflow_step"`
			DependencyResults map[string]json.RawMessage `json:"dependency_results"`
			StepDefinition    struct {
				Handler struct {
					Callable string `json:"callable"`
				} `json:"handler"`
			} `json:"step_definition"`
		} `json:"task_sequence_step"`
	}
	for i := range evs {
		raw, err := StepEvent(context.Background(), sc)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &evs[i]))
	}
	require.NotEqual(t, evs[0].EventID, evs[1].EventID)
	tss := evs[0].TaskSequenceStep
	require.JSONEq(t, `{"n": 1}`, string(tss.Task.Task.Context))
	require.Equal(t, 1, tss.WorkflowStep.Attempts, "attempts before this run")
	require.Equal(t, "wasm:m/f", tss.StepDefinition.Handler.Callable)
	require.JSONEq(t, `{"success": true, "result": 7}`, string(tss.DependencyResults["a"]))
}
