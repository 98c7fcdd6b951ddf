package store_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/brokertest"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/testdb"
)

// brokerConfig is the configuration of a process on the rabbitmq backend
// (a private virtual host) and the test's schema.
func brokerConfig(db testdb.DB, url string) *config.Config {
	cfg := config.Default(config.ContextWorker)
	cfg.Database.URL, cfg.Database.Schema = db.URL, db.Schema
	cfg.Database.Pool.MaxConnections, cfg.Database.Pool.MinConnections = 8, 0
	cfg.Queues.Backend = config.BackendRabbitMQ
	cfg.Queues.RabbitMQ.URL = url
	cfg.Queues.PollInterval = 100 * time.Millisecond
	cfg.Queues.RabbitMQ.OutboxPollInterval = 100 * time.Millisecond
	return cfg
}

// connectBroker assembles a process's store and broker driver (with its
// outbox relay) as the services do; it is closed when the test ends.
func connectBroker(t *testing.T, ctx context.Context, cfg *config.Config, name string) *infra.Infra {
	t.Helper()
	in, err := infra.Connect(ctx, cfg, name, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(in.Close)
	require.Nil(t, in.Queue.Tables(), "the broker keeps no queue tables")
	return in
}

// newBrokerEnv is newEnv on the rabbitmq queue backend.
func newBrokerEnv(t *testing.T) (*env, *config.Config) {
	t.Helper()
	url := brokertest.VHost(t)
	db := testdb.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	cfg := brokerConfig(db, url)
	in := connectBroker(t, ctx, cfg, "store-test")
	return &env{t: t, ctx: ctx, db: db, store: in.Store, queue: in.Queue, ids: map[string]uuid.UUID{}}, cfg
}

// claimSteps claims through st until n steps are claimed (the relay
// publishes a task's messages after its creation commits), as a worker's
// claim loop does: a failed round is retried.
func claimSteps(t *testing.T, ctx context.Context, st *store.Store, c store.Claimer, queue string, n int) []store.ClaimedStep {
	t.Helper()
	var got []store.ClaimedStep
	for deadline := time.Now().Add(30 * time.Second); len(got) < n; {
		require.True(t, time.Now().Before(deadline), "claiming %d steps as %s: %d within 30s", n, c.ID, len(got))
		out, err := st.ClaimNext(ctx, c, queue, n-len(got), 30*time.Second)
		if err != nil {
			// A claim error leaves nothing claimed; a worker retries too.
			t.Logf("claiming as %s (retried): %v", c.ID, err)
		}
		got = append(got, out.Claimed...)
		if len(got) < n {
			time.Sleep(20 * time.Millisecond)
		}
	}
	require.Len(t, got, n)
	return got
}

// TestDeadClaimerIsExpiredOnABroker: on the rabbitmq backend (no queue
// tables) the claims of a worker process are found through the open tasks;
// when the process dies (its liveness session and its broker connection
// close) the broker gives its deliveries back, and they are deferred until
// the claim deadline as the claims still look live. ExpireDeadClaims then
// ends the claims at once and sends each step a new message: another worker
// reclaims them within moments, the lost run counted.
func TestDeadClaimerIsExpiredOnABroker(t *testing.T) {
	e, cfg := newBrokerEnv(t)
	specs := []stepSpec{{name: "a", retryable: true}, {name: "b", retryable: true}}
	e.register("ns", "dead", specs)
	e.createTask(specs, `{}`)
	q := messaging.WorkerQueue("ns")

	// The victim is a process of its own: its pool, its broker connection.
	victim := connectBroker(t, e.ctx, cfg, "victim")
	key, err := store.NewLivenessKey()
	require.NoError(t, err)
	sess, err := victim.Store.HoldLiveness(e.ctx, key)
	require.NoError(t, err)
	claimed := claimSteps(t, e.ctx, victim.Store, store.Claimer{ID: "victim", Lock: key}, q, 2)

	scan, err := e.store.ClaimsInFlight(e.ctx)
	require.NoError(t, err)
	require.Equal(t, store.ClaimerLock{Lock: key, Steps: 2, Held: true}, claimerOf(scan, key))
	require.Equal(t, 2, scan.InProgress())
	require.False(t, scan.PostgresStarted.IsZero())
	released, err := e.store.ExpireDeadClaims(e.ctx, key, scan.Now.Add(time.Hour))
	require.NoError(t, err)
	require.Empty(t, released, "a held lock keeps its claims")

	// The process dies: its lock is free, its unacked deliveries requeued.
	require.NoError(t, sess.Close(e.ctx))
	victim.Close()
	rescuer := store.Claimer{ID: "rescuer"}
	deferred := 0
	require.Eventually(t, func() bool {
		out, err := e.store.ClaimNext(e.ctx, rescuer, q, 10, 30*time.Second)
		require.NoError(t, err)
		require.Empty(t, out.Claimed, "a live-looking claim is not taken over")
		deferred += len(out.Defer)
		return deferred == 2
	}, 30*time.Second, 20*time.Millisecond, "the broker gives back the dead consumer's deliveries, deferred to the claim deadline")

	require.Eventually(t, func() bool {
		scan, err = e.store.ClaimsInFlight(e.ctx)
		return err == nil && !claimerOf(scan, key).Held
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, 2, claimerOf(scan, key).Steps)
	released, err = e.store.ExpireDeadClaims(e.ctx, key, claimed[0].Step.LastAttemptedAt.Add(-time.Second))
	require.NoError(t, err)
	require.Empty(t, released, "claims newer than the first sight of the free lock are kept")

	released, err = e.store.ExpireDeadClaims(e.ctx, key, scan.Now)
	require.NoError(t, err)
	require.ElementsMatch(t, []uuid.UUID{e.ids["a"], e.ids["b"]}, released)
	released, err = e.store.ExpireDeadClaims(e.ctx, key, scan.Now)
	require.NoError(t, err)
	require.Empty(t, released, "an ended claim is not ended twice (no second message)")

	again := claimSteps(t, e.ctx, e.store, rescuer, q, 2)
	for _, cs := range again {
		require.True(t, cs.Reclaimed)
		require.Equal(t, 2, cs.Step.Attempts, "the lost run counts")
		require.Equal(t, "rescuer", cs.Step.ClaimedBy)
		require.Less(t, time.Until(cs.Deadline), 31*time.Second)
	}
	hist, err := e.store.StepTransitions(e.ctx, again[0].Task.UUID, again[0].Step.UUID)
	require.NoError(t, err)
	require.Contains(t, fmt.Sprint(metadataOf(hist)), `"reason": "claim_expired"`)

	scan, err = e.store.ClaimsInFlight(e.ctx)
	require.NoError(t, err)
	require.Zero(t, claimerOf(scan, key).Steps)
	require.Equal(t, 2, claimerOf(scan, 0).Steps, "claims made without a lock are counted under 0")
	// A step whose result is in is no longer in flight.
	e.complete("rescuer", again[0], true, false)
	scan, err = e.store.ClaimsInFlight(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, scan.InProgress())
}

func metadataOf(hist []store.StepTransition) []string {
	out := make([]string, 0, len(hist))
	for _, h := range hist {
		out = append(out, string(h.Metadata))
	}
	return out
}

// TestReleaseOrphanedClaimsOnABroker: on the rabbitmq backend, the steps of
// a namespace claimed under a worker process's identity that it does not
// run go back to enqueued without spending an attempt, with the reason in
// their history, and get a new message that another worker claims at once;
// the steps it runs, other processes' steps and its steps of other
// namespaces are left alone.
func TestReleaseOrphanedClaimsOnABroker(t *testing.T) {
	e, _ := newBrokerEnv(t)
	specs := []stepSpec{{name: "a", retryable: true}, {name: "b", retryable: true}, {name: "c", retryable: true}}
	e.register("ns", "orphans", specs)
	e.createTask(specs, `{}`)
	e.register("elsewhere", "orphans", specs[:1])
	e.createTask(specs[:1], `{}`)
	q := messaging.WorkerQueue("ns")
	me := store.Claimer{ID: "w", Lock: 42}

	mine := claimSteps(t, e.ctx, e.store, me, q, 2)
	other := claimSteps(t, e.ctx, e.store, store.Claimer{ID: "w", Lock: 43}, q, 1)
	require.Len(t, other, 1, "same worker id, another process")
	elsewhere := claimSteps(t, e.ctx, e.store, me, messaging.WorkerQueue("elsewhere"), 1)
	running, orphan := mine[0].Step.UUID, mine[1].Step.UUID

	_, err := e.store.ReleaseOrphanedClaims(e.ctx, me, "orchestration_step_results", nil)
	require.ErrorIs(t, err, store.ErrInvalidInput, "not a worker queue")
	n, err := e.store.ReleaseOrphanedClaims(e.ctx, me, q, []uuid.UUID{running})
	require.NoError(t, err)
	require.Equal(t, 1, n)

	st, err := e.store.GetStep(e.ctx, mine[1].Task.UUID, orphan)
	require.NoError(t, err)
	require.Equal(t, state.StepEnqueued, st.State)
	require.Zero(t, st.Attempts, "the orphaned attempt never ran: it does not count")
	hist, err := e.store.StepTransitions(e.ctx, mine[1].Task.UUID, orphan)
	require.NoError(t, err)
	require.Contains(t, fmt.Sprint(metadataOf(hist)), `"reason": "claim_outcome_unknown"`)
	for _, cs := range append([]store.ClaimedStep{mine[0], other[0]}, elsewhere...) {
		st, err := e.store.GetStep(e.ctx, cs.Task.UUID, cs.Step.UUID)
		require.NoError(t, err)
		require.Equal(t, state.StepInProgress, st.State, "step %s is left alone", cs.Step.Name)
	}

	again := claimSteps(t, e.ctx, e.store, store.Claimer{ID: "w2"}, q, 1)
	require.Equal(t, orphan, again[0].Step.UUID, "the orphan's new message is claimable at once")
	require.Equal(t, 1, again[0].Step.Attempts)

	n, err = e.store.ReleaseOrphanedClaims(e.ctx, me, q, nil)
	require.NoError(t, err)
	require.Equal(t, 1, n, "with nothing running, the remaining claim of this process in ns is released")
}

// TestUnservedStepsOnABroker: on the rabbitmq backend the steps waiting
// for a worker that no live worker serves are counted through the open
// tasks, as the PostgreSQL backend counts their messages: by namespace and
// callable, a claimed step included, served ones and finished ones not.
func TestUnservedStepsOnABroker(t *testing.T) {
	e, _ := newBrokerEnv(t)
	specs := []stepSpec{{name: "a"}, {name: "b"}}
	e.register("route_ns", "route", specs)
	e.createTask(specs, `{}`)
	q := messaging.WorkerQueue("route_ns")

	unserved, err := e.store.UnservedSteps(e.ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"h.a", "h.b"}, callablesOf(unserved))
	require.Equal(t, store.UnservedSteps{Namespace: "route_ns", Callable: "h.b", Steps: 1, OldestAge: unserved[1].OldestAge}, unserved[1])
	require.Positive(t, unserved[1].OldestAge)
	require.Less(t, unserved[1].OldestAge, time.Minute)

	claimed := claimSteps(t, e.ctx, e.store, store.Claimer{ID: "w", Callables: []string{"h.a"}}, q, 1)
	unserved, err = e.store.UnservedSteps(e.ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"h.a", "h.b"}, callablesOf(unserved), "a claimed step waits for its worker too")
	require.Less(t, unserved[0].OldestAge, time.Minute)

	// A registered worker serves only while its process holds its lock.
	key, err := store.NewLivenessKey()
	require.NoError(t, err)
	require.NoError(t, e.store.RegisterWorker(e.ctx, store.WorkerRegistration{Lock: key, WorkerID: "w-b",
		Namespaces: []string{"route_ns"}, Callables: []string{"h.b"}}))
	unserved, err = e.store.UnservedSteps(e.ctx)
	require.NoError(t, err)
	require.Len(t, unserved, 2)
	sess, err := e.store.HoldLiveness(e.ctx, key)
	require.NoError(t, err)
	defer func() { require.NoError(t, sess.Close(e.ctx)) }()
	unserved, err = e.store.UnservedSteps(e.ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"h.a"}, callablesOf(unserved))

	e.complete("w", claimed[0], true, true)
	unserved, err = e.store.UnservedSteps(e.ctx)
	require.NoError(t, err)
	require.Empty(t, unserved, "a step whose result is in is not waiting for a worker")
}
