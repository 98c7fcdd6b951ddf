package worker

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/template"
)

// countingQueue counts the queue calls a worker makes.
type countingQueue struct {
	messaging.Driver
	nextVisible, stats, extends atomic.Int64
}

func (q *countingQueue) NextVisible(ctx context.Context, queue string) (time.Time, bool, error) {
	q.nextVisible.Add(1)
	return q.Driver.NextVisible(ctx, queue)
}

func (q *countingQueue) Stats(ctx context.Context, queue string) (messaging.Stats, error) {
	q.stats.Add(1)
	return q.Driver.Stats(ctx, queue)
}

func (q *countingQueue) Extend(ctx context.Context, queue string, vt time.Duration, receipts ...messaging.Receipt) error {
	q.extends.Add(1)
	return q.Driver.Extend(ctx, queue, vt, receipts...)
}

// TestLostNotifyIsFoundByFallbackPoll: a message that becomes visible
// without a NOTIFY (here: a claim given back with Nack, which notifies
// nobody) is found by the queue's fallback poll long before the claim loop's
// own timer for it (one minute) would fire, and only its queue is claimed
// from: the other namespace's loop, idle, sends nothing after its first
// look, and neither do the heartbeat and the scaler.
func TestLostNotifyIsFoundByFallbackPoll(t *testing.T) {
	h := newHarness(t)
	busy := parseTemplate(t, `name: busy
namespace_name: lost_ns
version: "1"
steps: [{name: only, handler: {callable: lost.only}}]
`)
	idle := parseTemplate(t, `name: idle
namespace_name: idle_ns
version: "1"
steps: [{name: only, handler: {callable: idle.only}}]
`)
	h.register(busy)
	tk := h.createTask(busy, `{}`)
	lostQ := messaging.WorkerQueue("lost_ns")
	msgs, err := h.queue.Claim(h.ctx, lostQ, messaging.ClaimOptions{N: 1, Visibility: time.Minute})
	require.NoError(t, err)
	require.Len(t, msgs, 1)

	reg := NewRegistry()
	handle(t, reg, "lost.only", noop)
	handle(t, reg, "idle.only", noop)
	var q *countingQueue
	var spy *spyStore
	c := h.newCore(coreSpec{templates: []*template.Template{busy, idle}, registry: reg, config: func(w *config.Worker) {
		// A step is extended once it has been in flight for an interval;
		// this one finishes well within one, even on a loaded machine.
		w.Claims.HeartbeatInterval = 500 * time.Millisecond
		w.Handlers.Adaptive = true
		w.Handlers.MinConcurrent = 4 // one step never saturates it
		w.Handlers.ScaleInterval = 10 * time.Millisecond
	}, before: func(c *Core) {
		q = &countingQueue{Driver: c.queue}
		c.queue = q
		spy = spyOn(c, nil)
	}})
	// Both loops looked once at start: nothing visible.
	h.waitFor("the first looks", func() bool { return spy.polls.Load() >= 2 })
	require.Zero(t, c.Stats().Claimed)
	// Visible again, and no NOTIFY says so.
	require.NoError(t, h.queue.Nack(h.ctx, lostQ, 0, messaging.Receipt{ID: msgs[0].ID}))
	h.waitFor("the step to run", func() bool { return c.Stats().Recorded == 1 })
	require.Equal(t, state.StepEnqueuedForOrchestration, h.step(tk, "only").State)

	require.Equal(t, 1, spy.claimsOn(messaging.WorkerQueue("idle_ns")), "the idle namespace: its first look only")
	require.Zero(t, q.stats.Load(), "the scaler reads queue depths only when saturated")
	require.Zero(t, q.extends.Load(), "no heartbeat for a step that finished at once")
}

// TestDelayedMessageWakesWorker: a message that becomes visible later (a
// retry) is claimed when it becomes visible, with no NOTIFY and long before
// the queue's fallback poll.
func TestDelayedMessageWakesWorker(t *testing.T) {
	h := newHarnessPolling(t, time.Hour)
	tpl := parseTemplate(t, `name: delayed
namespace_name: delay_ns
version: "1"
steps: [{name: only, handler: {callable: delay.only}}]
`)
	h.register(tpl)
	tk := h.createTask(tpl, `{}`)
	q := messaging.WorkerQueue("delay_ns")
	msgs, err := h.queue.Claim(h.ctx, q, messaging.ClaimOptions{N: 1, Visibility: time.Minute})
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	// Nack notifies nobody: only the worker's own timer can find it.
	require.NoError(t, h.queue.Nack(h.ctx, q, 300*time.Millisecond, messaging.Receipt{ID: msgs[0].ID}))
	reg := NewRegistry()
	handle(t, reg, "delay.only", noop)
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg, config: func(w *config.Worker) {
		w.Claims.HeartbeatInterval = 10 * time.Second
		w.Claims.VisibilityTimeout = 2 * time.Minute
	}})
	// Far sooner than the one-hour poll.
	require.Eventually(t, func() bool { return c.Stats().Recorded == 1 }, 20*time.Second, 10*time.Millisecond)
	require.Equal(t, state.StepEnqueuedForOrchestration, h.step(tk, "only").State)
}

// TestMalformedMessagesAreDropped: a step message of a callable the worker
// serves that does not name a step is deleted; the worker carries on. (A
// message without a callable is never claimed by a worker that routes, see
// routing_test.go.)
func TestMalformedMessagesAreDropped(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: single
namespace_name: junk_ns
version: "1"
steps: [{name: only, handler: {callable: junk.only}}]
`)
	reg := NewRegistry()
	handle(t, reg, "junk.only", noop)
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg})
	q := messaging.WorkerQueue("junk_ns")
	require.NoError(t, h.queue.Send(h.ctx, q, 0, json.RawMessage(`{"step_uuid": "not-a-uuid", "callable": "junk.only"}`)))
	require.NoError(t, h.queue.Send(h.ctx, q, 0, json.RawMessage(`{"callable": "junk.only", "task_uuid": 12}`)))
	tk := h.createTask(tpl, `{}`)
	h.waitFor("the real step", func() bool { return c.Stats().Recorded == 1 })
	h.waitFor("the junk to be deleted", func() bool {
		st, err := h.queue.Stats(h.ctx, q)
		return err == nil && st.Depth == 0
	})
	require.Equal(t, state.StepEnqueuedForOrchestration, h.step(tk, "only").State)
}
