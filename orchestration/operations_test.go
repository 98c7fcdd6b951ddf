package orchestration_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

func TestCancellation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/diamond_pattern.yaml", false)
	gate := make(chan struct{})
	h.drive(tpl.NamespaceName, func(cs store.ClaimedStep) outcome {
		if cs.Step.Name == "diamond_branch_b" {
			return outcome{hold: gate}
		}
		return outcome{}
	})
	task := h.create(tpl, input)
	require.Eventually(t, func() bool {
		return h.steps(task.UUID)["diamond_branch_b"].State == state.StepInProgress
	}, 10*time.Second, 10*time.Millisecond)
	cancelled, err := h.store.CancelTask(h.ctx, task.UUID, "customer withdrew")
	require.NoError(t, err)
	require.Equal(t, state.TaskCancelled, cancelled.State)
	close(gate)
	// The held step's late result is dropped; nothing moves the task again.
	steps := h.steps(task.UUID)
	require.Equal(t, state.StepComplete, steps["diamond_start"].State)
	for _, n := range []string{"diamond_branch_b", "diamond_end"} {
		require.Equal(t, state.StepCancelled, steps[n].State, n)
	}
	require.Equal(t, state.TaskCancelled, h.waitState(task.UUID, state.TaskCancelled).State)
	_, err = h.store.CancelTask(h.ctx, task.UUID, "again")
	require.ErrorIs(t, err, orchestration.ErrInvalidState)
}

func TestManualResolutionRedrivesTask(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml", true)
	h.drive(tpl.NamespaceName, failAt("linear_step_2", false, 0))
	task := h.create(tpl, input)
	h.waitState(task.UUID, state.TaskError)
	step := h.steps(task.UUID)["linear_step_2"]
	_, outcomes, err := h.store.ApplyStepAction(h.ctx, task.UUID, step.UUID, store.StepAction{
		Kind: store.ActionCompleteManually, By: "ops", Reason: "computed by hand",
		Result: json.RawMessage(`{"success":true,"status":"completed","result":{"result":1296}}`),
	})
	require.NoError(t, err)
	require.Equal(t, state.TaskStepsInProcess, outcomes[0].To)
	done := h.waitState(task.UUID, state.TaskComplete)
	require.True(t, done.Complete)
	hist := h.taskHistory(task.UUID)
	require.Contains(t, hist, "error")
	require.Equal(t, "complete", hist[len(hist)-1])
}

func TestResetForRetryRedrivesBlockedTask(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/diamond_pattern.yaml", true)
	var failOnce sync.Once
	h.drive(tpl.NamespaceName, func(cs store.ClaimedStep) outcome {
		fail := false
		if cs.Step.Name == "diamond_branch_c" {
			failOnce.Do(func() { fail = true })
		}
		return outcome{fail: fail}
	})
	task := h.create(tpl, input)
	h.waitState(task.UUID, state.TaskError)
	c := h.steps(task.UUID)["diamond_branch_c"]
	_, _, err := h.store.ApplyStepAction(h.ctx, task.UUID, c.UUID, store.StepAction{Kind: store.ActionResetForRetry, By: "ops"})
	require.NoError(t, err)
	require.Equal(t, state.TaskComplete, h.waitState(task.UUID, state.TaskComplete).State)
	require.Equal(t, 1, h.steps(task.UUID)["diamond_branch_c"].Attempts, "reset clears attempts")
}

func TestDuplicateResultMessagesAreIdempotent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml", false)
	h.drive(tpl.NamespaceName, succeed)
	task := h.create(tpl, input)
	h.waitState(task.UUID, state.TaskComplete)
	// Replay every step's result message twice.
	for _, st := range h.steps(task.UUID) {
		b, _ := json.Marshal(messaging.StepMessage{TaskUUID: task.UUID, StepUUID: st.UUID})
		require.NoError(t, h.queue.Send(h.ctx, messaging.StepResultsQueue, 0, []json.RawMessage{b, b}...))
	}
	require.Eventually(t, func() bool {
		s, err := h.queue.Stats(h.ctx, messaging.StepResultsQueue)
		require.NoError(t, err)
		return s.Depth == 0
	}, 10*time.Second, 10*time.Millisecond, "duplicates are deleted, never left to circulate")
	trans, err := h.store.StepTransitions(h.ctx, task.UUID, uuid.Nil)
	require.NoError(t, err)
	completes := 0
	for _, tr := range trans {
		if tr.ToState == "complete" {
			completes++
		}
	}
	require.Equal(t, 4, completes, "each step completed exactly once")
	// Garbage on the queue is dropped too.
	require.NoError(t, h.queue.Send(h.ctx, messaging.StepResultsQueue, 0, json.RawMessage(`{"nonsense":true}`)))
	require.Eventually(t, func() bool {
		s, err := h.queue.Stats(h.ctx, messaging.StepResultsQueue)
		require.NoError(t, err)
		return s.Depth == 0
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, state.TaskComplete, h.waitState(task.UUID, state.TaskComplete).State)
}

