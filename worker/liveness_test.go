package worker

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// lockHolder returns the pid of the session holding a liveness lock (0:
// none).
func (h *harness) lockHolder(key int64) int {
	h.t.Helper()
	var pid int
	err := h.pool.QueryRow(h.ctx, `SELECT COALESCE(max(pid), 0) FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 1 AND granted
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND classid = ($1::bigint >> 32)::oid AND objid = ($1::bigint & 4294967295)::oid`, key).Scan(&pid)
	require.NoError(h.t, err)
	return pid
}

// TestLivenessLockFollowsTheWorker: a started worker holds its liveness lock
// and records it with its claims; when its liveness session is terminated
// it takes the lock again on a new session and keeps claiming; Stop releases
// the lock.
func TestLivenessLockFollowsTheWorker(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: live
namespace_name: live_ns
version: "1"
steps: [{name: only, handler: {callable: live.only}}]
`)
	reg := NewRegistry()
	handle(t, reg, "live.only", noop)
	c := h.buildCore(coreSpec{templates: []*template.Template{tpl}, registry: reg})
	require.NoError(t, c.Start(h.ctx))
	key := c.live.key
	require.Positive(t, key)
	first := h.lockHolder(key)
	require.NotZero(t, first, "the lock is held from Start")

	tk := h.createTask(tpl, `{}`)
	h.waitFor("the step", func() bool { return c.Stats().Recorded == 1 })
	var lock int64
	require.NoError(t, h.pool.QueryRow(h.ctx, `SELECT claimer_lock FROM workflow_steps WHERE workflow_step_uuid = $1`,
		tk.steps["only"]).Scan(&lock))
	require.Equal(t, key, lock, "the claim records the lock")

	_, err := h.pool.Exec(h.ctx, `SELECT pg_terminate_backend($1)`, first)
	require.NoError(t, err)
	h.waitFor("the lock taken again on a new session", func() bool {
		pid := h.lockHolder(key)
		return pid != 0 && pid != first
	})
	tk2 := h.createTask(tpl, `{}`)
	h.waitFor("claiming to resume", func() bool { return c.Stats().Recorded == 2 })
	require.Equal(t, state.StepEnqueuedForOrchestration, h.step(tk2, "only").State)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Stop(ctx))
	h.waitFor("the lock released", func() bool { return h.lockHolder(key) == 0 })
}

// ambiguousStore loses the outcome of the first claim round that claimed
// something: the claim commits, but the worker gets the error a PostgreSQL
// shutdown gives (FATAL 57P01) instead of the steps.
type ambiguousStore struct {
	stepStore
	fired atomic.Bool
}

func (s *ambiguousStore) ClaimNext(ctx context.Context, c store.Claimer, queue string, n int, vt time.Duration) (store.ClaimOutcome, error) {
	out, err := s.stepStore.ClaimNext(ctx, c, queue, n, vt)
	if err == nil && len(out.Claimed) > 0 && s.fired.CompareAndSwap(false, true) {
		return store.ClaimOutcome{}, fmt.Errorf("claiming steps: %w", &pgconn.PgError{Severity: "FATAL",
			SeverityUnlocalized: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"})
	}
	return out, err
}

// startAmbiguous runs a task of independent steps named steps (one noop
// callable) on a worker whose store, wrapped by wrap, loses the outcome of
// its first claim round that claimed something.
func startAmbiguous(h *harness, name string, steps []string, vt, heartbeat time.Duration,
	wrap func(*ambiguousStore) stepStore) (task, *Core, *ambiguousStore) {
	t := h.t
	t.Helper()
	yaml := "name: " + name + "\nnamespace_name: " + name + "_ns\nversion: \"1\"\nsteps:\n"
	for _, s := range steps {
		yaml += "  - {name: " + s + ", handler: {callable: " + name + ".step}}\n"
	}
	tpl := parseTemplate(t, yaml)
	h.register(tpl)
	tk := h.createTask(tpl, `{}`)
	reg := NewRegistry()
	handle(t, reg, name+".step", noop)
	var spy *ambiguousStore
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg, config: func(w *config.Worker) {
		w.Claims.VisibilityTimeout = vt
		w.Claims.HeartbeatInterval = heartbeat
	}, before: func(c *Core) {
		spy = &ambiguousStore{stepStore: c.store}
		c.store = wrap(spy)
	}})
	return tk, c, spy
}

// TestClaimWithUnknownOutcomeIsReconciled: when a claim round's outcome is
// unknown (it committed, but the connection died before the worker learned
// what it claimed), the worker releases the steps claimed under its
// identity that it does not run at once, without spending their attempt,
// and runs them: they do not wait for their (here 60 s) claim deadline.
func TestClaimWithUnknownOutcomeIsReconciled(t *testing.T) {
	h := newHarness(t)
	tk, c, spy := startAmbiguous(h, "unknown", []string{"a", "b", "c"}, time.Minute, 10*time.Second,
		func(s *ambiguousStore) stepStore { return s })
	requireReconciled(h, tk, c, spy, []string{"a", "b", "c"})
}

// requireReconciled waits for the steps named to be recorded and checks
// that the reconcile released them: one attempt each (the orphaned claim
// did not spend one), claim_outcome_unknown in their history. The harness
// waits 20 s at most, well inside the 60 s claim deadline the tests set:
// the claim deadline did not bring them back.
func requireReconciled(h *harness, tk task, c *Core, spy *ambiguousStore, names []string) {
	t := h.t
	t.Helper()
	began := time.Now()
	h.waitFor("every step recorded", func() bool { return c.Stats().Recorded == int64(len(names)) })
	t.Logf("%d steps recorded %v after the worker started", len(names), time.Since(began).Round(time.Millisecond))
	require.True(t, spy.fired.Load())
	for _, name := range names {
		st := h.step(tk, name)
		require.Equal(t, state.StepEnqueuedForOrchestration, st.State)
		require.Equal(t, 1, st.Attempts, "the orphaned claim did not spend an attempt")
		hist, err := h.store.StepTransitions(h.ctx, tk.id, tk.steps[name])
		require.NoError(t, err)
		var meta []string
		for _, tr := range hist {
			meta = append(meta, string(tr.Metadata))
		}
		require.Contains(t, strings.Join(meta, " "), "claim_outcome_unknown", "step %s was released by the reconcile", name)
	}
}

// TestUnknownOutcomeOnABrokerIsReconciled: on the rabbitmq backend (no
// queue tables) a claim round of unknown outcome is reconciled as on
// PostgreSQL: the steps it took that no handler runs are found through
// their open task, go back to enqueued without spending an attempt and get
// a new message, and run again at once instead of after their (60 s)
// claim deadline.
func TestUnknownOutcomeOnABrokerIsReconciled(t *testing.T) {
	h := newBrokerHarness(t)
	require.Nil(t, h.queue.Tables())
	tk, c, spy := startAmbiguous(h, "brokered", []string{"a", "b"}, time.Minute, 10*time.Second,
		func(s *ambiguousStore) stepStore { return s })
	requireReconciled(h, tk, c, spy, []string{"a", "b"})
}
