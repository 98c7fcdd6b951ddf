package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// mixedYAML is one namespace whose steps need two handler sets.
const mixedYAML = `name: mixed
namespace_name: mixed_ns
version: "1"
steps:
  - {name: first, handler: {callable: mixed.left}}
  - {name: second, dependencies: [first], handler: {callable: mixed.right}}
  - {name: third, dependencies: [second], handler: {callable: mixed.left}}
  - {name: fourth, dependencies: [first], handler: {callable: mixed.right}}
`

// ranBy records which worker ran which step.
type ranBy struct {
	mu  sync.Mutex
	got map[string][]string // worker → step names
}

func (r *ranBy) handler(worker string) func(context.Context, *Step[struct{}]) (any, error) {
	return func(_ context.Context, s *Step[struct{}]) (any, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got[worker] = append(r.got[worker], s.StepName())
		return map[string]string{"by": worker}, nil
	}
}

// TestStepsLandOnlyOnWorkersWithTheirHandler: two workers with different
// handler sets serve one namespace; every step runs once, on the worker that
// has its handler, and every task completes (without routing, each worker
// claims the other's steps and fails them with handler_not_found).
func TestStepsLandOnlyOnWorkersWithTheirHandler(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, mixedYAML)
	h.register(tpl)
	h.orchestrate()
	runs := &ranBy{got: map[string][]string{}}
	left, right := NewRegistry(), NewRegistry()
	handle(t, left, "mixed.left", runs.handler("left"))
	handle(t, right, "mixed.right", runs.handler("right"))
	// Tasks first, so both workers find a queue holding both kinds.
	const tasks = 6
	var tks []task
	for i := range tasks {
		tks = append(tks, h.createTask(tpl, fmt.Sprintf(`{"i": %d}`, i)))
	}
	l := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: left})
	r := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: right})
	require.Equal(t, []string{"mixed.left"}, l.Callables())
	require.Equal(t, []string{"mixed.right"}, r.Callables())
	for _, tk := range tks {
		h.waitFor("the task to complete", func() bool { return h.taskState(tk.id) == state.TaskComplete })
		for name, want := range map[string]string{"first": l.WorkerID(), "second": r.WorkerID(), "third": l.WorkerID(), "fourth": r.WorkerID()} {
			sr := h.step(tk, name)
			require.Equal(t, state.StepComplete, sr.State, name)
			require.Equal(t, 1, sr.Attempts, "%s ran once", name)
			require.Equal(t, want, stepresult.Parse(sr.Results).Metadata.WorkerID, name)
		}
	}
	runs.mu.Lock()
	defer runs.mu.Unlock()
	require.Len(t, runs.got["left"], 2*tasks)
	require.Len(t, runs.got["right"], 2*tasks)
	require.NotContains(t, runs.got["left"], "second")
	require.NotContains(t, runs.got["right"], "first")
}

