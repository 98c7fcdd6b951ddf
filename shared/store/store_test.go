package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/messaging/pgqueue"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/testdb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is one test's store on a private schema, plus helpers that play the
// worker and orchestration roles step by step.
type env struct {
	t     testing.TB
	ctx   context.Context
	db    testdb.DB
	store *store.Store
	queue messaging.Driver
	nt    store.NamedTask
	ids   map[string]uuid.UUID
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvOn(t, testdb.New(t))
}

// newEnvOn is newEnv on a given private schema.
func newEnvOn(t testing.TB, db testdb.DB) *env {
	t.Helper()
	pool := db.Pool(t, 8)
	q, err := pgqueue.New(pgqueue.Config{Pool: pool, Schema: db.Schema})
	require.NoError(t, err)
	st, err := store.New(store.Config{Pool: pool, Queue: q, ProcessorID: "test-orchestrator", Schema: db.Schema})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return &env{t: t, ctx: ctx, db: db, store: st, queue: q, ids: map[string]uuid.UUID{}}
}

// stepSpec describes a test step: name, parents, retry policy.
type stepSpec struct {
	name        string
	deps        []string
	maxAttempts int
	retryable   bool
	stepType    string // template.StepType; "" is a plain step
}

func (e *env) register(ns, name string, specs []stepSpec) {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.name
	}
	nt, err := e.store.RegisterTemplate(e.ctx, store.TemplateRegistration{
		Namespace: ns, Name: name, Version: "1.0.0", Configuration: json.RawMessage(`{"steps":[]}`), StepNames: names,
	})
	require.NoError(e.t, err)
	require.NoError(e.t, e.queue.Ensure(e.ctx, messaging.WorkerQueue(ns)))
	require.NoError(e.t, e.queue.Ensure(e.ctx, messaging.StepResultsQueue))
	e.nt = nt
}

func (e *env) createTask(specs []stepSpec, ctxJSON string) store.CreatedTask {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.name
	}
	named, err := e.store.NamedStepIDs(e.ctx, names)
	require.NoError(e.t, err)
	nt := store.NewTask{
		UUID: uuid.Must(uuid.NewV7()), NamedTaskUUID: e.nt.UUID, Namespace: e.nt.Namespace,
		Context: json.RawMessage(ctxJSON), IdentityHash: uuid.NewString(),
	}
	byName := map[string]uuid.UUID{}
	for _, s := range specs {
		id := uuid.Must(uuid.NewV7())
		byName[s.name] = id
		e.ids[s.name] = id
		max := s.maxAttempts
		if max == 0 {
			max = 3
		}
		nt.Steps = append(nt.Steps, store.NewStep{
			UUID: id, NamedStepUUID: named[s.name], Name: s.name, HandlerCallable: "h." + s.name,
			Retryable: s.retryable, MaxAttempts: max, Backoff: "exponential", BackoffBaseMs: 10, MaxBackoffMs: 50,
			StepType: s.stepType,
		})
	}
	for _, s := range specs {
		for _, d := range s.deps {
			nt.Edges = append(nt.Edges, store.NewEdge{From: byName[d], To: byName[s.name]})
		}
	}
	ct, err := e.store.CreateTask(e.ctx, nt)
	require.NoError(e.t, err)
	return ct
}

// claimAll claims every visible message of the namespace queue as worker w
// (through ClaimNext: message and step claimed in one statement).
func (e *env) claimAll(w string) store.ClaimOutcome {
	out, err := e.store.ClaimNext(e.ctx, store.Claimer{ID: w}, messaging.WorkerQueue(e.nt.Namespace), 100, 30*time.Second)
	require.NoError(e.t, err)
	return out
}

func (e *env) complete(w string, cs store.ClaimedStep, success, retryable bool) store.CompleteOutcome {
	out, err := e.store.CompleteSteps(e.ctx, []store.StepResult{e.result(w, cs, success, retryable)})
	require.NoError(e.t, err)
	return out
}

