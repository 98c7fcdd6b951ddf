package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/store"
)

func (e *env) outboxWrite(msgs ...store.OutboxWrite) error {
	tx, err := e.store.Pool().Begin(e.ctx)
	require.NoError(e.t, err)
	if err := e.store.WriteOutboxTx(e.ctx, tx, msgs...); err != nil {
		require.NoError(e.t, tx.Rollback(e.ctx))
		return err
	}
	return tx.Commit(e.ctx)
}

func (e *env) outboxDepth() int64 {
	n, err := e.store.OutboxDepth(e.ctx)
	require.NoError(e.t, err)
	return n
}

// TestWriteOutboxRejectsBadInput: a bad queue name or payload fails the
// whole call before anything is written.
func TestWriteOutboxRejectsBadInput(t *testing.T) {
	e := newEnv(t)
	good := store.OutboxWrite{Queue: "worker_ns_queue", Payload: json.RawMessage(`{}`)}
	err := e.outboxWrite(good, store.OutboxWrite{Queue: "bad name", Payload: json.RawMessage(`{}`)})
	require.ErrorIs(t, err, store.ErrInvalidInput)
	require.ErrorIs(t, err, messaging.ErrInvalidQueueName)
	err = e.outboxWrite(good, store.OutboxWrite{Queue: "q", Payload: json.RawMessage(`{nope`)})
	require.ErrorIs(t, err, store.ErrInvalidInput)
	require.ErrorContains(t, err, "payload is not valid JSON")
	require.ErrorIs(t, e.store.WriteOutboxTx(e.ctx, nil, good), store.ErrInvalidInput)
	require.Zero(t, e.outboxDepth())
	_, err = e.store.RelayOutbox(e.ctx, 0, nil)
	require.ErrorIs(t, err, store.ErrInvalidInput)
}

// TestRelayOutboxOrderAndLocking: due rows come oldest first, in batches of
// the limit; rows held by one relay are skipped by another; delayed rows
// are not due; NextOutboxDue reports the earliest row.
func TestRelayOutboxOrderAndLocking(t *testing.T) {
	e := newEnv(t)
	_, ok, err := e.store.NextOutboxDue(e.ctx)
	require.NoError(t, err)
	require.False(t, ok, "empty outbox")
	require.NoError(t, e.outboxWrite(
		store.OutboxWrite{Queue: "a", Payload: json.RawMessage(`1`)},
		store.OutboxWrite{Queue: "b", Payload: json.RawMessage(`2`)},
		store.OutboxWrite{Queue: "a", Payload: json.RawMessage(`3`)},
		store.OutboxWrite{Queue: "a", Payload: json.RawMessage(`4`), Delay: time.Hour},
	))
	at, ok, err := e.store.NextOutboxDue(e.ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.False(t, at.After(time.Now().Add(time.Second)))

	var got []string
	n, err := e.store.RelayOutbox(e.ctx, 2, func(ctx context.Context, msgs []store.OutboxMessage) error {
		for _, m := range msgs {
			got = append(got, m.Queue+":"+string(m.Payload))
		}
		// Another relay meanwhile skips the locked rows and takes the rest.
		n, err := e.store.RelayOutbox(ctx, 10, func(_ context.Context, msgs []store.OutboxMessage) error {
			require.Len(t, msgs, 1)
			require.JSONEq(t, `3`, string(msgs[0].Payload))
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, []string{"a:1", "b:2"}, got)
	require.Equal(t, int64(1), e.outboxDepth(), "the delayed row waits")
	n, err = e.store.RelayOutbox(e.ctx, 10, func(context.Context, []store.OutboxMessage) error {
		t.Fatal("the delayed row is not due")
		return nil
	})
	require.NoError(t, err)
	require.Zero(t, n)
}
