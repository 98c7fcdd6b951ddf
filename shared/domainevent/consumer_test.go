package domainevent_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/domainevent"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/messaging/pgqueue"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/testdb"
)

// TestConsumerAcksRetriesAndDeadLetters: the durable consumer acks an event
// once its handler returned, redelivers a failed one after a delay, and
// moves an event that failed MaxAttempts times (and an unreadable message)
// to the dead-letter queue in one transaction; events outside its pattern
// are acked unseen.
func TestConsumerAcksRetriesAndDeadLetters(t *testing.T) {
	db := testdb.New(t)
	pool := db.Pool(t, 4)
	q, err := pgqueue.New(pgqueue.Config{Pool: pool, Schema: db.Schema, PollInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	st, err := store.New(store.Config{Pool: pool, Queue: q, ProcessorID: "t", Schema: db.Schema})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	_, err = domainevent.NewConsumer(domainevent.ConsumerConfig{Namespace: "bad-ns!", Queue: q, Handler: nil})
	require.Error(t, err)

	var mu sync.Mutex
	calls := map[string]int{}
	c, err := domainevent.NewConsumer(domainevent.ConsumerConfig{
		Namespace: "shop", Queue: q, Pattern: "order.*", MaxAttempts: 2, RetryDelay: time.Millisecond,
		DeadLetter: st,
		Handler: func(_ context.Context, e domainevent.Event) error {
			mu.Lock()
			defer mu.Unlock()
			calls[e.EventName]++
			switch {
			case e.EventName == "order.bad":
				return errors.New("always fails")
			case e.EventName == "order.flaky" && calls[e.EventName] == 1:
				return errors.New("fails once")
			}
			return nil
		},
	})
	require.NoError(t, err)
	require.NoError(t, c.Start(ctx))
	defer func() { require.NoError(t, c.Stop(ctx)) }()

	for _, name := range []string{"order.ok", "order.flaky", "order.bad", "payment.other"} {
		b, err := json.Marshal(event(name, "durable"))
		require.NoError(t, err)
		require.NoError(t, q.Send(ctx, domainevent.QueueName("shop"), 0, b))
	}
	require.NoError(t, q.Send(ctx, domainevent.QueueName("shop"), 0, []byte(`{"not": "an event"}`)))

	require.Eventually(t, func() bool {
		s, err := q.Stats(ctx, domainevent.QueueName("shop"))
		return err == nil && s.Depth == 0
	}, 20*time.Second, 10*time.Millisecond)
	mu.Lock()
	require.Equal(t, map[string]int{"order.ok": 1, "order.flaky": 2, "order.bad": 2}, calls)
	mu.Unlock()
	dead, err := q.Claim(ctx, domainevent.DeadLetterQueueName("shop"), messaging.ClaimOptions{N: 10, Visibility: time.Minute})
	require.NoError(t, err)
	require.Len(t, dead, 2, "the event that kept failing and the unreadable message")
}
