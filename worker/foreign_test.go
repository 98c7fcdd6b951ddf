package worker

import (
	"context"
	"encoding/json"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// This file drives a Core's foreign-executor path without a database: the
// Core is built but not started, steps are dispatched as a claim round
// dispatches them, and the results it submits are taken from its
// completer's queue instead of being committed.

// linearYAML is the template of the bench's linear workflow (its second
// step is the one the tests and the benchmark dispatch).
const linearYAML = `name: mathematical_sequence
namespace_name: linear_workflow
version: 1.0.0
description: four steps in a line
steps:
  - {name: linear_step_1, description: Square the initial even number, handler: {callable: "LinearWorkflow::StepHandlers::LinearStep1Handler", initialization: {operation: square}}}
  - {name: linear_step_2, description: Square the result, dependencies: [linear_step_1], handler: {callable: "LinearWorkflow::StepHandlers::LinearStep2Handler", initialization: {operation: square}}}
  - {name: linear_step_3, description: Square again, dependencies: [linear_step_2], handler: {callable: "LinearWorkflow::StepHandlers::LinearStep3Handler", initialization: {operation: square}}}
  - {name: linear_step_4, description: Square a last time, dependencies: [linear_step_3], handler: {callable: "LinearWorkflow::StepHandlers::LinearStep4Handler", initialization: {operation: square}}}
`

// foreignRig is an unstarted Core with a ChannelExecutor as its fallback and
// the linear template registered.
type foreignRig struct {
	c   *Core
	x   *ChannelExecutor
	tpl *template.Template
}

func newForeignRig(t testing.TB) *foreignRig {
	t.Helper()
	tpl := parseTemplate(t, linearYAML)
	x := NewChannelExecutor(ChannelExecutorConfig{})
	cfg := testConfig()
	cfg.Handlers.MaxConcurrent = 100
	c, err := New(Options{Store: &store.Store{}, Registry: NewRegistry(), Fallback: x, Config: cfg,
		Logger: testLogger(), Hostname: "rig"})
	require.NoError(t, err)
	c.runCtx, c.cancelRun = context.WithCancel(context.Background())
	t.Cleanup(c.cancelRun)
	c.reg.Store(&registered{namespaces: []string{tpl.NamespaceName}, templates: []*template.Template{tpl},
		byKey: map[string]*template.Template{tpl.Key(): tpl}, defs: stepDefinitions([]*template.Template{tpl})})
	return &foreignRig{c: c, x: x, tpl: tpl}
}

// step is linear_step_2 of a new task, claimed, with linear_step_1's stored
// result as its dependency.
func (r *foreignRig) step() *store.ClaimedStep {
	now := time.Now().UTC()
	def, _ := r.tpl.Step("linear_step_2")
	task := uuid.New()
	dep, _ := json.Marshal(map[string]any{"step_uuid": uuid.New(), "success": true, "result": 36, "status": "completed",
		"metadata": map[string]any{"execution_time_ms": 0, "worker_id": "ruby-worker-1", "retryable": false,
			"started_at": now, "completed_at": now, "custom": map[string]any{}}})
	return &store.ClaimedStep{
		MessageID: 7,
		Step: store.Step{UUID: uuid.New(), TaskUUID: task, NamedStepUUID: uuid.New(), Name: def.Name,
			HandlerCallable: def.Handler.Callable, HandlerMethod: "call", Attempts: 1,
			Retry: store.RetryPolicy{MaxAttempts: 3, Retryable: true, Backoff: "exponential", BackoffBase: 1000,
				MaxBackoffMs: 30000},
			Inputs: json.RawMessage(`{"operation": "square"}`), LastAttemptedAt: &now, CreatedAt: now, UpdatedAt: now},
		Task: store.ClaimedTask{UUID: task, NamedTaskUUID: uuid.New(), Namespace: r.tpl.NamespaceName, Name: r.tpl.Name,
			Version: r.tpl.Version, Context: json.RawMessage(`{"even_number": 6}`), CorrelationID: uuid.New(),
			RequestedAt: now, IdentityHash: "abc", CreatedAt: now, UpdatedAt: now},
		Dependencies: map[string]json.RawMessage{"linear_step_1": dep},
	}
}

// dispatch starts cs as a claim round does.
func (r *foreignRig) dispatch(cs *store.ClaimedStep) {
	n, _ := r.c.slots.reserve(1)
	r.c.slots.settle(n, 1)
	r.c.dispatch(cs, "worker_linear_workflow_queue", time.Now().Add(time.Minute))
}

// submitted takes the results the Core handed to its completer.
func (r *foreignRig) submitted() []pending {
	batch := r.c.completer.takeBatch(nil, 1000)
	for _, p := range batch {
		r.c.flights.remove(p.flight)
	}
	return batch
}

const benchResult = `{"step_uuid": "x", "success": true, "status": "completed", "result": 1296,
	"metadata": {"execution_time_ms": 0, "worker_id": "ruby-worker-1", "retryable": false, "custom": {}}}`

// TestForeignResultProcessedOnCompletingThread: Complete does the worker's
// processing of a foreign handler's result before it returns (the stored
// result is built and queued for commit, the handler slot is free), and no
// goroutine waits while steps are out with the foreign side.
func TestForeignResultProcessedOnCompletingThread(t *testing.T) {
	r := newForeignRig(t)
	before := runtime.NumGoroutine()
	const n = 20
	for range n {
		r.dispatch(r.step())
	}
	require.Less(t, runtime.NumGoroutine()-before, n/2, "steps waiting for the foreign side hold no goroutines")
	evs := r.x.Poll(n)
	require.Len(t, evs, n)
	require.Empty(t, r.submitted())

	for i, ev := range evs {
		require.NoError(t, r.x.Complete(ev.ID, []byte(benchResult)))
		got := r.submitted()
		require.Len(t, got, 1, "the result is queued for commit when Complete returns")
		require.Equal(t, ev.StepUUID, got[0].result.StepUUID)
		require.True(t, got[0].result.Success)
		require.JSONEq(t, `1296`, string(stepResultValue(t, got[0].result.Result)))
		_, inUse := r.c.slots.snapshot()
		require.Equal(t, n-i-1, inUse, "the handler slot is free when Complete returns")
	}
	require.ErrorIs(t, r.x.Complete(evs[0].ID, []byte(benchResult)), ErrUnknownEvent)
	require.Zero(t, r.x.Pending())
}

func stepResultValue(t *testing.T, raw json.RawMessage) json.RawMessage {
	t.Helper()
	var v struct {
		Result json.RawMessage `json:"result"`
	}
	require.NoError(t, json.Unmarshal(raw, &v))
	return v.Result
}

// TestForeignStepGoesToTheWaitingPoll: a step dispatched while a poll
// waits is handed to that poll (the oldest of several), and a step whose
// context ends while it waits in the queue leaves it and gets a result.
func TestForeignStepGoesToTheWaitingPoll(t *testing.T) {
	r := newForeignRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan []Event, 2)
	for range 2 {
		go func() {
			evs, err := r.x.PollWait(ctx, 5)
			if err != nil {
				got <- nil
				return
			}
			got <- evs
		}()
	}
	require.Eventually(t, func() bool {
		r.x.mu.Lock()
		defer r.x.mu.Unlock()
		return len(r.x.waiters) == 2
	}, 5*time.Second, time.Millisecond)
	cs := r.step()
	r.dispatch(cs)
	evs := <-got
	require.Len(t, evs, 1)
	require.Equal(t, cs.Step.UUID, evs[0].StepUUID)
	require.Contains(t, string(evs[0].JSON), `"event_id":"`+evs[0].ID+`"`)
	r.x.mu.Lock()
	require.Len(t, r.x.waiters, 1, "the other poll still waits")
	r.x.mu.Unlock()
	require.NoError(t, r.x.Complete(evs[0].ID, []byte(benchResult)))
	require.Len(t, r.submitted(), 1)
	cancel()
	require.Nil(t, <-got)

	// Nobody polls: the step's timeout ends it in the queue.
	slow := r.step()
	slow.Step.TimeoutSeconds = 1
	r.dispatch(slow)
	require.Eventually(t, func() bool { return r.c.completer.waiting() == 1 }, 10*time.Second, 5*time.Millisecond)
	res := r.submitted()
	require.False(t, res[0].result.Success)
	require.Equal(t, "handler_timeout", res[0].errorType)
	require.Empty(t, r.x.Poll(5), "the abandoned event left the queue")
	require.Zero(t, r.x.Pending())
}

