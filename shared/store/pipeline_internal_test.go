package store

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/messaging/pgqueue"
	"github.com/tasker-go/tasker/shared/testdb"
)

// errInjected stands for any failure on the Go side while a batch's results
// are read: a scan error, a decoding error, a failed check.
var errInjected = errors.New("injected Go-side failure")

type internalEnv struct {
	ctx   context.Context
	store *Store
	queue *pgqueue.Queue
}

func newInternalEnv(t *testing.T) internalEnv {
	t.Helper()
	db := testdb.New(t)
	pool := db.Pool(t, 4)
	q, err := pgqueue.New(pgqueue.Config{Pool: pool, Schema: db.Schema})
	require.NoError(t, err)
	st, err := New(Config{Pool: pool, Queue: q, ProcessorID: "test", Schema: db.Schema})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	_, err = pool.Exec(ctx, `CREATE TABLE probe (n int)`)
	require.NoError(t, err)
	return internalEnv{ctx: ctx, store: st, queue: q}
}

func (e internalEnv) probes(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, e.store.pool.QueryRow(e.ctx, `SELECT count(*) FROM probe`).Scan(&n))
	return n
}

// failingRead queues a read whose callback fails after the server ran it.
func failingRead(b *pgx.Batch) {
	b.Queue(`SELECT 1`).QueryRow(func(row pgx.Row) error {
		var one int
		if err := row.Scan(&one); err != nil {
			return err
		}
		return errInjected
	})
}

// TestPipeTxCallbackFailureCommitsNothing: a result callback that fails in
// the batch that commits must leave nothing committed. (With the COMMIT
// pipelined behind the callback's statement, the server committed before
// the callback ran.)
func TestPipeTxCallbackFailureCommitsNothing(t *testing.T) {
	e := newInternalEnv(t)
	p := e.store.pipe(e.ctx)
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO probe VALUES (1)`)
	require.NoError(t, p.send(b))
	b = &pgx.Batch{}
	b.Queue(`INSERT INTO probe VALUES (2)`)
	failingRead(b)
	err := p.commit(b)
	p.close()
	require.ErrorIs(t, err, errInjected)
	require.Zero(t, e.probes(t), "an error was returned, so nothing may be committed")

	// Without callbacks the COMMIT travels with the batch, and commits.
	p = e.store.pipe(e.ctx)
	b = &pgx.Batch{}
	b.Queue(`INSERT INTO probe VALUES (3)`)
	require.NoError(t, p.commit(b))
	p.close()
	require.Equal(t, 1, e.probes(t))
}

// TestPipeTxTakesItsConnectionAtItsFirstBatch: a unit of work holds no
// connection until it sends its first statement (a rabbitmq claim waits for
// the broker first: during an outage, waiting claims must not hold the
// pool), and gives it back when closed, also when it never sent anything.
func TestPipeTxTakesItsConnectionAtItsFirstBatch(t *testing.T) {
	e := newInternalEnv(t)
	held := func() int32 { return e.store.pool.Stat().AcquiredConns() }
	before := held()
	p := e.store.pipe(e.ctx)
	require.Equal(t, before, held(), "no connection before the first batch")
	p.close()
	require.Equal(t, before, held())

	p = e.store.pipe(e.ctx)
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO probe VALUES (1)`)
	require.NoError(t, p.send(b))
	require.Equal(t, before+1, held(), "the first batch takes a connection")
	b = &pgx.Batch{}
	b.Queue(`INSERT INTO probe VALUES (2)`)
	require.NoError(t, p.commit(b))
	p.close()
	require.Equal(t, before, held())
	require.Equal(t, 2, e.probes(t))
}

