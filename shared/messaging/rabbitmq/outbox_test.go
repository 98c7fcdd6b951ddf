package rabbitmq_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging/pgqueue"
	"github.com/tasker-go/tasker/shared/messaging/rabbitmq"
	"github.com/tasker-go/tasker/shared/pgnotify"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/testdb"
)

// outboxEnv is a store on a private schema beside a broker client.
type outboxEnv struct {
	t     testing.TB
	ctx   context.Context
	db    testdb.DB
	store *store.Store
	c     *rabbitmq.Client
}

func newOutboxEnv(t testing.TB) *outboxEnv {
	t.Helper()
	c := newClient(t, nil)
	db := testdb.New(t)
	pool := db.Pool(t, 8)
	// The store needs a queue for its other paths; the outbox does not use it.
	q, err := pgqueue.New(pgqueue.Config{Pool: pool, Schema: db.Schema})
	require.NoError(t, err)
	st, err := store.New(store.Config{Pool: pool, Queue: q, Schema: db.Schema})
	require.NoError(t, err)
	return &outboxEnv{t: t, ctx: testCtx(t), db: db, store: st, c: c}
}

// write commits (or rolls back) outbox rows in one transaction.
func (e *outboxEnv) write(commit bool, msgs ...store.OutboxWrite) {
	e.t.Helper()
	tx, err := e.store.Pool().Begin(e.ctx)
	require.NoError(e.t, err)
	require.NoError(e.t, e.store.WriteOutboxTx(e.ctx, tx, msgs...))
	if commit {
		require.NoError(e.t, tx.Commit(e.ctx))
	} else {
		require.NoError(e.t, tx.Rollback(e.ctx))
	}
}

func (e *outboxEnv) depth() int64 {
	e.t.Helper()
	n, err := e.store.OutboxDepth(e.ctx)
	require.NoError(e.t, err)
	return n
}

func (e *outboxEnv) relay(cfg rabbitmq.RelayConfig) *rabbitmq.Relay {
	e.t.Helper()
	r, err := e.c.NewRelay(e.store, cfg)
	require.NoError(e.t, err)
	return r
}

func startRelay(t testing.TB, r *rabbitmq.Relay) {
	t.Helper()
	require.NoError(t, r.Start(testCtx(t)))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, r.Stop(ctx))
	})
}

func payload(s string) json.RawMessage { return json.RawMessage(s) }

