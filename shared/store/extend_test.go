package store_test

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// extendEnv is a task start→route (a decision step) whose decision extends
// the graph: two branches, two instances of a worker template, and a
// convergence step that waits for what exists.
type extendEnv struct {
	*env
	task store.CreatedTask
}

func newExtendEnv(t *testing.T) *extendEnv {
	e := newEnv(t)
	names := []string{"start", "route", "branch_a", "branch_b", "worker", "converge"}
	nt, err := e.store.RegisterTemplate(e.ctx, store.TemplateRegistration{
		Namespace: "ext", Name: "extend", Version: "1.0.0",
		Configuration: json.RawMessage(`{"name":"extend","steps":[{"name":"route","type":"decision"}]}`), StepNames: names,
	})
	require.NoError(t, err)
	require.NoError(t, e.queue.Ensure(e.ctx, messaging.WorkerQueue("ext")))
	require.NoError(t, e.queue.Ensure(e.ctx, messaging.StepResultsQueue))
	e.nt = nt
	ids, err := e.store.NamedStepIDs(e.ctx, names)
	require.NoError(t, err)
	start, route := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	e.ids["start"], e.ids["route"] = start, route
	ct, err := e.store.CreateTask(e.ctx, store.NewTask{
		UUID: uuid.Must(uuid.NewV7()), NamedTaskUUID: nt.UUID, Namespace: "ext", IdentityHash: uuid.NewString(),
		Steps: []store.NewStep{
			{UUID: start, NamedStepUUID: ids["start"], Name: "start", HandlerCallable: "h.start", MaxAttempts: 3},
			{UUID: route, NamedStepUUID: ids["route"], Name: "route", StepType: "decision", HandlerCallable: "h.route", MaxAttempts: 3},
		},
		Edges: []store.NewEdge{{From: start, To: route}},
	})
	require.NoError(t, err)
	return &extendEnv{env: e, task: ct}
}

// extension is what the decision creates: branch_b depends on a step that
// never exists (it falls back to the decision), the workers carry their own
// inputs, and converge lists a parent that does not exist (left out).
func extension() *store.GraphExtension {
	step := func(name, tpl, typ string, inputs string) store.NewStep {
		return store.NewStep{Name: name, TemplateStepName: tpl, StepType: typ, HandlerCallable: "h." + tpl,
			MaxAttempts: 3, Retryable: true, Inputs: json.RawMessage(inputs)}
	}
	return &store.GraphExtension{
		CreatedBy: "route",
		Steps: []store.NewStep{
			step("branch_a", "", "", ""),
			step("branch_b", "", "", ""),
			step("worker_001", "worker", "", `{"cursor":{"start":0,"end":2}}`),
			step("worker_002", "worker", "", `{"cursor":{"start":2,"end":4}}`),
			step("converge", "", "deferred_convergence", ""),
		},
		Edges: []store.NamedEdge{
			{From: "route", To: "branch_a"},
			{From: "never_created", To: "branch_b", Else: "route"},
			{From: "branch_a", To: "worker_001"}, {From: "branch_a", To: "worker_002"},
			{From: "worker_001", To: "converge"}, {From: "worker_002", To: "converge"},
			{From: "branch_b", To: "converge"}, {From: "not_chosen", To: "converge"},
		},
	}
}

// runToDecision completes start, then route, leaving route's result waiting
// for orchestration; it returns route's result message.
func (e *extendEnv) runToDecision() store.ResultMessage {
	claimed := e.claimAll("w")
	require.Equal(e.t, []string{"start"}, names(claimed.Claimed))
	e.complete("w", claimed.Claimed[0], true, false)
	e.process()
	claimed = e.claimAll("w")
	require.Equal(e.t, []string{"route"}, names(claimed.Claimed))
	e.complete("w", claimed.Claimed[0], true, false)
	msgs, err := e.queue.Claim(e.ctx, messaging.StepResultsQueue, messaging.ClaimOptions{N: 10, Visibility: 0})
	require.NoError(e.t, err)
	require.Len(e.t, msgs, 1)
	return store.ResultMessage{MessageID: msgs[0].ID, ReadCount: msgs[0].ReadCount, TaskUUID: e.task.Task.UUID, StepUUID: e.ids["route"]}
}

