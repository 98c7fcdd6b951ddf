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
	messaging.Queue
	claims, nextVisible, stats, extends atomic.Int64
}

func (q *countingQueue) Claim(ctx context.Context, queue string, n int, vt time.Duration) ([]messaging.Message, error) {
	q.claims.Add(1)
	return q.Queue.Claim(ctx, queue, n, vt)
}

func (q *countingQueue) NextVisible(ctx context.Context, queue string) (time.Time, bool, error) {
	q.nextVisible.Add(1)
	return q.Queue.NextVisible(ctx, queue)
}

func (q *countingQueue) Stats(ctx context.Context, queue string) (messaging.Stats, error) {
	q.stats.Add(1)
	return q.Queue.Stats(ctx, queue)
}

func (q *countingQueue) Extend(ctx context.Context, queue string, vt time.Duration, ids ...int64) error {
	q.extends.Add(1)
	return q.Queue.Extend(ctx, queue, vt, ids...)
}

// TestIdleWorkerIsQuiet: an idle worker's only queries are one claim and
// at most one next-visible look-up per poll; the heartbeat and scaler stay
// silent.
func TestIdleWorkerIsQuiet(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: idle
namespace_name: idle_ns
version: "1"
steps: [{name: only, handler: {callable: idle.only}}]
`)
	var q *countingQueue
	var spy *spyStore
	h.newCore(coreSpec{templates: []*template.Template{tpl}, config: func(w *config.Worker) {
		w.Claims.PollInterval = 20 * time.Millisecond
		w.Claims.HeartbeatInterval = 10 * time.Millisecond
		w.Handlers.Adaptive = true
		w.Handlers.ScaleInterval = 10 * time.Millisecond
	}, before: func(c *Core) {
		q = &countingQueue{Queue: c.queue}
		c.queue = q
		spy = spyOn(c, nil)
	}})
	h.waitFor("ten polls", func() bool { return spy.polls.Load() >= 10 })
	require.LessOrEqual(t, q.nextVisible.Load(), spy.polls.Load()+1)
	require.Zero(t, q.stats.Load(), "the scaler reads queue depths only when saturated")
	require.Zero(t, q.extends.Load(), "no heartbeat without claims")
	claims, completes := spy.calls()
	require.Empty(t, claims, "no step claims without messages")
	require.Empty(t, completes)
}

// TestDelayedMessageWakesWorker: a message that becomes visible later (a
// retry) is claimed when it becomes visible, not at the next poll.
func TestDelayedMessageWakesWorker(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: delayed
namespace_name: delay_ns
version: "1"
steps: [{name: only, handler: {callable: delay.only}}]
`)
	h.register(tpl)
	tk := h.createTask(tpl, `{}`)
	q := messaging.WorkerQueue("delay_ns")
	msgs, err := h.queue.Claim(h.ctx, q, 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.NoError(t, h.queue.Nack(h.ctx, q, msgs[0].ID, 300*time.Millisecond))
	reg := NewRegistry()
	handle(t, reg, "delay.only", noop)
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg, config: func(w *config.Worker) {
		w.Claims.PollInterval = time.Minute
		w.Claims.HeartbeatInterval = 10 * time.Second
		w.Claims.VisibilityTimeout = 2 * time.Minute
	}})
	// Far sooner than the one-minute poll.
	require.Eventually(t, func() bool { return c.Stats().Recorded == 1 }, 20*time.Second, 10*time.Millisecond)
	require.Equal(t, state.StepEnqueuedForOrchestration, h.step(tk, "only").State)
}

// TestMalformedMessagesAreDropped: a step message that does not decode is
// deleted with an error log; the worker carries on.
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
	require.NoError(t, h.queue.Send(h.ctx, q, json.RawMessage(`{"step_uuid": "not-a-uuid"}`), 0))
	require.NoError(t, h.queue.Send(h.ctx, q, json.RawMessage(`[1, 2, 3]`), 0))
	tk := h.createTask(tpl, `{}`)
	h.waitFor("the real step", func() bool { return c.Stats().Recorded == 1 })
	h.waitFor("the junk to be deleted", func() bool {
		st, err := h.queue.Stats(h.ctx, q)
		return err == nil && st.Depth == 0
	})
	require.Equal(t, state.StepEnqueuedForOrchestration, h.step(tk, "only").State)
}