// TestUnservedStepsWaitForACapableWorker: a step whose callable no live
// worker serves is reported as unserved and waits in its queue (it is not
// failed); it runs as soon as a worker that has its handler starts.
func TestUnservedStepsWaitForACapableWorker(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: late
namespace_name: late_ns
version: "1"
steps:
  - {name: early, handler: {callable: late.early}}
  - {name: late, handler: {callable: late.late}}
`)
	h.register(tpl)
	h.orchestrate()
	early := NewRegistry()
	handle(t, early, "late.early", noop)
	first := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: early})
	tk := h.createTask(tpl, `{}`)
	h.waitFor("the served step", func() bool { return h.step(tk, "early").State == state.StepComplete })
	unserved, err := h.store.UnservedSteps(h.ctx)
	require.NoError(t, err)
	require.Len(t, unserved, 1)
	require.Equal(t, "late_ns", unserved[0].Namespace)
	require.Equal(t, "late.late", unserved[0].Callable)
	require.EqualValues(t, 1, unserved[0].Steps)
	require.Equal(t, state.StepEnqueued, h.step(tk, "late").State, "waiting, not failed")
	require.Zero(t, h.step(tk, "late").Attempts)

	late := NewRegistry()
	handle(t, late, "late.late", noop)
	second := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: late})
	h.waitFor("the task to complete", func() bool { return h.taskState(tk.id) == state.TaskComplete })
	require.Equal(t, second.WorkerID(), stepresult.Parse(h.step(tk, "late").Results).Metadata.WorkerID)
	require.Equal(t, first.WorkerID(), stepresult.Parse(h.step(tk, "early").Results).Metadata.WorkerID)
	unserved, err = h.store.UnservedSteps(h.ctx)
	require.NoError(t, err)
	require.Empty(t, unserved)

	live, err := h.store.LiveWorkers(h.ctx)
	require.NoError(t, err)
	var ids []string
	for _, w := range live {
		ids = append(ids, w.WorkerID)
		require.Equal(t, []string{"late_ns"}, w.Namespaces)
	}
	require.ElementsMatch(t, []string{first.WorkerID(), second.WorkerID()}, ids)

	// A stopped worker leaves the registry: its callable is unserved again.
	require.NoError(t, second.Stop(h.ctx))
	tk2 := h.createTask(tpl, `{}`)
	h.waitFor("the served step", func() bool { return h.step(tk2, "early").State == state.StepComplete })
	unserved, err = h.store.UnservedSteps(h.ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"late.late"}, callablesOf(unserved))
}

func callablesOf(us []store.UnservedSteps) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Callable)
	}
	return out
}

// listingExecutor is a foreign host that lists the callables it runs.
type listingExecutor struct {
	callables []string
	ran       chan string
}

func (x *listingExecutor) Callables() []string { return x.callables }

func (x *listingExecutor) Execute(_ context.Context, step *StepContext) Result {
	if !slices.Contains(x.callables, step.Callable()) {
		return handlerNotFound(step.Callable())
	}
	x.ran <- step.Callable()
	return ResultOf(map[string]bool{"foreign": true}, nil)
}

// opaqueExecutor runs anything and does not say what: its worker claims
// without routing.
type opaqueExecutor struct{}

func (opaqueExecutor) Execute(context.Context, *StepContext) Result { return ResultOf(nil, nil) }

// TestServedCallables: a worker claims the callables of its registry and of
// a fallback that lists its own; a fallback that does not list them makes
// it claim every step (nil), and a message without a callable is left to
// such a worker.
func TestServedCallables(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: served
namespace_name: served_ns
version: "1"
steps:
  - {name: go_step, handler: {callable: served.go}}
  - {name: host_step, handler: {callable: Served::Host}}
`)
	h.register(tpl)
	h.orchestrate()
	reg := NewRegistry()
	handle(t, reg, "served.go", noop)
	host := &listingExecutor{callables: []string{"Served::Host", "Served::Other"}, ran: make(chan string, 10)}
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg, fallback: host})
	require.Equal(t, []string{"Served::Host", "Served::Other", "served.go"}, c.Callables())
	tk := h.createTask(tpl, `{}`)
	h.waitFor("the task to complete", func() bool { return h.taskState(tk.id) == state.TaskComplete })
	require.Equal(t, "Served::Host", <-host.ran)

	// A message without a callable (sent by an older orchestrator) is not
	// claimed by a routing worker; it is reported with an empty callable,
	// and a worker that does not route takes it.
	require.NoError(t, c.Stop(h.ctx))
	tk2 := h.createTask(tpl, `{}`)
	q := messaging.WorkerQueue("served_ns")
	_, err := h.pool.Exec(h.ctx, `DELETE FROM mq_worker_served_ns_queue WHERE message->>'step_uuid' = $1`, tk2.steps["go_step"].String())
	require.NoError(t, err)
	old, err := json.Marshal(messaging.StepMessage{TaskUUID: tk2.id, StepUUID: tk2.steps["go_step"]})
	require.NoError(t, err)
	require.NoError(t, h.queue.Send(h.ctx, q, 0, old))
	unserved, err := h.store.UnservedSteps(h.ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"", "Served::Host"}, callablesOf(unserved))
	opaque := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: NewRegistry(), fallback: opaqueExecutor{}})
	require.Nil(t, opaque.Callables())
	h.waitFor("the task to complete", func() bool { return h.taskState(tk2.id) == state.TaskComplete })
	unserved, err = h.store.UnservedSteps(h.ctx)
	require.NoError(t, err)
	require.Empty(t, unserved)
}