func (e *extendEnv) decider(seen *store.ReportedTask) store.Decider {
	var mu sync.Mutex
	return func(st store.Step, rt store.ReportedTask) store.Decision {
		d := decide(st, rt)
		if st.Name == "route" {
			mu.Lock()
			*seen = rt
			mu.Unlock()
			d.Extend = extension()
		}
		return d
	}
}

func (e *extendEnv) steps() map[string]store.StepReadiness {
	rs, err := e.store.StepReadiness(e.ctx, []uuid.UUID{e.task.Task.UUID}, nil)
	require.NoError(e.t, err)
	out := map[string]store.StepReadiness{}
	for _, r := range rs {
		out[r.Name] = r
	}
	return out
}

func TestGraphExtensionCreatesStepsEdgesAndEnqueuesReadyOnes(t *testing.T) {
	e := newExtendEnv(t)
	msg := e.runToDecision()
	var seen store.ReportedTask
	out, err := e.store.ProcessResults(e.ctx, []store.ResultMessage{msg}, e.decider(&seen))
	require.NoError(t, err)
	require.Equal(t, 5, out.StepsCreated)
	require.Equal(t, e.nt.UUID, seen.NamedTaskUUID, "the decider knows the task's template")
	require.JSONEq(t, `{"name":"extend","steps":[{"name":"route","type":"decision"}]}`, string(seen.Template))

	steps := e.steps()
	require.Len(t, steps, 7)
	require.Equal(t, state.StepEnqueued, steps["branch_a"].State)
	require.Equal(t, state.StepEnqueued, steps["branch_b"].State, "a missing parent falls back to the decision")
	require.Equal(t, []string{"route"}, steps["branch_b"].Parents)
	require.Equal(t, state.StepPending, steps["worker_001"].State)
	require.Equal(t, []string{"branch_b", "worker_001", "worker_002"}, steps["converge"].Parents,
		"the convergence step depends only on the parents that exist")
	require.Equal(t, "deferred_convergence", steps["converge"].StepType)
	require.Equal(t, "worker", steps["worker_002"].TemplateStepName)
	require.Equal(t, steps["worker_001"].NamedStepUUID, steps["worker_002"].NamedStepUUID,
		"instances of one template step share its named step")
	require.JSONEq(t, `{"cursor":{"start":2,"end":4}}`, string(steps["worker_002"].Inputs))

	// The creation is in the step's history (what the live event stream reads).
	hist, err := e.store.StepTransitions(e.ctx, e.task.Task.UUID, steps["converge"].UUID)
	require.NoError(t, err)
	require.NotEmpty(t, hist)
	require.Nil(t, hist[0].FromState)
	require.Equal(t, "pending", hist[0].ToState)
	require.Equal(t, "create", hist[0].Event)
	require.JSONEq(t, `{"created_by":"route"}`, string(hist[0].Metadata))

	// Redelivered: the step is no longer waiting for orchestration, nothing
	// is created again.
	out, err = e.store.ProcessResults(e.ctx, []store.ResultMessage{msg}, e.decider(&seen))
	require.NoError(t, err)
	require.Equal(t, 1, out.Duplicate)
	require.Zero(t, out.StepsCreated)
	require.Len(t, e.steps(), 7)

	// The graph runs to the end: branches, workers, then convergence.
	for range 3 {
		for _, cs := range e.claimAll("w").Claimed {
			e.complete("w", cs, true, false)
		}
		e.process()
	}
	require.Equal(t, state.TaskComplete, e.env.task(e.task.Task.UUID).State)
	for name, s := range e.steps() {
		require.Equal(t, state.StepComplete, s.State, name)
	}
}

