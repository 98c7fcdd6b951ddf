package worker

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/template"
)

// TestHeartbeatKeepsLongStepClaimed: a handler running well past the
// visibility timeout keeps its claim; nobody (not even this worker's own
// claim loop) runs the step a second time.
func TestHeartbeatKeepsLongStepClaimed(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: long
namespace_name: hb_ns
version: "1"
steps: [{name: slow, handler: {callable: hb.slow}}]
`)
	var runs atomic.Int32
	reg := NewRegistry()
	handle(t, reg, "hb.slow", func(ctx context.Context, _ *Step[struct{}]) (any, error) {
		runs.Add(1)
		work := time.NewTimer(2500 * time.Millisecond) // the handler's work: 2.5 visibility timeouts
		defer work.Stop()
		select {
		case <-work.C:
			return map[string]string{"done": "yes"}, nil
		case <-ctx.Done():
			return nil, errors.New("cancelled")
		}
	})
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg, config: func(w *config.Worker) {
		w.Claims.VisibilityTimeout = time.Second
		w.Claims.HeartbeatInterval = 200 * time.Millisecond
		w.Claims.PollInterval = 50 * time.Millisecond
	}})
	tk := h.createTask(tpl, `{}`)
	h.waitFor("the result", func() bool { return c.Stats().Recorded == 1 })
	require.EqualValues(t, 1, runs.Load())
	sr := h.step(tk, "slow")
	require.Equal(t, state.StepEnqueuedForOrchestration, sr.State)
	require.Equal(t, 1, sr.Attempts)
	require.Len(t, h.audit(tk, "slow"), 1)
	require.Zero(t, c.Stats().Lost)
}

// TestLostClaimCancelsHandler: when the database says the claim is no longer
// this worker's, the heartbeat cancels the handler with ErrClaimLost and its
// result is not recorded.
func TestLostClaimCancelsHandler(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: lost
namespace_name: lost_ns
version: "1"
steps: [{name: victim, handler: {callable: lost.victim}}]
`)
	started := make(chan struct{}, 1)
	causes := make(chan error, 1)
	reg := NewRegistry()
	handle(t, reg, "lost.victim", func(ctx context.Context, _ *Step[struct{}]) (any, error) {
		started <- struct{}{}
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return map[string]string{"late": "result"}, nil
	})
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg, config: func(w *config.Worker) {
		w.Claims.VisibilityTimeout = 2 * time.Second
		w.Claims.HeartbeatInterval = 100 * time.Millisecond
	}})
	tk := h.createTask(tpl, `{}`)
	<-started
	// Another worker takes the step over (as if our claim had lapsed).
	_, err := h.pool.Exec(h.ctx, `UPDATE workflow_steps SET claimed_by = 'thief', claim_deadline = now() + interval '1 hour'
		WHERE workflow_step_uuid = $1`, tk.steps["victim"])
	require.NoError(t, err)
	select {
	case cause := <-causes:
		require.ErrorIs(t, cause, ErrClaimLost)
	case <-time.After(20 * time.Second):
		t.Fatal("the handler was not cancelled")
	}
	h.waitFor("the lost claim to be counted", func() bool { return c.Stats().Lost == 1 })
	sr := h.step(tk, "victim")
	require.Equal(t, state.StepInProgress, sr.State)
	require.Equal(t, "thief", sr.ClaimedBy)
	require.Empty(t, h.audit(tk, "victim"), "no result recorded for a lost claim")
	require.Zero(t, c.Stats().Recorded)
}
