package orchestration_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// exec runs a statement that sets up a test's scene.
func (h *harness) exec(sql string, args ...any) {
	_, err := h.pool.Exec(h.ctx, sql, args...)
	require.NoError(h.t, err)
}

// depth is how many messages a queue holds, visible or not.
func (h *harness) depth(queue string) int64 {
	st, err := h.queue.Stats(h.ctx, queue)
	require.NoError(h.t, err)
	return st.Depth
}

// TestReadinessPollerLeavesDeepQueueAlone: a step that waits long behind its
// queue still has its message, and the poller sends it no duplicate however
// often it runs; once the message is really gone, it sends one, and the task
// completes.
func TestReadinessPollerLeavesDeepQueueAlone(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Orchestration) { c.ReadinessPoller.RetryGrace = time.Millisecond })
	tpl := h.fixture("rust/mathematical_sequence.yaml", false)
	task := h.create(tpl, input) // no worker yet: the first step waits in its queue
	q := messaging.WorkerQueue(tpl.NamespaceName)
	// Long enqueued, and never nudged: the poller looks at it every pass.
	backdate := func() {
		h.exec(`UPDATE workflow_steps SET state_changed_at = now() - interval '1 hour', nudged_at = NULL
			WHERE state = 'enqueued'`)
	}
	for range 3 {
		backdate()
		h.core.RunMaintenance(h.ctx)
	}
	require.Equal(t, int64(1), h.depth(q), "no duplicates of a queued message")

	msgs, err := h.queue.Claim(h.ctx, q, messaging.ClaimOptions{N: 10, Visibility: time.Hour})
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.NoError(t, h.queue.Ack(h.ctx, q, messaging.Receipt{ID: msgs[0].ID}))
	backdate()
	h.core.RunMaintenance(h.ctx)
	require.Equal(t, int64(1), h.depth(q), "the lost message is sent again")

	d := h.drive(tpl.NamespaceName, succeed)
	require.Equal(t, state.TaskComplete, h.waitState(task.UUID, state.TaskComplete).State)
	for step, n := range d.executions() {
		require.Equal(t, 1, n, step)
	}
}

// TestStalenessSparesLiveWorkThenResetRecovers: a task long in
// steps_in_process is not stale while its worker holds a live claim. Once
// the claim lapses it is: the task and its unfinished steps go to error, the
// worker's late result is dropped, and resetting the steps completes the
// task.
func TestStalenessSparesLiveWorkThenResetRecovers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Orchestration) {
		c.Staleness.StepsInProcess = time.Millisecond
		c.Staleness.Action = config.StalenessDLQ
	})
	tpl := h.fixture("rust/mathematical_sequence.yaml", false)
	hold := make(chan struct{})
	d := h.drive(tpl.NamespaceName, func(cs store.ClaimedStep) outcome {
		if cs.Step.Name == "linear_step_1" && cs.Step.Attempts == 1 {
			return outcome{hold: hold}
		}
		return outcome{}
	})
	task := h.create(tpl, input)
	require.Eventually(t, func() bool {
		return h.steps(task.UUID)["linear_step_1"].State == state.StepInProgress
	}, 10*time.Second, 10*time.Millisecond)
	for range 3 {
		time.Sleep(5 * time.Millisecond)
		h.core.RunMaintenance(h.ctx)
	}
	require.Equal(t, state.TaskStepsInProcess, h.waitState(task.UUID, state.TaskStepsInProcess).State,
		"the step runs under a live claim")

	// The worker stops heartbeating but is still running the handler.
	h.exec(`UPDATE workflow_steps SET claim_deadline = now() - interval '1 second' WHERE state = 'in_progress'`)
	h.core.RunMaintenance(h.ctx)
	require.Equal(t, state.TaskError, h.waitState(task.UUID, state.TaskError).State)
	for name, st := range h.steps(task.UUID) {
		require.Equal(t, state.StepError, st.State, name)
	}
	close(hold)
	q := messaging.WorkerQueue(tpl.NamespaceName)
	require.Eventually(t, func() bool { return h.depth(q) == 0 }, 10*time.Second, 10*time.Millisecond,
		"the late result acks its message")
	require.Equal(t, state.StepError, h.steps(task.UUID)["linear_step_1"].State, "the late result is dropped")

	for name, st := range h.steps(task.UUID) {
		_, err := h.core.ApplyStepAction(h.ctx, task.UUID, st.UUID, store.StepAction{Kind: store.ActionResetForRetry, By: "ops"})
		require.NoError(t, err, name)
	}
	require.Equal(t, state.TaskComplete, h.waitState(task.UUID, state.TaskComplete).State)
	runs := d.executions()
	require.Equal(t, 2, runs[h.steps(task.UUID)["linear_step_1"].UUID.String()], "the held run and the run after reset")
	entry, err := h.store.DLQForTask(h.ctx, task.UUID)
	require.NoError(t, err)
	require.Equal(t, "pending", entry.ResolutionStatus, "the operator closes the investigation")
}

// TestStalenessFollowsTheTemplatesLifecycle: the configuration says dlq,
// but a template whose lifecycle says none keeps its stuck task running;
// once the template says dlq without failing (auto_fail_on_timeout false)
// the task is flagged for investigation and keeps running, and it
// completes when its worker finishes.
func TestStalenessFollowsTheTemplatesLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Orchestration) {
		c.Staleness.StepsInProcess = time.Millisecond
		c.Staleness.Action = config.StalenessDLQ
	})
	tpl := h.fixture("rust/mathematical_sequence.yaml", false)
	h.exec(`UPDATE named_tasks SET configuration = configuration || '{"lifecycle": {"staleness_action": "none"}}'`)
	hold := make(chan struct{})
	h.drive(tpl.NamespaceName, func(cs store.ClaimedStep) outcome {
		if cs.Step.Name == "linear_step_1" {
			return outcome{hold: hold}
		}
		return outcome{}
	})
	task := h.create(tpl, input)
	require.Eventually(t, func() bool {
		return h.steps(task.UUID)["linear_step_1"].State == state.StepInProgress
	}, 10*time.Second, 10*time.Millisecond)
	h.exec(`UPDATE workflow_steps SET claim_deadline = now() - interval '1 second' WHERE state = 'in_progress'`)
	h.core.RunMaintenance(h.ctx)
	require.Equal(t, state.TaskStepsInProcess, h.taskState(task.UUID), "the template says none")
	_, err := h.store.DLQForTask(h.ctx, task.UUID)
	require.ErrorIs(t, err, store.ErrNotFound)

	h.exec(`UPDATE named_tasks SET configuration = configuration || '{"lifecycle": {"staleness_action": "dlq",
		"auto_fail_on_timeout": false}}'`)
	h.core.RunMaintenance(h.ctx)
	entry, err := h.store.DLQForTask(h.ctx, task.UUID)
	require.NoError(t, err, "flagged for investigation")
	require.Equal(t, "pending", entry.ResolutionStatus)
	require.Equal(t, state.TaskStepsInProcess, h.taskState(task.UUID), "but not failed")

	close(hold)
	require.Equal(t, state.TaskComplete, h.waitState(task.UUID, state.TaskComplete).State)
}

// taskState reads a task's current state.
func (h *harness) taskState(id uuid.UUID) state.TaskState {
	task, err := h.store.GetTask(h.ctx, id)
	require.NoError(h.t, err)
	return task.State
}