// TestTwoOrchestratorsRace runs two orchestrators and several step drivers
// against one database; every task completes and every step runs once.
func TestTwoOrchestratorsRace(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startCore()
	tpl := h.fixture("rust/hierarchical_tree.yaml", false)
	d1 := h.drive(tpl.NamespaceName, succeed)
	d2 := h.drive(tpl.NamespaceName, succeed)
	const n = 40
	ids := make([]uuid.UUID, 0, n)
	for range n {
		ids = append(ids, h.create(tpl, input).UUID)
	}
	for _, id := range ids {
		require.Equal(t, state.TaskComplete, h.waitState(id, state.TaskComplete, state.TaskError).State)
	}
	runs := d1.executions()
	for k, v := range d2.executions() {
		runs[k] += v
	}
	require.Len(t, runs, n*len(tpl.Steps))
	for id, c := range runs {
		require.Equal(t, 1, c, "step %s executed %d times", id, c)
	}
}

func TestTaskRequestsQueue(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml", false)
	h.drive(tpl.NamespaceName, succeed)
	msg, _ := json.Marshal(orchestration.TaskRequestMessage{RequestID: "r1", TaskRequest: orchestration.TaskRequest{
		Namespace: tpl.NamespaceName, Name: tpl.Name, Version: tpl.Version, Context: json.RawMessage(`{"even_number":8}`)}})
	bad, _ := json.Marshal(orchestration.TaskRequestMessage{RequestID: "r2", TaskRequest: orchestration.TaskRequest{
		Namespace: "nope", Name: "nope"}})
	require.NoError(t, h.queue.Send(h.ctx, messaging.TaskRequestsQueue, 0, []json.RawMessage{msg, bad, json.RawMessage(`[1]`)}...))
	var page store.TaskPage
	require.Eventually(t, func() bool {
		var err error
		page, err = h.store.ListTasks(h.ctx, store.TaskFilter{Namespace: tpl.NamespaceName})
		require.NoError(t, err)
		return page.TotalCount == 1
	}, 10*time.Second, 10*time.Millisecond)
	h.waitState(page.Tasks[0].UUID, state.TaskComplete)
	require.Eventually(t, func() bool {
		s, err := h.queue.Stats(h.ctx, messaging.TaskRequestsQueue)
		require.NoError(t, err)
		return s.Depth == 0
	}, 10*time.Second, 10*time.Millisecond, "rejected and unreadable requests are not left circulating")
}

func TestIdentityStrategies(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	base := h.fixture("rust/mathematical_sequence.yaml", false)
	mk := func(strategy template.IdentityStrategy, name string) *template.Template {
		c := *base
		c.Name, c.IdentityStrategy = name, strategy
		h.register(&c)
		return &c
	}
	req := func(tpl *template.Template, ctx, key string) error {
		_, err := h.core.CreateTask(h.ctx, orchestration.TaskRequest{Namespace: tpl.NamespaceName, Name: tpl.Name,
			Version: tpl.Version, Context: json.RawMessage(ctx), IdentityKey: key})
		return err
	}
	strict := mk(template.IdentityStrict, "strict_seq")
	require.NoError(t, req(strict, `{"even_number":6,"a":{"x":1,"y":2}}`, ""))
	err := req(strict, `{"a":{"y":2,"x":1},"even_number":6}`, "")
	require.ErrorIs(t, err, orchestration.ErrConflict, "key order does not change identity")
	require.NotContains(t, err.Error(), "-", "the conflict does not reveal the existing task id")
	require.NoError(t, req(strict, `{"even_number":8}`, ""), "a different context is a different task")
	require.NoError(t, req(base, `{"even_number":6,"a":{"x":1,"y":2}}`, ""), "a different template is a different task")

	unique := mk(template.IdentityAlwaysUnique, "unique_seq")
	require.NoError(t, req(unique, `{"even_number":6}`, ""))
	require.NoError(t, req(unique, `{"even_number":6}`, ""))

	caller := mk(template.IdentityCallerProvided, "caller_seq")
	var ve *orchestration.ValidationError
	require.ErrorAs(t, req(caller, `{"even_number":6}`, ""), &ve)
	require.Equal(t, "/idempotency_key", ve.Errors[0].Pointer)
	require.NoError(t, req(caller, `{"even_number":6}`, "order-1"))
	require.ErrorIs(t, req(caller, `{"even_number":10}`, "order-1"), orchestration.ErrConflict)
	require.ErrorIs(t, req(unique, `{"even_number":6}`, "k"), nil)
	require.ErrorIs(t, req(unique, `{"even_number":6}`, "k"), orchestration.ErrConflict, "a request key overrides the strategy")
}

func TestCreateTaskValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml", false)
	cases := []struct {
		name    string
		req     orchestration.TaskRequest
		pointer string
	}{
		{"schema type", orchestration.TaskRequest{Context: json.RawMessage(`{"even_number":"six"}`)}, "/context/even_number"},
		{"schema range", orchestration.TaskRequest{Context: json.RawMessage(`{"even_number":1000}`)}, "/context/even_number"},
		{"schema required", orchestration.TaskRequest{Context: json.RawMessage(`{}`)}, "/context/even_number"},
		{"not an object", orchestration.TaskRequest{Context: json.RawMessage(`[1,2]`)}, "/context"},
		{"priority", orchestration.TaskRequest{Context: json.RawMessage(input), Priority: ptr(500)}, "/priority"},
		{"deep", orchestration.TaskRequest{Context: json.RawMessage(`{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":1}}}}}}}}}}}`)}, "/context/a/b/c/d/e/f/g/h/i/j"},
	}
	for _, c := range cases {
		c.req.Namespace, c.req.Name, c.req.Version = tpl.NamespaceName, tpl.Name, tpl.Version
		_, err := h.core.CreateTask(h.ctx, c.req)
		var ve *orchestration.ValidationError
		require.ErrorAs(t, err, &ve, c.name)
		require.Equal(t, c.pointer, ve.Errors[0].Pointer, c.name)
	}
	_, err := h.core.CreateTask(h.ctx, orchestration.TaskRequest{Namespace: "ghost", Name: "none"})
	require.ErrorIs(t, err, orchestration.ErrTemplateNotFound)
	var ve *orchestration.ValidationError
	_, err = h.core.CreateTask(h.ctx, orchestration.TaskRequest{})
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Errors, 2, "name and namespace both reported")
	page, err := h.store.ListTasks(h.ctx, store.TaskFilter{})
	require.NoError(t, err)
	require.Zero(t, page.TotalCount, "no rejected request left anything behind")
}

func ptr[T any](v T) *T { return &v }

func TestBackpressure(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Orchestration) {
		c.Web.Backpressure.Enabled = true
		c.Web.Backpressure.QueueDepthLimit = 2
	})
	tpl := h.fixture("rust/diamond_pattern.yaml", false)
	// No workers: every task leaves one message in the worker queue.
	for range 3 {
		h.create(tpl, input)
	}
	require.Eventually(t, func() bool {
		_, err := h.core.CreateTask(h.ctx, orchestration.TaskRequest{Namespace: tpl.NamespaceName, Name: tpl.Name,
			Context: json.RawMessage(input), IdentityKey: uuid.NewString()})
		return errors.Is(err, orchestration.ErrBackpressure)
	}, 5*time.Second, 100*time.Millisecond)
}

func TestStalenessMovesTaskToDLQ(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Orchestration) {
		c.Staleness.StepsInProcess = time.Millisecond
		c.Staleness.Action = config.StalenessDLQ
	})
	tpl := h.fixture("rust/mathematical_sequence.yaml", false)
	task := h.create(tpl, input) // no workers: the task sits in steps_in_process
	require.Eventually(t, func() bool {
		h.core.RunMaintenance(h.ctx)
		tk, err := h.store.GetTask(h.ctx, task.UUID)
		require.NoError(t, err)
		return tk.State == state.TaskError
	}, 10*time.Second, 50*time.Millisecond)
	entry, err := h.store.DLQForTask(h.ctx, task.UUID)
	require.NoError(t, err)
	require.Equal(t, "staleness_timeout", entry.Reason)
	require.Equal(t, "steps_in_process", entry.OriginalState)
}