// result is the StepResult worker w reports for cs.
func (e *env) result(w string, cs store.ClaimedStep, success, retryable bool) store.StepResult {
	var res stepresult.Result
	if success {
		res = stepresult.Success(cs.Step.UUID, json.RawMessage(fmt.Sprintf(`{"step":%q}`, cs.Step.Name)), nil)
	} else {
		res = stepresult.Failure(cs.Step.UUID, stepresult.StatusFailed, "boom", stepresult.ErrorTypeRetryable, retryable)
	}
	b, err := json.Marshal(res)
	require.NoError(e.t, err)
	return store.StepResult{
		StepUUID: cs.Step.UUID, TaskUUID: cs.Task.UUID, Attempt: cs.Step.Attempts, WorkerID: w,
		CorrelationID: cs.Task.CorrelationID, Success: success, Result: b, ClaimedAt: cs.Step.LastAttemptedAt,
		Queue: messaging.WorkerQueue(cs.Task.Namespace), MessageID: cs.MessageID, ReadCount: cs.ReadCount,
	}
}

// decide is the test's retry policy: retry retryable failures with a tiny
// delay while attempts remain.
func decide(st store.Step, _ store.ReportedTask) store.Decision {
	r := stepresult.Parse(st.Results)
	if r.Success {
		return store.Decision{To: state.StepComplete}
	}
	if st.State == state.StepEnqueuedAsErrorForOrchestration && st.Retry.Retryable && r.Retryable() &&
		st.Attempts < st.Retry.MaxAttempts {
		return store.Decision{To: state.StepWaitingForRetry, Delay: 20 * time.Millisecond}
	}
	return store.Decision{To: state.StepError}
}

func (e *env) process() store.ProcessOutcome {
	msgs, err := e.queue.Claim(e.ctx, messaging.StepResultsQueue, messaging.ClaimOptions{N: 100, Visibility: 30 * time.Second})
	require.NoError(e.t, err)
	var rms []store.ResultMessage
	for _, m := range msgs {
		var sm messaging.StepMessage
		require.NoError(e.t, json.Unmarshal(m.Payload, &sm))
		rms = append(rms, store.ResultMessage{MessageID: m.ID, ReadCount: m.ReadCount, TaskUUID: sm.TaskUUID, StepUUID: sm.StepUUID})
	}
	out, err := e.store.ProcessResults(e.ctx, rms, decide)
	require.NoError(e.t, err)
	return out
}

func (e *env) task(id uuid.UUID) store.Task {
	t, err := e.store.GetTask(e.ctx, id)
	require.NoError(e.t, err)
	return t
}

func (e *env) stepState(taskID uuid.UUID, name string) store.StepReadiness {
	sr, err := e.store.GetStep(e.ctx, taskID, e.ids[name])
	require.NoError(e.t, err)
	return sr
}

func names(cs []store.ClaimedStep) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Step.Name)
	}
	return out
}

func (e *env) taskHistory(id uuid.UUID) []string {
	rows, err := e.store.TaskTransitions(e.ctx, id)
	require.NoError(e.t, err)
	var out []string
	for _, r := range rows {
		out = append(out, r.ToState)
	}
	return out
}

var linear = []stepSpec{
	{name: "s1", retryable: true}, {name: "s2", deps: []string{"s1"}, retryable: true},
	{name: "s3", deps: []string{"s2"}, retryable: true}, {name: "s4", deps: []string{"s3"}, retryable: true},
}

func TestLinearHappyPath(t *testing.T) {
	e := newEnv(t)
	e.register("lin", "linear", linear)
	ct := e.createTask(linear, `{"even_number":6}`)
	require.Equal(t, state.TaskStepsInProcess, ct.Task.State)
	require.Equal(t, 1, ct.Outcome.EnqueuedSteps)
	require.Equal(t, []string{"pending", "initializing", "enqueuing_steps", "steps_in_process"}, e.taskHistory(ct.Task.UUID))
	for i, name := range []string{"s1", "s2", "s3", "s4"} {
		claimed := e.claimAll("w1")
		require.Equal(t, []string{name}, names(claimed.Claimed))
		cs := claimed.Claimed[0]
		require.Equal(t, 1, cs.Step.Attempts)
		require.JSONEq(t, `{"even_number":6}`, string(cs.Task.Context))
		require.Len(t, cs.Dependencies, i, "all completed ancestors are hydrated")
		require.Len(t, e.complete("w1", cs, true, false).Recorded, 1)
		out := e.process()
		require.Equal(t, 1, out.Steps[state.StepComplete])
	}
	task := e.task(ct.Task.UUID)
	require.Equal(t, state.TaskComplete, task.State)
	require.True(t, task.Complete)
	require.NotNil(t, task.CompletedAt)
	st, err := e.queue.Stats(e.ctx, messaging.WorkerQueue("lin"))
	require.NoError(t, err)
	require.Zero(t, st.Depth, "step messages are deleted on completion")
	rs, err := e.store.StepReadiness(e.ctx, []uuid.UUID{ct.Task.UUID}, nil)
	require.NoError(t, err)
	require.Len(t, rs, len(linear))
	for _, r := range rs {
		require.Equal(t, state.StepComplete, r.State, r.Name)
		require.True(t, r.DependenciesSatisfied, r.Name)
		require.False(t, r.ReadyForExecution, r.Name)
		require.NotNil(t, r.CompletedAt, r.Name)
	}
}