// TestOutboxCallbackFailureCommitsNothing: the outbox paths (one-batch units
// of work such as step completion and task creation, and multi-batch ones
// such as result processing) give the same guarantee.
func TestOutboxCallbackFailureCommitsNothing(t *testing.T) {
	e := newInternalEnv(t)
	err := e.store.atomically(e.ctx, func(o *outbox) error {
		o.b.Queue(`INSERT INTO probe VALUES (1)`)
		failingRead(o.b)
		return nil
	})
	require.ErrorIs(t, err, errInjected)
	require.Zero(t, e.probes(t), "atomically returned an error, so nothing may be committed")

	err = e.store.inTxOutbox(e.ctx, func(o *outbox) error {
		o.b.Queue(`INSERT INTO probe VALUES (2)`)
		if err := o.flush(); err != nil {
			return err
		}
		o.b.Queue(`INSERT INTO probe VALUES (3)`)
		failingRead(o.b)
		return nil
	})
	require.ErrorIs(t, err, errInjected)
	require.Zero(t, e.probes(t), "inTxOutbox returned an error, so nothing may be committed")

	require.NoError(t, e.store.atomically(e.ctx, func(o *outbox) error {
		o.b.Queue(`INSERT INTO probe VALUES (4)`)
		return nil
	}))
	require.Equal(t, 1, e.probes(t))

	// A capture cannot fail on the Go side: it keeps the COMMIT in its
	// batch; another callback beside it still defers the COMMIT.
	var raw [][]byte
	want := uuid.New()
	require.NoError(t, e.store.atomically(e.ctx, func(o *outbox) error {
		o.b.Queue(`INSERT INTO probe VALUES (5)`)
		o.capture(&raw, `SELECT $1::uuid`, want)
		require.False(t, hasCallbacks(o.b, o.captures))
		return nil
	}))
	require.Equal(t, 2, e.probes(t))
	require.Len(t, raw, 1)
	got, err := decodeUUID(raw[0])
	require.NoError(t, err)
	require.Equal(t, want, got)
	err = e.store.atomically(e.ctx, func(o *outbox) error {
		o.b.Queue(`INSERT INTO probe VALUES (6)`)
		o.capture(&raw, `SELECT $1::uuid`, want)
		failingRead(o.b)
		require.True(t, hasCallbacks(o.b, o.captures))
		return nil
	})
	require.ErrorIs(t, err, errInjected)
	require.Equal(t, 2, e.probes(t))
}