func TestReadinessPollerResendsLostMessages(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Orchestration) { c.ReadinessPoller.RetryGrace = time.Millisecond })
	tpl := h.fixture("rust/mathematical_sequence.yaml", false)
	task := h.create(tpl, input)
	q := messaging.WorkerQueue(tpl.NamespaceName)
	// Lose the first step's message, then start a worker.
	msgs, err := h.queue.Claim(h.ctx, q, messaging.ClaimOptions{N: 10, Visibility: time.Hour})
	require.NoError(t, err)
	require.NoError(t, h.queue.Ack(h.ctx, q, messaging.Receipt{ID: msgs[0].ID}))
	h.drive(tpl.NamespaceName, succeed)
	require.Eventually(t, func() bool {
		// Shrink the visibility component of "late" by running maintenance
		// with a fresh core configured the same way.
		_, err := h.store.Pool().Exec(h.ctx, `UPDATE workflow_steps SET state_changed_at = now() - interval '1 hour'
			WHERE state = 'enqueued'`)
		require.NoError(t, err)
		h.core.RunMaintenance(h.ctx)
		tk, err := h.store.GetTask(h.ctx, task.UUID)
		require.NoError(t, err)
		return tk.State == state.TaskComplete
	}, 20*time.Second, 100*time.Millisecond)
}

func TestLeaderElectionPicksOne(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	second := h.startCore()
	require.Eventually(t, func() bool { return h.core.IsLeader() != second.IsLeader() }, 10*time.Second, 20*time.Millisecond)
	// The leader stops; the other takes over.
	leader, follower := h.core, second
	if second.IsLeader() {
		leader, follower = second, h.core
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, leader.Stop(ctx))
	require.Eventually(t, follower.IsLeader, 10*time.Second, 20*time.Millisecond)
}

func TestStopIsPromptWithWorkInFlight(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/hierarchical_tree.yaml", false)
	h.drive(tpl.NamespaceName, succeed)
	for range 20 {
		h.create(tpl, input)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, h.core.Stop(ctx), "stops within the 5 s budget with batches in flight")
	// Whatever was in flight is finished by another instance.
	h.startCore()
	page, err := h.store.ListTasks(h.ctx, store.TaskFilter{PerPage: 100})
	require.NoError(t, err)
	for _, tk := range page.Tasks {
		require.Equal(t, state.TaskComplete, h.waitState(tk.UUID, state.TaskComplete).State)
	}
}

// TestEveryStepTypeIsAccepted: a template with decision, batch and
// deferred convergence steps is no longer refused: creating a task of it
// creates its initial steps only (up to the decision point).
func TestEveryStepTypeIsAccepted(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/diamond_decision_batch.yaml", false)
	task := h.create(tpl, `{"numbers": [1, 2]}`)
	require.Len(t, h.steps(task.UUID), 4, "ddb_diamond_start, branch_evens, branch_odds, ddb_routing_decision")
}

// TestRetentionDeletesOldFinishedTasks: with retention on, the leader's
// pass deletes a task finished longer ago than keep_for and keeps a recent
// one; with it off (the default) nothing is deleted.
func TestRetentionDeletesOldFinishedTasks(t *testing.T) {
	t.Parallel()
	for _, enabled := range []bool{false, true} {
		h := newHarness(t, func(c *config.Orchestration) {
			c.Retention.Enabled = enabled
			c.Retention.KeepFor = time.Hour
		})
		tpl := h.fixture("rust/mathematical_sequence.yaml", false)
		h.drive(tpl.NamespaceName, succeed)
		old, recent := h.create(tpl, input), h.create(tpl, input)
		h.waitState(old.UUID, state.TaskComplete)
		h.waitState(recent.UUID, state.TaskComplete)
		h.exec(`UPDATE tasks SET state_changed_at = now() - interval '2 hours', completed_at = now() - interval '2 hours',
			created_at = now() - interval '2 hours 1 minute' WHERE task_uuid = $1`, old.UUID)
		require.Eventually(t, func() bool { return h.core.IsLeader() }, 10*time.Second, 10*time.Millisecond)
		h.core.RunMaintenance(h.ctx)
		_, err := h.store.GetTask(h.ctx, old.UUID)
		if enabled {
			require.ErrorIs(t, err, store.ErrNotFound, "finished two hours ago, kept for one")
		} else {
			require.NoError(t, err, "retention is off by default")
		}
		_, err = h.store.GetTask(h.ctx, recent.UUID)
		require.NoError(t, err)
	}
}