// BenchmarkForeignStep is one step's round trip through the foreign-handler
// path with no database: dispatched as a claim round does, picked up by a
// poll blocked on a thread of its own (as a host's thread is in
// tasker_poll_step_events), encoded, completed with a StepExecutionResult
// and turned into the stored result queued for commit.
func BenchmarkForeignStep(b *testing.B) {
	r := newForeignRig(b)
	ctx, cancel := context.WithCancel(context.Background())
	host := make(chan struct{})
	go func() {
		defer close(host)
		runtime.LockOSThread() // a host thread calling into the library
		defer runtime.UnlockOSThread()
		for {
			evs, err := r.x.PollWait(ctx, 1)
			if err != nil {
				return
			}
			for _, ev := range evs {
				if err := r.x.Complete(ev.ID, []byte(benchResult)); err != nil {
					panic(err)
				}
			}
		}
	}()
	steps := make([]*store.ClaimedStep, 64)
	for i := range steps {
		steps[i] = r.step()
	}
	b.ReportAllocs()
	cpu, sw := processCPU()
	i := 0
	for b.Loop() {
		r.dispatch(steps[i%len(steps)])
		i++
		<-r.c.completer.kick
		if got := r.submitted(); len(got) != 1 || !got[0].result.Success {
			b.Fatalf("submitted %+v", got)
		}
	}
	cpu2, sw2 := processCPU()
	b.ReportMetric(float64(cpu2-cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(sw2-sw)/float64(b.N), "sleeps/op")
	cancel()
	<-host
}

// processCPU is the CPU time (user and system) the process has used and
// how often its threads went to sleep waiting (voluntary context
// switches: a thread handing work to another that sleeps costs one when
// the other wakes). Per step, neither grows with the machine's load the
// way wall time does.
func processCPU() (time.Duration, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Nvcsw
}
