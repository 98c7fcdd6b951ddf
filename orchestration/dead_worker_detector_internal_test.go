package orchestration

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/brokertest"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/messaging/pgqueue"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/testdb"
)

// detectorEnv is a store with one enqueued step and a detector (not
// started: the test drives its checks).
type detectorEnv struct {
	ctx   context.Context
	store *store.Store
	queue string
	step  uuid.UUID
	d     *deadWorkerDetector
}

func newDetectorEnv(t *testing.T, cfg config.DeadWorkers) detectorEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	db := testdb.New(t)
	pool := db.Pool(t, 8)
	q, err := pgqueue.New(pgqueue.Config{Pool: pool, Schema: db.Schema})
	require.NoError(t, err)
	st, err := store.New(store.Config{Pool: pool, Queue: q, Schema: db.Schema, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	return newDetectorEnvOn(t, ctx, db, st, q, cfg)
}

// newBrokerDetectorEnv is newDetectorEnv on the rabbitmq queue backend (a
// private virtual host), assembled as the services assemble it.
func newBrokerDetectorEnv(t *testing.T, cfg config.DeadWorkers) detectorEnv {
	t.Helper()
	url := brokertest.VHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	db := testdb.New(t)
	c := config.Default(config.ContextOrchestration)
	c.Database.URL, c.Database.Schema = db.URL, db.Schema
	c.Database.Pool.MaxConnections, c.Database.Pool.MinConnections = 8, 0
	c.Queues.Backend = config.BackendRabbitMQ
	c.Queues.RabbitMQ.URL = url
	c.Queues.PollInterval = 100 * time.Millisecond
	c.Queues.RabbitMQ.OutboxPollInterval = 100 * time.Millisecond
	in, err := infra.Connect(ctx, c, "detector-test", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(in.Close)
	require.Nil(t, in.Queue.Tables())
	return newDetectorEnvOn(t, ctx, db, in.Store, in.Queue, cfg)
}

// newDetectorEnvOn builds the detector env on a store and its driver.
func newDetectorEnvOn(t *testing.T, ctx context.Context, db testdb.DB, st *store.Store, q messaging.Driver,
	cfg config.DeadWorkers) detectorEnv {
	t.Helper()
	nt, err := st.RegisterTemplate(ctx, store.TemplateRegistration{Namespace: "dw", Name: "t", Version: "1",
		Configuration: json.RawMessage(`{"steps":[]}`), StepNames: []string{"a"}})
	require.NoError(t, err)
	queue := messaging.WorkerQueue("dw")
	require.NoError(t, q.Ensure(ctx, queue))
	named, err := st.NamedStepIDs(ctx, []string{"a"})
	require.NoError(t, err)
	step := uuid.Must(uuid.NewV7())
	_, err = st.CreateTask(ctx, store.NewTask{UUID: uuid.Must(uuid.NewV7()), NamedTaskUUID: nt.UUID, Namespace: "dw",
		Context: json.RawMessage(`{}`), IdentityHash: uuid.NewString(),
		Steps: []store.NewStep{{UUID: step, NamedStepUUID: named["a"], Name: "a", HandlerCallable: "h",
			Retryable: true, MaxAttempts: 3, Backoff: "exponential", BackoffBaseMs: 10, MaxBackoffMs: 50}}})
	require.NoError(t, err)

	ocfg := *config.Default(config.ContextOrchestration).Orchestration
	ocfg.DeadWorkers = cfg
	connCfg, err := pgx.ParseConfig(db.URLWithSchema())
	require.NoError(t, err)
	core, err := New(Options{Store: st, Queue: q, ConnConfig: connCfg, Config: ocfg,
		Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	return detectorEnv{ctx: ctx, store: st, queue: queue, step: step, d: core.deadWorkers}
}

// claimedBy reads the step's claimer and attempts.
func (e detectorEnv) claimedBy(t *testing.T) (string, int) {
	t.Helper()
	var by string
	var attempts int
	require.NoError(t, e.store.Pool().QueryRow(e.ctx, `SELECT COALESCE(claimed_by, ''), attempts FROM workflow_steps
		WHERE workflow_step_uuid = $1`, e.step).Scan(&by, &attempts))
	return by, attempts
}

func (e detectorEnv) lockFree(t *testing.T, key int64) {
	t.Helper()
	require.Eventually(t, func() bool {
		scan, err := e.store.ClaimsInFlight(e.ctx)
		if err != nil {
			return false
		}
		for _, c := range scan.Claimers {
			if c.Lock == key {
				return !c.Held
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)
}

// TestDeadWorkerDetection: a claimer whose liveness lock is held keeps its
// claim however often the detector looks; once the lock is free the
// detector waits out the grace period and then ends the claim, and another
// worker reclaims the step (the lost run counts).
func TestDeadWorkerDetection(t *testing.T) {
	testDeadWorkerDetection(t, newDetectorEnv(t, detectorConfig))
}

// TestDeadWorkerDetectionOnABroker is TestDeadWorkerDetection on the
// rabbitmq queue backend: the detector runs there too, finds the claims
// through the open tasks, and the step's new message reaches the rescuer
// long before the (one minute) claim deadline.
func TestDeadWorkerDetectionOnABroker(t *testing.T) {
	testDeadWorkerDetection(t, newBrokerDetectorEnv(t, detectorConfig))
}

var detectorConfig = config.DeadWorkers{Enabled: true, Interval: 100 * time.Millisecond,
	IdleInterval: time.Second, Grace: 300 * time.Millisecond, RestartGrace: time.Millisecond}

func testDeadWorkerDetection(t *testing.T, e detectorEnv) {
	key, err := store.NewLivenessKey()
	require.NoError(t, err)
	sess, err := e.store.HoldLiveness(e.ctx, key)
	require.NoError(t, err)
	var out store.ClaimOutcome
	require.Eventually(t, func() bool { // a broker's relay publishes the message after the task's commit
		out, err = e.store.ClaimNext(e.ctx, store.Claimer{ID: "victim", Lock: key}, e.queue, 10, time.Minute)
		return err == nil && len(out.Claimed) == 1
	}, 20*time.Second, 20*time.Millisecond)

	for range 3 {
		require.Equal(t, 100*time.Millisecond, e.d.check(e.ctx), "steps in progress: look again after interval")
	}
	require.Empty(t, e.d.freeSince)
	by, _ := e.claimedBy(t)
	require.Equal(t, "victim", by, "a held lock keeps its claims")

	require.NoError(t, sess.Close(e.ctx))
	e.lockFree(t, key)
	require.LessOrEqual(t, e.d.check(e.ctx), 300*time.Millisecond, "first sight of a free lock: look again after the grace")
	require.Contains(t, e.d.freeSince, key)
	by, _ = e.claimedBy(t)
	require.Equal(t, "victim", by, "not before the grace period")

	require.Eventually(t, func() bool {
		e.d.check(e.ctx)
		again, err := e.store.ClaimNext(e.ctx, store.Claimer{ID: "rescuer"}, e.queue, 10, time.Minute)
		return err == nil && len(again.Claimed) == 1 && again.Claimed[0].Reclaimed
	}, 20*time.Second, 50*time.Millisecond, "reclaimed long before the one-minute claim deadline")
	by, attempts := e.claimedBy(t)
	require.Equal(t, "rescuer", by)
	require.Equal(t, 2, attempts, "the lost run counts")
	var m dto.Metric
	require.NoError(t, e.d.released.Write(&m))
	require.Equal(t, 1.0, m.GetCounter().GetValue(), "released once (a look before the new message arrived ends nothing)")
	e.d.check(e.ctx)
	require.Empty(t, e.d.freeSince, "the dead lock holds no claims any more")
}

// TestDeadWorkerDetectionWaitsAfterRestart: right after PostgreSQL started
// every lock is free, live workers' included: nothing is released.
func TestDeadWorkerDetectionWaitsAfterRestart(t *testing.T) {
	e := newDetectorEnv(t, config.DeadWorkers{Enabled: true, Interval: 100 * time.Millisecond,
		IdleInterval: time.Second, Grace: 100 * time.Millisecond, RestartGrace: 100000 * time.Hour})
	key, err := store.NewLivenessKey()
	require.NoError(t, err)
	sess, err := e.store.HoldLiveness(e.ctx, key)
	require.NoError(t, err)
	_, err = e.store.ClaimNext(e.ctx, store.Claimer{ID: "victim", Lock: key}, e.queue, 10, time.Minute)
	require.NoError(t, err)
	require.NoError(t, sess.Close(e.ctx))
	e.lockFree(t, key)
	for range 3 {
		require.Equal(t, 100*time.Millisecond, e.d.check(e.ctx))
	}
	require.Empty(t, e.d.freeSince)
	by, _ := e.claimedBy(t)
	require.Equal(t, "victim", by)
}

// TestDeadWorkerDetectionIdle: with no step in progress the detector looks
// again only after the idle interval.
func TestDeadWorkerDetectionIdle(t *testing.T) {
	e := newDetectorEnv(t, config.DeadWorkers{Enabled: true, Interval: 100 * time.Millisecond,
		IdleInterval: 7 * time.Second, Grace: 100 * time.Millisecond, RestartGrace: time.Millisecond})
	require.Equal(t, 7*time.Second, e.d.check(e.ctx))
}
