package orchestration

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/messaging/pgqueue"
	"github.com/tasker-go/tasker/shared/testdb"
)

// TestClaimHandlerFailureHidesTheBatch: a claiming handler whose batch
// fails has its claim rolled back, so its messages would be visible again
// at once; the consumer hides the ids it returns for RetryDelay instead of
// retrying them in a tight loop, and delivers them again after that.
func TestClaimHandlerFailureHidesTheBatch(t *testing.T) {
	db := testdb.New(t)
	q, err := pgqueue.New(pgqueue.Config{Pool: db.Pool(t, 4), Schema: db.Schema})
	require.NoError(t, err)
	ctx := context.Background()
	const queue = "consumer_retry"
	require.NoError(t, q.Ensure(ctx, queue))
	require.NoError(t, q.Send(ctx, queue, 0, []byte(`{"n":1}`)))

	var mu sync.Mutex
	var deliveries []time.Time
	done := make(chan struct{})
	handle := func(ctx context.Context, n int, claimed func(int)) ([]int64, error) {
		// Stand-in for a claim inside a transaction: hidden while the
		// batch is handled, visible again at once when it fails (the
		// rollback).
		msgs, err := q.Claim(ctx, queue, messaging.ClaimOptions{N: n, Visibility: time.Minute})
		if err != nil {
			return nil, err
		}
		claimed(len(msgs))
		if len(msgs) == 0 {
			return nil, nil
		}
		mu.Lock()
		defer mu.Unlock()
		deliveries = append(deliveries, time.Now())
		if len(deliveries) == 1 {
			if err := q.Nack(ctx, queue, 0, messaging.Receipt{ID: msgs[0].ID}); err != nil {
				return nil, err
			}
			return []int64{msgs[0].ID}, errors.New("processing failed")
		}
		if err := q.Ack(ctx, queue, messaging.Receipt{ID: msgs[0].ID}); err != nil {
			return nil, err
		}
		close(done)
		return nil, nil
	}
	// One slot: the next claim waits for the failed batch's handler to
	// finish, as a concurrent claim would skip the rows it still locks.
	c := newConsumer(consumerConfig{Queue: queue, BatchSize: 10, Concurrency: 1, PollInterval: 20 * time.Millisecond,
		RetryDelay: 400 * time.Millisecond}, q, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	c.claimHandle = handle
	require.NoError(t, c.Start(ctx))
	defer func() { require.NoError(t, c.Stop(ctx)) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the message was never delivered again")
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, deliveries, 2)
	require.GreaterOrEqual(t, deliveries[1].Sub(deliveries[0]), 350*time.Millisecond,
		"the failed batch was hidden for RetryDelay, not retried at once")
}
