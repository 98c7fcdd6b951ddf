package store

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
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
	p, err := e.store.pipe(e.ctx)
	require.NoError(t, err)
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO probe VALUES (1)`)
	require.NoError(t, p.send(b))
	b = &pgx.Batch{}
	b.Queue(`INSERT INTO probe VALUES (2)`)
	failingRead(b)
	err = p.commit(b)
	p.close()
	require.ErrorIs(t, err, errInjected)
	require.Zero(t, e.probes(t), "an error was returned, so nothing may be committed")

	// Without callbacks the COMMIT travels with the batch, and commits.
	p, err = e.store.pipe(e.ctx)
	require.NoError(t, err)
	b = &pgx.Batch{}
	b.Queue(`INSERT INTO probe VALUES (3)`)
	require.NoError(t, p.commit(b))
	p.close()
	require.Equal(t, 1, e.probes(t))
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
