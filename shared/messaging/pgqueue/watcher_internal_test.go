package pgqueue

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/testdb"
)

// pollCounter counts the fallback-poll statements sent on a pool.
type pollCounter struct{ n atomic.Int64 }

func (c *pollCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.Contains(d.SQL, "min(vt)") {
		c.n.Add(1)
	}
	return ctx
}

func (c *pollCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// newPollOnlyQueue is a Queue without a listener: NOTIFYs reach nobody,
// as if every one of them were lost, so only the fallback poll wakes.
func newPollOnlyQueue(t *testing.T, interval time.Duration, tr pgx.QueryTracer) *Queue {
	t.Helper()
	db := testdb.New(t)
	cfg, err := pgxpool.ParseConfig(db.URL)
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["search_path"] = db.Schema
	cfg.ConnConfig.Tracer = tr
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	q, err := New(Config{Pool: pool, Schema: db.Schema, PollInterval: interval})
	require.NoError(t, err)
	return q
}

func woken(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestFallbackPollFindsMessagesWhoseNotifyWasLost: with every NOTIFY lost,
// the subscribers of a queue that holds a visible message are woken by the
// fallback poll, the others are not, and each poll is one statement however
// many queues are subscribed.
func TestFallbackPollFindsMessagesWhoseNotifyWasLost(t *testing.T) {
	counter := &pollCounter{}
	q := newPollOnlyQueue(t, 100*time.Millisecond, counter)
	ctx := context.Background()
	names := []string{"lost_a", "lost_b", "lost_c"}
	chans := map[string]<-chan struct{}{}
	for _, name := range names {
		require.NoError(t, q.Ensure(ctx, name))
		ch, unsubscribe := q.Subscribe(name)
		defer unsubscribe()
		chans[name] = ch
	}
	require.NoError(t, q.Send(ctx, "lost_b", 0, json.RawMessage(`{"n":1}`)))
	select {
	case <-chans["lost_b"]:
	case <-time.After(20 * time.Second):
		t.Fatal("the fallback poll never woke the queue's subscriber")
	}
	require.False(t, woken(chans["lost_a"]), "a queue without messages is not woken")
	require.False(t, woken(chans["lost_c"]), "a queue without messages is not woken")
	msgs, err := q.Claim(ctx, "lost_b", messaging.ClaimOptions{N: 10, Visibility: time.Minute})
	require.NoError(t, err)
	require.Len(t, msgs, 1)

	require.Eventually(t, func() bool { return q.watch.polls.Load() >= 3 }, 20*time.Second, 10*time.Millisecond)
	polls, stmts := q.watch.polls.Load(), counter.n.Load()
	require.LessOrEqual(t, stmts, polls+1, "one statement per poll for three queues (one may be in flight)")
}

// TestFallbackPollWakesWhenHiddenMessageIsDue: a delayed message the poll
// saw hidden wakes its subscribers when it becomes visible, without a query
// and before the next poll.
func TestFallbackPollWakesWhenHiddenMessageIsDue(t *testing.T) {
	q := newPollOnlyQueue(t, time.Second, nil)
	ctx := context.Background()
	require.NoError(t, q.Ensure(ctx, "due"))
	require.NoError(t, q.Send(ctx, "due", 1500*time.Millisecond, json.RawMessage(`{"n":1}`)))
	ch, unsubscribe := q.Subscribe("due")
	defer unsubscribe()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatal("never woken")
	}
	require.EqualValues(t, 1, q.watch.polls.Load(), "woken by the timer the first poll set, not by a second poll")
	msgs, err := q.Claim(ctx, "due", messaging.ClaimOptions{N: 10, Visibility: time.Minute})
	require.NoError(t, err)
	require.Len(t, msgs, 1, "the message is visible when the wake-up arrives")
}

// TestFallbackPollStopsWithLastSubscriber: the poll runs only while
// something is subscribed.
func TestFallbackPollStopsWithLastSubscriber(t *testing.T) {
	q := newPollOnlyQueue(t, 50*time.Millisecond, nil)
	_, u1 := q.Subscribe("one")
	_, u2 := q.Subscribe("two")
	u1()
	q.watch.mu.Lock()
	running := q.watch.cancel != nil
	q.watch.mu.Unlock()
	require.True(t, running)
	u2()
	u2() // idempotent
	q.watch.mu.Lock()
	running = q.watch.cancel != nil
	q.watch.mu.Unlock()
	require.False(t, running)
}