// TestOutboxRowsExistOnlyWithTheirTransaction: a rolled-back transaction
// leaves nothing to publish; a committed one is published with its row id
// as message id, then deleted.
func TestOutboxRowsExistOnlyWithTheirTransaction(t *testing.T) {
	t.Parallel()
	e := newOutboxEnv(t)
	q := newQueue(t, e.c)
	r := e.relay(rabbitmq.RelayConfig{})

	e.write(false, store.OutboxWrite{Queue: q, Payload: payload(`{"rolled":"back"}`)})
	require.Zero(t, e.depth())
	n, err := r.RunOnce(e.ctx)
	require.NoError(t, err)
	require.Zero(t, n)

	e.write(true, store.OutboxWrite{Queue: q, Payload: payload(`{"committed":true}`)})
	require.Equal(t, int64(1), e.depth())
	n, err = r.RunOnce(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Zero(t, e.depth(), "published rows are deleted")

	st, err := e.c.Stats(e.ctx, q)
	require.NoError(t, err)
	require.Equal(t, 1, st.Ready, "only the committed message reached the queue")
	d := next(t, startConsumer(t, e.c, rabbitmq.ConsumerConfig{Queue: q}))
	require.JSONEq(t, `{"committed":true}`, string(d.Payload))
	require.Positive(t, d.ID)
	require.NoError(t, d.Ack())
}

// TestRelayPublishesAgainAfterDyingBeforeDelete: a relay whose publish was
// confirmed but whose delete never committed (it died in between) leaves the
// rows; the next run publishes them again, with the same ids.
func TestRelayPublishesAgainAfterDyingBeforeDelete(t *testing.T) {
	t.Parallel()
	e := newOutboxEnv(t)
	q := newQueue(t, e.c)
	e.write(true, store.OutboxWrite{Queue: q, Payload: payload(`{"n":1}`)}, store.OutboxWrite{Queue: q, Payload: payload(`{"n":2}`)})

	p := newPublisher(t, e.c)
	errDied := errors.New("relay died after the confirm")
	_, err := e.store.RelayOutbox(e.ctx, 10, func(ctx context.Context, rows []store.OutboxMessage) error {
		for _, row := range rows {
			require.NoError(t, p.Publish(ctx, row.Queue, rabbitmq.Message{ID: row.ID, Payload: row.Payload}))
		}
		return errDied
	})
	require.ErrorIs(t, err, errDied)
	require.Equal(t, int64(2), e.depth(), "the rows stay")

	r := e.relay(rabbitmq.RelayConfig{})
	startRelay(t, r)
	eventually(t, "relay published the rows again", func() bool { return r.Published() == 2 })
	require.Zero(t, e.depth(), "Published counts rows whose delete committed")

	co := startConsumer(t, e.c, rabbitmq.ConsumerConfig{Queue: q, Prefetch: 10})
	copies := map[int64]int{}
	for range 4 {
		d := next(t, co)
		copies[d.ID]++
		require.NoError(t, d.Ack())
	}
	require.Len(t, copies, 2)
	for id, n := range copies {
		require.Equal(t, 2, n, "message %d published twice: once before the crash, once after", id)
	}
}

// TestRelayHoldsDelayedRows: a row written with a delay is published no
// earlier than its time, while rows due now go at once; the relay is woken
// by the store's notification alone (its poll interval is an hour).
func TestRelayHoldsDelayedRows(t *testing.T) {
	t.Parallel()
	e := newOutboxEnv(t)
	q := newQueue(t, e.c)
	cc, err := pgx.ParseConfig(e.db.URL)
	require.NoError(t, err)
	l, err := pgnotify.New(pgnotify.Config{ConnConfig: cc})
	require.NoError(t, err)
	sub := l.SubscribeWake(e.store.OutboxChannel(), "")
	require.NoError(t, l.Start(e.ctx))
	t.Cleanup(func() { sub.Close(); l.Stop() })
	require.NoError(t, l.WaitReady(e.ctx))

	r := e.relay(rabbitmq.RelayConfig{PollInterval: time.Hour, Wake: sub.Wake()})
	startRelay(t, r)
	co := startConsumer(t, e.c, rabbitmq.ConsumerConfig{Queue: q, Prefetch: 10})

	written := time.Now()
	e.write(true, store.OutboxWrite{Queue: q, Payload: payload(`{"late":true}`), Delay: 1500 * time.Millisecond},
		store.OutboxWrite{Queue: q, Payload: payload(`{"late":false}`)})
	first := next(t, co)
	require.JSONEq(t, `{"late":false}`, string(first.Payload), "the due row goes first")
	require.NoError(t, first.Ack())
	second := next(t, co)
	require.JSONEq(t, `{"late":true}`, string(second.Payload))
	require.GreaterOrEqual(t, time.Since(written), 1500*time.Millisecond, "the delayed row waited for its time")
	require.NoError(t, second.Ack())
	// The relay deletes rows after the broker confirmed them, which can be
	// after the consumer got them.
	eventually(t, "outbox emptied", func() bool { return e.depth() == 0 })
}

// TestRelayDeclaresMissingQueue: rows for a queue nobody declared yet are
// published after the relay declares it (instead of blocking the outbox).
func TestRelayDeclaresMissingQueue(t *testing.T) {
	t.Parallel()
	e := newOutboxEnv(t)
	q := randomName("q_")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, e.c.DeleteQueue(ctx, q))
	})
	e.write(true, store.OutboxWrite{Queue: q, Payload: payload(`{}`)})
	n, err := e.relay(rabbitmq.RelayConfig{}).RunOnce(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	st, err := e.c.Stats(e.ctx, q)
	require.NoError(t, err)
	require.Equal(t, 1, st.Ready)
}