func TestGraphExtensionRacingOrchestratorsCreateEachStepOnce(t *testing.T) {
	e := newExtendEnv(t)
	msg := e.runToDecision()
	var seen store.ReportedTask
	decider := e.decider(&seen)
	var wg sync.WaitGroup
	outs := make([]store.ProcessOutcome, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() { outs[i], errs[i] = e.store.ProcessResults(e.ctx, []store.ResultMessage{msg}, decider) })
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.Equal(t, 5, outs[0].StepsCreated+outs[1].StepsCreated)
	require.Equal(t, 1, outs[0].Duplicate+outs[1].Duplicate)
	require.Len(t, e.steps(), 7)
}

func TestGraphExtensionOfExistingStepsCreatesNothing(t *testing.T) {
	// Two decisions choosing the same step in one batch: the unique (task,
	// name) index keeps one, and the second decision adds only its edge.
	e := newEnv(t)
	specs := []stepSpec{{name: "a"}, {name: "d1", deps: []string{"a"}}, {name: "d2", deps: []string{"a"}}}
	e.register("ext2", "extend2", append(specs, stepSpec{name: "shared"}))
	ct := e.createTask(specs, `{}`)
	claimed := e.claimAll("w")
	require.Equal(t, []string{"a"}, names(claimed.Claimed))
	e.complete("w", claimed.Claimed[0], true, false)
	e.process()
	claimed = e.claimAll("w")
	require.Len(t, claimed.Claimed, 2)
	for _, cs := range claimed.Claimed {
		e.complete("w", cs, true, false)
	}
	decider := func(st store.Step, rt store.ReportedTask) store.Decision {
		d := decide(st, rt)
		if st.Name == "d1" || st.Name == "d2" {
			d.Extend = &store.GraphExtension{
				Steps: []store.NewStep{{Name: "shared", HandlerCallable: "h.shared", MaxAttempts: 1}},
				Edges: []store.NamedEdge{{From: st.Name, To: "shared"}},
			}
		}
		return d
	}
	msgs, err := e.queue.Claim(e.ctx, messaging.StepResultsQueue, messaging.ClaimOptions{N: 10, Visibility: 0})
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	var rms []store.ResultMessage
	for _, m := range msgs {
		var sm messaging.StepMessage
		require.NoError(t, json.Unmarshal(m.Payload, &sm))
		rms = append(rms, store.ResultMessage{MessageID: m.ID, ReadCount: m.ReadCount, TaskUUID: sm.TaskUUID, StepUUID: sm.StepUUID})
	}
	out, err := e.store.ProcessResults(e.ctx, rms, decider)
	require.NoError(t, err)
	require.Equal(t, 1, out.StepsCreated)
	steps := e.steps2(ct.Task.UUID)
	require.Len(t, steps, 4)
	require.Equal(t, []string{"d1", "d2"}, steps["shared"].Parents)
	require.Equal(t, state.StepEnqueued, steps["shared"].State)
}

func TestGraphExtensionRefusesAnInvalidExtension(t *testing.T) {
	e := newExtendEnv(t)
	msg := e.runToDecision()
	bad := func(st store.Step, rt store.ReportedTask) store.Decision {
		d := decide(st, rt)
		d.Extend = &store.GraphExtension{Steps: []store.NewStep{{Name: "x"}}}
		return d
	}
	_, err := e.store.ProcessResults(e.ctx, []store.ResultMessage{msg}, bad)
	require.ErrorIs(t, err, store.ErrInvalidInput)
	require.ErrorContains(t, err, `step "x" has no handler`)
	require.Len(t, e.steps(), 2, "nothing was written")
	require.Equal(t, state.StepEnqueuedForOrchestration, e.steps()["route"].State)
}

func (e *env) steps2(task uuid.UUID) map[string]store.StepReadiness {
	rs, err := e.store.StepReadiness(e.ctx, []uuid.UUID{task}, nil)
	require.NoError(e.t, err)
	out := map[string]store.StepReadiness{}
	for _, r := range rs {
		out[r.Name] = r
	}
	return out
}