// roundTrips counts what a connection sends: batches and lone queries.
type roundTrips struct{ batches, queries atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.queries.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.batches.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// TestHotPathRoundTrips pins the round trips of the hot paths: step
// completion one (its read is a capture), the claim two, task creation two
// (its reads decode rows, so its COMMIT waits for them).
func TestHotPathRoundTrips(t *testing.T) {
	db := testdb.New(t)
	cfg, err := pgxpool.ParseConfig(db.URL)
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["search_path"] = db.Schema
	cfg.MaxConns = 1
	rt := &roundTrips{}
	cfg.ConnConfig.Tracer = rt
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	defer pool.Close()
	q, err := pgqueue.New(pgqueue.Config{Pool: pool, Schema: db.Schema})
	require.NoError(t, err)
	st, err := New(Config{Pool: pool, Queue: q, ProcessorID: "test", Schema: db.Schema})
	require.NoError(t, err)
	nt, err := st.RegisterTemplate(ctx, TemplateRegistration{Namespace: "ns", Name: "t", Version: "1",
		Configuration: json.RawMessage(`{"steps":[]}`), StepNames: []string{"a"}})
	require.NoError(t, err)
	queue := messaging.WorkerQueue("ns")
	require.NoError(t, q.Ensure(ctx, queue))
	require.NoError(t, q.Ensure(ctx, messaging.StepResultsQueue))
	named, err := st.NamedStepIDs(ctx, []string{"a"})
	require.NoError(t, err)

	count := func(f func()) (batches, queries int64) {
		b0, q0 := rt.batches.Load(), rt.queries.Load()
		f()
		return rt.batches.Load() - b0, rt.queries.Load() - q0
	}
	lifecycle := func() (create, claim, complete [2]int64) {
		create[0], create[1] = count(func() {
			_, err := st.CreateTask(ctx, NewTask{UUID: uuid.Must(uuid.NewV7()), NamedTaskUUID: nt.UUID, Namespace: "ns",
				Context: json.RawMessage(`{}`), IdentityHash: uuid.NewString(),
				Steps: []NewStep{{UUID: uuid.Must(uuid.NewV7()), NamedStepUUID: named["a"], Name: "a", HandlerCallable: "h",
					Retryable: true, MaxAttempts: 3, Backoff: "none"}}})
			require.NoError(t, err)
		})
		var out ClaimOutcome
		claim[0], claim[1] = count(func() {
			out, err = st.ClaimNext(ctx, Claimer{ID: "w"}, queue, 10, time.Minute)
			require.NoError(t, err)
		})
		require.Len(t, out.Claimed, 1)
		cs := out.Claimed[0]
		complete[0], complete[1] = count(func() {
			res, err := st.CompleteSteps(ctx, []StepResult{{StepUUID: cs.Step.UUID, TaskUUID: cs.Task.UUID,
				Attempt: cs.Step.Attempts, WorkerID: "w", Success: true, Result: json.RawMessage(`{}`),
				ClaimedAt: cs.Step.LastAttemptedAt, Queue: queue, MessageID: cs.MessageID, ReadCount: cs.ReadCount}})
			require.NoError(t, err)
			require.Equal(t, []uuid.UUID{cs.Step.UUID}, res.Recorded)
		})
		return
	}
	lifecycle() // prepares the statements (a first run describes them)
	create, claim, complete := lifecycle()
	require.Equal(t, [2]int64{1, 0}, create, "task creation: one batch, its COMMIT implicit")
	require.Equal(t, [2]int64{2, 0}, claim, "claim: two batches")
	require.Equal(t, [2]int64{1, 0}, complete, "completion: one batch")

	// A shutdown's release: the steps and their messages in one batch.
	release := func() [2]int64 {
		_, err := st.CreateTask(ctx, NewTask{UUID: uuid.Must(uuid.NewV7()), NamedTaskUUID: nt.UUID, Namespace: "ns",
			Context: json.RawMessage(`{}`), IdentityHash: uuid.NewString(),
			Steps: []NewStep{{UUID: uuid.Must(uuid.NewV7()), NamedStepUUID: named["a"], Name: "a", HandlerCallable: "h",
				Retryable: true, MaxAttempts: 3, Backoff: "none"}}})
		require.NoError(t, err)
		out, err := st.ClaimNext(ctx, Claimer{ID: "w"}, queue, 10, time.Minute)
		require.NoError(t, err)
		require.NotEmpty(t, out.Claimed) // the steps released before come again
		var ids []uuid.UUID
		var receipts []messaging.Receipt
		for _, cs := range out.Claimed {
			ids = append(ids, cs.Step.UUID)
			receipts = append(receipts, messaging.Receipt{ID: cs.MessageID, ReadCount: cs.ReadCount})
		}
		var rt [2]int64
		rt[0], rt[1] = count(func() {
			n, err := st.ReleaseClaims(ctx, "w", ids, map[string][]messaging.Receipt{queue: receipts})
			require.NoError(t, err)
			require.Equal(t, len(ids), n)
		})
		return rt
	}
	release() // prepares its statements
	require.Equal(t, [2]int64{1, 0}, release(), "release: one batch, its COMMIT implicit")
}

// TestClaimReadFailureClaimsNothing: when reading what a claim claimed fails
// on the Go side, ClaimNext returns the error and nothing was claimed: the
// step is still enqueued with no attempt spent, its history has no claim,
// and its message is visible to the next claim, which succeeds.
func TestClaimReadFailureClaimsNothing(t *testing.T) {
	e := newInternalEnv(t)
	nt, err := e.store.RegisterTemplate(e.ctx, TemplateRegistration{
		Namespace: "ns", Name: "t", Version: "1.0.0", Configuration: json.RawMessage(`{"steps":[]}`), StepNames: []string{"a"},
	})
	require.NoError(t, err)
	queue := messaging.WorkerQueue("ns")
	require.NoError(t, e.queue.Ensure(e.ctx, queue))
	named, err := e.store.NamedStepIDs(e.ctx, []string{"a"})
	require.NoError(t, err)
	step := uuid.Must(uuid.NewV7())
	_, err = e.store.CreateTask(e.ctx, NewTask{
		UUID: uuid.Must(uuid.NewV7()), NamedTaskUUID: nt.UUID, Namespace: nt.Namespace,
		Context: json.RawMessage(`{}`), IdentityHash: uuid.NewString(),
		Steps: []NewStep{{UUID: step, NamedStepUUID: named["a"], Name: "a", HandlerCallable: "h.a",
			Retryable: true, MaxAttempts: 3, Backoff: "exponential", BackoffBaseMs: 10, MaxBackoffMs: 50}},
	})
	require.NoError(t, err)

	testHookClaimRead = func() error { return errInjected }
	_, err = e.store.ClaimNext(e.ctx, Claimer{ID: "w1"}, queue, 10, 30*time.Second)
	testHookClaimRead = nil
	require.ErrorIs(t, err, errInjected)

	var st string
	var attempts, starts int
	require.NoError(t, e.store.pool.QueryRow(e.ctx, `SELECT state, attempts,
		(SELECT count(*) FROM workflow_step_transitions WHERE workflow_step_uuid = $1 AND to_state = 'in_progress')
		FROM workflow_steps WHERE workflow_step_uuid = $1`, step).Scan(&st, &attempts, &starts))
	require.Equal(t, "enqueued", st, "the claim must have rolled back")
	require.Zero(t, attempts)
	require.Zero(t, starts)

	out, err := e.store.ClaimNext(e.ctx, Claimer{ID: "w2"}, queue, 10, 30*time.Second)
	require.NoError(t, err)
	require.Len(t, out.Claimed, 1, "the message is visible again at once")
	require.Equal(t, 1, out.Claimed[0].Step.Attempts)
	require.Equal(t, "w2", out.Claimed[0].Step.ClaimedBy)
}

// TestContinuationReadFailureLeavesClaimsToRelease: the steps a completion
// claims are read after its commit; when that read fails the results still
// count, ClaimErr says so, and the claimed step (in progress under the
// worker, its message hidden) is what ReleaseOrphanedClaims gives back, so
// another worker claims it with no attempt spent.
func TestContinuationReadFailureLeavesClaimsToRelease(t *testing.T) {
	e := newInternalEnv(t)
	nt, err := e.store.RegisterTemplate(e.ctx, TemplateRegistration{
		Namespace: "ns", Name: "t", Version: "1.0.0", Configuration: json.RawMessage(`{"steps":[]}`), StepNames: []string{"a", "b"},
	})
	require.NoError(t, err)
	queue := messaging.WorkerQueue("ns")
	require.NoError(t, e.queue.Ensure(e.ctx, queue))
	require.NoError(t, e.queue.Ensure(e.ctx, messaging.StepResultsQueue))
	named, err := e.store.NamedStepIDs(e.ctx, []string{"a", "b"})
	require.NoError(t, err)
	a, b := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	step := func(id uuid.UUID, name string) NewStep {
		return NewStep{UUID: id, NamedStepUUID: named[name], Name: name, HandlerCallable: "h." + name,
			Retryable: true, MaxAttempts: 3, Backoff: "exponential", BackoffBaseMs: 10, MaxBackoffMs: 50}
	}
	_, err = e.store.CreateTask(e.ctx, NewTask{
		UUID: uuid.Must(uuid.NewV7()), NamedTaskUUID: nt.UUID, Namespace: nt.Namespace,
		Context: json.RawMessage(`{}`), IdentityHash: uuid.NewString(),
		Steps: []NewStep{step(a, "a"), step(b, "b")}, Edges: []NewEdge{{From: a, To: b}},
	})
	require.NoError(t, err)
	w1 := Claimer{ID: "w1"}
	claimed, err := e.store.ClaimNext(e.ctx, w1, queue, 10, 30*time.Second)
	require.NoError(t, err)
	require.Len(t, claimed.Claimed, 1)
	cs := claimed.Claimed[0]

	testHookClaimRead = func() error { return errInjected }
	out, err := e.store.CompleteAndProcessSteps(e.ctx, []StepResult{{
		StepUUID: a, TaskUUID: cs.Task.UUID, Attempt: 1, WorkerID: "w1", CorrelationID: cs.Task.CorrelationID,
		Success: true, Result: json.RawMessage(`{"success":true,"result":{}}`), ClaimedAt: cs.Step.LastAttemptedAt,
		Queue: queue, MessageID: cs.MessageID, ReadCount: cs.ReadCount,
	}}, &Continuation{Claimer: w1, Queues: []string{queue}, Max: 1, Visibility: 30 * time.Second})
	testHookClaimRead = nil
	require.NoError(t, err, "the results were committed")
	require.Equal(t, []uuid.UUID{a}, out.Processed)
	require.Empty(t, out.Claimed)
	require.ErrorIs(t, out.ClaimErr, errInjected)

	var st, by string
	require.NoError(t, e.store.pool.QueryRow(e.ctx, `SELECT state, claimed_by FROM workflow_steps WHERE workflow_step_uuid = $1`, b).
		Scan(&st, &by))
	require.Equal(t, "in_progress", st, "b was claimed by the committed completion")
	require.Equal(t, "w1", by)

	n, err := e.store.ReleaseOrphanedClaims(e.ctx, w1, queue, nil)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	again, err := e.store.ClaimNext(e.ctx, Claimer{ID: "w2"}, queue, 10, 30*time.Second)
	require.NoError(t, err)
	require.Len(t, again.Claimed, 1)
	require.Equal(t, b, again.Claimed[0].Step.UUID)
	require.Equal(t, 1, again.Claimed[0].Step.Attempts, "the released claim spent no attempt")
}