var diamond = []stepSpec{
	{name: "start", retryable: true},
	{name: "b", deps: []string{"start"}, retryable: true}, {name: "c", deps: []string{"start"}, retryable: true},
	{name: "end", deps: []string{"b", "c"}, retryable: true},
}

// TestDiamondJoinConcurrentResults processes the two branch results in two
// concurrent transactions: the task row lock must make the second see the
// first, so the join step is enqueued exactly once.
func TestDiamondJoinConcurrentResults(t *testing.T) {
	for range 5 {
		e := newEnv(t)
		e.register("dia", "diamond", diamond)
		ct := e.createTask(diamond, `{}`)
		e.complete("w", e.claimAll("w").Claimed[0], true, false)
		e.process()
		branches := e.claimAll("w").Claimed
		require.ElementsMatch(t, []string{"b", "c"}, names(branches))
		for _, b := range branches {
			e.complete("w", b, true, false)
		}
		msgs, err := e.queue.Claim(e.ctx, messaging.StepResultsQueue, messaging.ClaimOptions{N: 10, Visibility: time.Minute})
		require.NoError(t, err)
		require.Len(t, msgs, 2)
		errs := make(chan error, 2)
		for _, m := range msgs {
			go func() {
				var sm messaging.StepMessage
				_ = json.Unmarshal(m.Payload, &sm)
				_, err := e.store.ProcessResults(e.ctx, []store.ResultMessage{{MessageID: m.ID, TaskUUID: sm.TaskUUID, StepUUID: sm.StepUUID}}, decide)
				errs <- err
			}()
		}
		require.NoError(t, <-errs)
		require.NoError(t, <-errs)
		end := e.claimAll("w").Claimed
		require.Equal(t, []string{"end"}, names(end))
		require.Len(t, end[0].Dependencies, 3)
		e.complete("w", end[0], true, false)
		e.process()
		require.Equal(t, state.TaskComplete, e.task(ct.Task.UUID).State)
	}
}

func TestRetryThenSuccess(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "flaky", retryable: true, maxAttempts: 3}}
	e.register("retry", "retry", specs)
	ct := e.createTask(specs, `{}`)
	e.complete("w", e.claimAll("w").Claimed[0], false, true)
	out := e.process()
	require.Equal(t, 1, out.Steps[state.StepWaitingForRetry])
	require.Equal(t, state.TaskWaitingForRetry, e.task(ct.Task.UUID).State)
	sr := e.stepState(ct.Task.UUID, "flaky")
	require.Equal(t, state.StepWaitingForRetry, sr.State)
	require.NotNil(t, sr.NextRetryAt)
	require.NotNil(t, sr.LastFailureAt)
	// The delayed message appears once the backoff passes.
	var claimed []store.ClaimedStep
	require.Eventually(t, func() bool { claimed = e.claimAll("w").Claimed; return len(claimed) == 1 },
		10*time.Second, 10*time.Millisecond)
	require.Equal(t, 2, claimed[0].Step.Attempts)
	e.complete("w", claimed[0], true, false)
	e.process()
	task := e.task(ct.Task.UUID)
	require.Equal(t, state.TaskComplete, task.State)
	require.Equal(t, []string{"pending", "initializing", "enqueuing_steps", "steps_in_process",
		"waiting_for_retry", "enqueuing_steps", "steps_in_process", "evaluating_results", "complete"},
		e.taskHistory(ct.Task.UUID))
}

func TestRetryExhaustion(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "always_fail", retryable: true, maxAttempts: 3}}
	e.register("exh", "exh", specs)
	ct := e.createTask(specs, `{}`)
	attempts := 0
	for e.task(ct.Task.UUID).State != state.TaskError {
		var claimed []store.ClaimedStep
		require.Eventually(t, func() bool { claimed = e.claimAll("w").Claimed; return len(claimed) == 1 },
			10*time.Second, 10*time.Millisecond)
		attempts++
		require.Equal(t, attempts, claimed[0].Step.Attempts)
		e.complete("w", claimed[0], false, true)
		e.process()
		require.LessOrEqual(t, attempts, 3)
	}
	require.Equal(t, 3, attempts)
	require.Equal(t, state.StepError, e.stepState(ct.Task.UUID, "always_fail").State)
	h := e.taskHistory(ct.Task.UUID)
	require.Equal(t, []string{"blocked_by_failures", "error"}, h[len(h)-2:])
}

// TestMixedFailureBlocks: one branch fails permanently while its sibling is
// still running; the task is blocked (not enqueuing the ready join's other
// inputs) and ends in error once nothing is in flight.
func TestMixedFailureBlocks(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "ok", retryable: true}, {name: "bad", retryable: true}, {name: "later", deps: []string{"ok"}, retryable: true}}
	e.register("mixed", "mixed", specs)
	ct := e.createTask(specs, `{}`)
	claimed := e.claimAll("w").Claimed
	require.Len(t, claimed, 2)
	byName := map[string]store.ClaimedStep{}
	for _, c := range claimed {
		byName[c.Step.Name] = c
	}
	e.complete("w", byName["bad"], false, false)
	e.process()
	require.Equal(t, state.TaskBlockedByFailures, e.task(ct.Task.UUID).State)
	e.complete("w", byName["ok"], true, false)
	e.process()
	task := e.task(ct.Task.UUID)
	require.Equal(t, state.TaskError, task.State)
	require.Equal(t, state.StepPending, e.stepState(ct.Task.UUID, "later").State, "nothing new is enqueued once blocked")
	require.Empty(t, e.claimAll("w").Claimed)
}

func TestDuplicateResultMessagesAreDropped(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "one", retryable: true}}
	e.register("dup", "dup", specs)
	ct := e.createTask(specs, `{}`)
	cs := e.claimAll("w").Claimed[0]
	e.complete("w", cs, true, false)
	// A second copy of the same result message.
	b, _ := json.Marshal(messaging.StepMessage{TaskUUID: cs.Task.UUID, StepUUID: cs.Step.UUID})
	require.NoError(t, e.queue.Send(e.ctx, messaging.StepResultsQueue, 0, b))
	out := e.process()
	require.Equal(t, 1, out.Duplicate)
	require.Len(t, out.Acked, 2, "both messages deleted")
	require.Equal(t, state.TaskComplete, e.task(ct.Task.UUID).State)
	// And a late duplicate for a finished task.
	require.NoError(t, e.queue.Send(e.ctx, messaging.StepResultsQueue, 0, b))
	out = e.process()
	require.Equal(t, 1, out.Duplicate)
	require.Empty(t, out.Tasks)
}

func TestDuplicateStepMessagesAreDeletedOrDeferred(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "one", retryable: true}}
	e.register("dupw", "dupw", specs)
	ct := e.createTask(specs, `{}`)
	cs := e.claimAll("w1").Claimed[0]
	// Another message for the same step while w1 holds a live claim: hidden
	// until the claim deadline, not claimed.
	b, _ := json.Marshal(messaging.StepMessage{TaskUUID: ct.Task.UUID, StepUUID: cs.Step.UUID})
	require.NoError(t, e.queue.Send(e.ctx, messaging.WorkerQueue("dupw"), 0, b))
	out := e.claimAll("w2")
	require.Empty(t, out.Claimed)
	require.Len(t, out.Defer, 1)
	st, err := e.queue.Stats(e.ctx, messaging.WorkerQueue("dupw"))
	require.NoError(t, err)
	require.Equal(t, int64(2), st.Depth)
	require.Zero(t, st.Visible, "the duplicate is hidden until w1's claim deadline")
	e.complete("w1", cs, true, false)
	e.process()
	// Once the step is done the duplicate is simply deleted.
	require.NoError(t, e.queue.Nack(e.ctx, messaging.WorkerQueue("dupw"), 0, messaging.Receipt{ID: out.Defer[0].MessageID}))
	out = e.claimAll("w2")
	require.Empty(t, out.Claimed)
	require.Len(t, out.Drop, 1)
	st, err = e.queue.Stats(e.ctx, messaging.WorkerQueue("dupw"))
	require.NoError(t, err)
	require.Zero(t, st.Depth, "the duplicate was deleted in the claim")
}

func TestExpiredClaimIsReclaimed(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "slow", retryable: true, maxAttempts: 2}}
	e.register("crash", "crash", specs)
	ct := e.createTask(specs, `{}`)
	q := messaging.WorkerQueue("crash")
	// Worker 1 claims with a short visibility timeout and "dies".
	msgs, err := e.queue.Claim(e.ctx, q, messaging.ClaimOptions{N: 1, Visibility: 200 * time.Millisecond})
	require.NoError(t, err)
	var sm messaging.StepMessage
	require.NoError(t, json.Unmarshal(msgs[0].Payload, &sm))
	first, err := e.store.ClaimSteps(e.ctx, "w1", []store.ClaimRequest{{StepUUID: sm.StepUUID, TaskUUID: sm.TaskUUID, MessageID: msgs[0].ID, Deadline: msgs[0].VisibleAt}})
	require.NoError(t, err)
	require.Len(t, first.Claimed, 1)
	// The message reappears; worker 2 reclaims, the attempt counts.
	var again store.ClaimOutcome
	require.Eventually(t, func() bool { again = e.claimAll("w2"); return len(again.Claimed) == 1 }, 10*time.Second, 20*time.Millisecond)
	require.True(t, again.Claimed[0].Reclaimed)
	require.Equal(t, 2, again.Claimed[0].Step.Attempts)
	// Worker 1 wakes up late: its result is stale and dropped.
	late := e.complete("w1", first.Claimed[0], true, false)
	require.Empty(t, late.Recorded)
	require.Len(t, late.Stale, 1)
	e.complete("w2", again.Claimed[0], true, false)
	e.process()
	require.Equal(t, state.TaskComplete, e.task(ct.Task.UUID).State)
}

func TestExpiredClaimWithoutAttemptsFails(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "once", retryable: true, maxAttempts: 1}}
	e.register("lost", "lost", specs)
	ct := e.createTask(specs, `{}`)
	q := messaging.WorkerQueue("lost")
	msgs, err := e.queue.Claim(e.ctx, q, messaging.ClaimOptions{N: 1, Visibility: 200 * time.Millisecond})
	require.NoError(t, err)
	var sm messaging.StepMessage
	require.NoError(t, json.Unmarshal(msgs[0].Payload, &sm))
	_, err = e.store.ClaimSteps(e.ctx, "w1", []store.ClaimRequest{{StepUUID: sm.StepUUID, TaskUUID: sm.TaskUUID, MessageID: msgs[0].ID, Deadline: msgs[0].VisibleAt}})
	require.NoError(t, err)
	var out store.ClaimOutcome
	require.Eventually(t, func() bool { out = e.claimAll("w2"); return out.Exhausted == 1 }, 10*time.Second, 20*time.Millisecond)
	e.process()
	require.Equal(t, state.TaskError, e.task(ct.Task.UUID).State)
	sr := e.stepState(ct.Task.UUID, "once")
	require.Equal(t, state.StepError, sr.State)
	require.Equal(t, stepresult.ErrorTypeWorkerLost, stepresult.Parse(sr.Results).Error.ErrorType)
}

func TestIdentityConflict(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "x"}}
	e.register("idn", "idn", specs)
	named, err := e.store.NamedStepIDs(e.ctx, []string{"x"})
	require.NoError(t, err)
	mk := func() store.NewTask {
		return store.NewTask{UUID: uuid.Must(uuid.NewV7()), NamedTaskUUID: e.nt.UUID, Namespace: "idn", IdentityHash: "same",
			Steps: []store.NewStep{{UUID: uuid.Must(uuid.NewV7()), NamedStepUUID: named["x"], Name: "x", HandlerCallable: "x", MaxAttempts: 3}}}
	}
	_, err = e.store.CreateTask(e.ctx, mk())
	require.NoError(t, err)
	_, err = e.store.CreateTask(e.ctx, mk())
	require.ErrorIs(t, err, store.ErrConflict)
	var n int
	require.NoError(t, e.store.Pool().QueryRow(e.ctx, `SELECT count(*) FROM workflow_steps`).Scan(&n))
	require.Equal(t, 1, n, "the conflicting task left nothing behind")
}

func TestTaskWithNoStepsCompletes(t *testing.T) {
	e := newEnv(t)
	e.register("empty", "empty", nil)
	ct := e.createTask(nil, `{}`)
	require.Equal(t, state.TaskComplete, ct.Task.State)
	require.Equal(t, []string{"pending", "initializing", "complete"}, e.taskHistory(ct.Task.UUID))
}

func TestReleaseClaims(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "r", retryable: true}}
	e.register("rel", "rel", specs)
	ct := e.createTask(specs, `{}`)
	cs := e.claimAll("w").Claimed[0]
	// The message becomes visible in the same unit of work: no Nack.
	n, err := e.store.ReleaseClaims(e.ctx, "w", []uuid.UUID{cs.Step.UUID},
		map[string][]messaging.Receipt{messaging.WorkerQueue("rel"): {{ID: cs.MessageID, ReadCount: cs.ReadCount}}})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	again := e.claimAll("w2").Claimed
	require.Len(t, again, 1)
	require.Equal(t, 1, again[0].Step.Attempts, "a released claim does not count as an attempt")
	e.complete("w2", again[0], true, false)
	e.process()
	require.Equal(t, state.TaskComplete, e.task(ct.Task.UUID).State)
	var n2 int
	require.NoError(t, pgx.BeginFunc(e.ctx, e.store.Pool(), func(tx pgx.Tx) error {
		return tx.QueryRow(e.ctx, `SELECT count(*) FROM workflow_step_result_audit`).Scan(&n2)
	}))
	require.Equal(t, 1, n2)
}

// TestClaimHydratesAncestorsWhenMessageLacksTask: ancestors come from the
// task the claim found, even when the message named no (or a wrong) task.
func TestClaimHydratesAncestorsWhenMessageLacksTask(t *testing.T) {
	e := newEnv(t)
	e.register("anc", "anc", linear)
	ct := e.createTask(linear, `{}`)
	for range 2 {
		cs := e.claimAll("w").Claimed[0]
		e.complete("w", cs, true, false)
		e.process()
	}
	q := messaging.WorkerQueue("anc")
	msgs, err := e.queue.Claim(e.ctx, q, messaging.ClaimOptions{N: 10, Visibility: time.Minute})
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	var sm messaging.StepMessage
	require.NoError(t, json.Unmarshal(msgs[0].Payload, &sm))
	out, err := e.store.ClaimSteps(e.ctx, "w", []store.ClaimRequest{{StepUUID: sm.StepUUID, TaskUUID: uuid.New(),
		MessageID: msgs[0].ID, Deadline: msgs[0].VisibleAt}})
	require.NoError(t, err)
	require.Len(t, out.Claimed, 1)
	require.Equal(t, "s3", out.Claimed[0].Step.Name)
	require.Len(t, out.Claimed[0].Dependencies, 2)
	require.Contains(t, out.Claimed[0].Dependencies, "s1")
	require.Equal(t, ct.Task.UUID, out.Claimed[0].Task.UUID)
}

// TestBlockedTaskStillRunsEnqueuedSteps: a step enqueued before a sibling
// branch failed permanently still runs (it is in flight), and the task ends
// in error once it is back — nothing is left enqueued forever.
func TestBlockedTaskStillRunsEnqueuedSteps(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "a", retryable: true}, {name: "b", deps: []string{"a"}, retryable: true},
		{name: "c", deps: []string{"a"}, retryable: true}, {name: "d", deps: []string{"c"}, retryable: true}}
	e.register("blk", "blk", specs)
	ct := e.createTask(specs, `{}`)
	e.complete("w", e.claimAll("w").Claimed[0], true, false)
	e.process()
	byName := map[string]store.ClaimedStep{}
	for _, cs := range e.claimAll("w").Claimed {
		byName[cs.Step.Name] = cs
	}
	e.complete("w", byName["c"], true, false)
	e.process() // d is enqueued
	e.complete("w", byName["b"], false, false)
	e.process() // the task is blocked with d in flight
	require.Equal(t, state.TaskBlockedByFailures, e.task(ct.Task.UUID).State)
	d := e.claimAll("w").Claimed
	require.Equal(t, []string{"d"}, names(d), "an enqueued step of a blocked task is still claimed")
	e.complete("w", d[0], true, false)
	e.process()
	require.Equal(t, state.TaskError, e.task(ct.Task.UUID).State)
	require.Equal(t, state.StepComplete, e.stepState(ct.Task.UUID, "d").State)
}
