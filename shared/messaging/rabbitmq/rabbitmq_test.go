package rabbitmq_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/messaging/rabbitmq"
)

func TestNewValidatesConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  rabbitmq.Config
		want string
	}{
		{rabbitmq.Config{}, "URL is required"},
		{rabbitmq.Config{URL: "http://localhost"}, `URL scheme "http": want amqp or amqps`},
		{rabbitmq.Config{URL: "amqp://x", Heartbeat: -time.Second}, "Heartbeat must not be negative"},
		{rabbitmq.Config{URL: "amqp://x", ReconnectMin: 2 * time.Second, ReconnectMax: time.Second}, "ReconnectMax (1s) must be at least ReconnectMin (2s)"},
		{rabbitmq.Config{URL: "amqp://x", DelayPrefix: "bad-name"}, `DelayPrefix "bad-name"`},
	} {
		_, err := rabbitmq.New(tc.cfg)
		require.ErrorIs(t, err, rabbitmq.ErrInvalidConfig)
		require.ErrorContains(t, err, tc.want)
	}
	c, err := rabbitmq.New(rabbitmq.Config{URL: "amqp://guest:guest@localhost/"})
	require.NoError(t, err)
	require.Equal(t, rabbitmq.DefaultConfirmTimeout, c.Config().ConfirmTimeout)
	require.Equal(t, "tasker", c.Config().DelayPrefix)
}

func TestBucketFor(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want time.Duration
		ok   bool
	}{
		{0, 0, false},
		{-time.Second, 0, false},
		{time.Millisecond, 100 * time.Millisecond, true},
		{99 * time.Millisecond, 100 * time.Millisecond, true},
		{100 * time.Millisecond, 100 * time.Millisecond, true},
		{199 * time.Millisecond, 100 * time.Millisecond, true},
		{200 * time.Millisecond, 200 * time.Millisecond, true},
		{65 * time.Second, 51200 * time.Millisecond, true},
		{rabbitmq.MaxBucket, rabbitmq.MaxBucket, true},
		{48 * time.Hour, rabbitmq.MaxBucket, true},
	} {
		got, ok := rabbitmq.BucketFor(tc.d)
		require.Equal(t, tc.ok, ok, tc.d)
		require.Equal(t, tc.want, got, tc.d)
	}
}

func TestPublishConsumeAck(t *testing.T) {
	t.Parallel()
	c := newClient(t, nil)
	ctx := testCtx(t)
	q := newQueue(t, c)
	p := newPublisher(t, c)
	before := time.Now().Truncate(time.Second)
	require.NoError(t, p.Publish(ctx, q, rabbitmq.Message{ID: 42, Payload: json.RawMessage(`{"n":1}`)}, msg(`{"n":2}`)))
	st, err := c.Stats(ctx, q)
	require.NoError(t, err)
	require.Equal(t, 2, st.Ready, "confirmed messages are in the queue")

	co := startConsumer(t, c, rabbitmq.ConsumerConfig{Queue: q, Prefetch: 10})
	d1, d2 := next(t, co), next(t, co)
	require.Equal(t, int64(42), d1.ID)
	require.JSONEq(t, `{"n":1}`, string(d1.Payload))
	require.Equal(t, q, d1.Queue)
	require.Equal(t, 1, d1.ReadCount)
	require.False(t, d1.EnqueuedAt.Before(before))
	require.Positive(t, d2.ID, "an id is assigned when none is given")
	require.NotEqual(t, d1.ID, d2.ID)
	require.NoError(t, d1.Ack())
	require.ErrorIs(t, d1.Ack(), rabbitmq.ErrAlreadySettled)
	require.NoError(t, d2.Ack())
	eventually(t, "queue drained", func() bool {
		st, err := c.Stats(ctx, q)
		return err == nil && st.Ready == 0 && st.Consumers == 1
	})
}

func TestDeclareQueueIsIdempotent(t *testing.T) {
	t.Parallel()
	c := newClient(t, nil)
	ctx := testCtx(t)
	q := newQueue(t, c)
	require.NoError(t, c.DeclareQueue(ctx, q), "declaring again")
	_, err := c.Stats(ctx, rabbitmq.DLQName(q))
	require.NoError(t, err, "the dead-letter queue exists")
	require.ErrorIs(t, c.DeclareQueue(ctx, "bad name"), messaging.ErrInvalidQueueName)
}

func TestPublishErrors(t *testing.T) {
	t.Parallel()
	c := newClient(t, nil)
	ctx := testCtx(t)
	p := newPublisher(t, c)
	err := p.Publish(ctx, randomName("missing_"), msg(`{}`))
	require.ErrorIs(t, err, rabbitmq.ErrUnroutable, "a queue that does not exist")
	require.ErrorIs(t, p.Publish(ctx, "no-dashes", msg(`{}`)), messaging.ErrInvalidQueueName)
	require.ErrorContains(t, p.Publish(ctx, newQueue(t, c), msg(`{not json`)), "payload is not valid JSON")
	// The publisher keeps working after a returned message.
	q := newQueue(t, c)
	require.NoError(t, p.Publish(ctx, q, msg(`{}`)))
}

func TestNackRequeuesAndCountsDeliveries(t *testing.T) {
	t.Parallel()
	c := newClient(t, nil)
	ctx := testCtx(t)
	q := newQueue(t, c)
	require.NoError(t, newPublisher(t, c).Publish(ctx, q, rabbitmq.Message{ID: 7, Payload: json.RawMessage(`{}`)}))
	co := startConsumer(t, c, rabbitmq.ConsumerConfig{Queue: q, Prefetch: 1})

	d := next(t, co)
	require.Equal(t, 1, d.ReadCount)
	require.NoError(t, d.Nack(ctx, 0))
	d = next(t, co)
	require.Equal(t, int64(7), d.ID)
	require.Equal(t, 2, d.ReadCount, "the broker counts the requeue")

	nacked := time.Now()
	require.NoError(t, d.Nack(ctx, 300*time.Millisecond))
	d = next(t, co)
	require.GreaterOrEqual(t, time.Since(nacked), 300*time.Millisecond-rabbitmq.DueSlack, "a delayed nack is not delivered before its delay")
	require.Equal(t, int64(7), d.ID, "the delayed copy keeps the id")
	require.Equal(t, 3, d.ReadCount, "the delayed copy carries the delivery count")
	require.NoError(t, d.Ack())
}

func TestMaxDeliveriesDeadLetters(t *testing.T) {
	t.Parallel()
	c := newClient(t, nil)
	ctx := testCtx(t)
	q := newQueue(t, c)
	require.NoError(t, newPublisher(t, c).Publish(ctx, q, rabbitmq.Message{ID: 9, Payload: json.RawMessage(`{"poison":true}`)}))
	co := startConsumer(t, c, rabbitmq.ConsumerConfig{Queue: q, Prefetch: 1, MaxDeliveries: 3})
	require.NoError(t, next(t, co).Nack(ctx, 0))
	require.NoError(t, next(t, co).Nack(ctx, 200*time.Millisecond))
	d := next(t, co)
	require.Equal(t, 3, d.ReadCount)
	require.NoError(t, d.Nack(ctx, 0), "the fourth delivery passes MaxDeliveries")

	dlq := startConsumer(t, c, rabbitmq.ConsumerConfig{Queue: rabbitmq.DLQName(q)})
	dead := next(t, dlq)
	require.Equal(t, int64(9), dead.ID)
	require.JSONEq(t, `{"poison":true}`, string(dead.Payload))
	require.NoError(t, dead.Ack())
	require.Equal(t, int64(1), co.DeadLettered())
}

func TestDeadLetter(t *testing.T) {
	t.Parallel()
	c := newClient(t, nil)
	ctx := testCtx(t)
	q := newQueue(t, c)
	require.NoError(t, newPublisher(t, c).Publish(ctx, q, rabbitmq.Message{ID: 11, Payload: json.RawMessage(`{}`)}))
	co := startConsumer(t, c, rabbitmq.ConsumerConfig{Queue: q})
	d := next(t, co)
	require.NoError(t, d.DeadLetter())
	require.ErrorIs(t, d.Ack(), rabbitmq.ErrAlreadySettled)
	dead := next(t, startConsumer(t, c, rabbitmq.ConsumerConfig{Queue: rabbitmq.DLQName(q)}))
	require.Equal(t, int64(11), dead.ID)
	require.NoError(t, dead.Ack())
}

// TestDelayLongerThanItsBucketHops: a delay that is no bucket's length goes
// through several (700ms = 400 + 200 + 100) and is not delivered early.
func TestDelayLongerThanItsBucketHops(t *testing.T) {
	t.Parallel()
	c := newClient(t, nil)
	ctx := testCtx(t)
	q := newQueue(t, c)
	co := startConsumer(t, c, rabbitmq.ConsumerConfig{Queue: q})
	sent := time.Now()
	require.NoError(t, newPublisher(t, c).Publish(ctx, q, rabbitmq.Message{ID: 5, Payload: json.RawMessage(`{}`), Delay: 700 * time.Millisecond}))
	d := next(t, co)
	require.GreaterOrEqual(t, time.Since(sent), 700*time.Millisecond-rabbitmq.DueSlack, "not delivered early")
	require.Equal(t, int64(5), d.ID)
	require.Equal(t, 1, d.ReadCount, "hops are not deliveries")
	require.NoError(t, d.Ack())
}

// TestPrefetchBoundsUnacked: the broker hands out at most prefetch
// unacknowledged messages, and SetPrefetch changes that at run time.
func TestPrefetchBoundsUnacked(t *testing.T) {
	t.Parallel()
	c := newClient(t, nil)
	ctx := testCtx(t)
	q := newQueue(t, c)
	p := newPublisher(t, c)
	for range 6 {
		require.NoError(t, p.Publish(ctx, q, msg(`{}`)))
	}
	co := startConsumer(t, c, rabbitmq.ConsumerConfig{Queue: q, Prefetch: 1})
	held := []*rabbitmq.Delivery{next(t, co)}
	ready := func(n int) func() bool {
		return func() bool { st, err := c.Stats(ctx, q); return err == nil && st.Ready == n }
	}
	eventually(t, "5 ready with prefetch 1", ready(5))
	require.NoError(t, co.SetPrefetch(3))
	require.Equal(t, 3, co.Prefetch())
	held = append(held, next(t, co), next(t, co), next(t, co))
	// One unacked message belongs to the first subscription, so the new
	// one may hold three more: 6 - 4 = 2 ready.
	eventually(t, "2 ready after raising prefetch", ready(2))
	require.Error(t, co.SetPrefetch(0))
	for _, d := range held {
		require.NoError(t, d.Ack())
	}
	for range 2 {
		require.NoError(t, next(t, co).Ack())
	}
	eventually(t, "queue drained", ready(0))
}

func TestFromConfig(t *testing.T) {
	cfg := config.Default(config.ContextShared)
	require.NoError(t, cfg.Validate())
	cfg.Queues.RabbitMQ.URL = brokerURL()
	s := rabbitmq.FromConfig(cfg.Queues.RabbitMQ, "orchestration-1", nil)
	require.Equal(t, "orchestration-1", s.Conn.ConnectionName)
	require.Equal(t, cfg.Queues.RabbitMQ.Heartbeat, s.Conn.Heartbeat)
	require.Equal(t, cfg.Queues.RabbitMQ.ConnectTimeout, s.Conn.DialTimeout)
	require.Equal(t, cfg.Queues.RabbitMQ.OutboxBatchSize, s.Relay.BatchSize)
	require.Equal(t, 100, s.Prefetch)
	require.Equal(t, 10, s.MaxDeliveries)
	_, err := rabbitmq.New(s.Conn)
	require.NoError(t, err, "the defaults make a valid client configuration")
}

// TestConsumerStopWaitsForHandedOutDeliveries: Stop lets deliveries that
// are out be settled first; one left unsettled when Stop gives up goes back
// to the queue.
func TestConsumerStopWaitsForHandedOutDeliveries(t *testing.T) {
	t.Parallel()
	c := newClient(t, nil)
	ctx := testCtx(t)
	q := newQueue(t, c)
	p := newPublisher(t, c)
	ready := func(n int) func() bool {
		return func() bool { st, err := c.Stats(ctx, q); return err == nil && st.Ready == n }
	}

	require.NoError(t, p.Publish(ctx, q, msg(`{"n":1}`)))
	co, err := c.NewConsumer(rabbitmq.ConsumerConfig{Queue: q})
	require.NoError(t, err)
	require.NoError(t, co.Start(ctx))
	held := next(t, co)
	stopped := make(chan error, 1)
	go func() { stopped <- co.Stop(ctx) }()
	_, open := <-co.Deliveries()
	require.False(t, open, "Deliveries closes on Stop")
	require.NoError(t, held.Ack(), "the channel stays open for deliveries that are out")
	require.NoError(t, <-stopped)
	require.True(t, ready(0)(), "the acked message is gone")

	require.NoError(t, p.Publish(ctx, q, msg(`{"n":2}`)))
	co, err = c.NewConsumer(rabbitmq.ConsumerConfig{Queue: q})
	require.NoError(t, err)
	require.NoError(t, co.Start(ctx))
	held = next(t, co)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, co.Stop(short), context.DeadlineExceeded, "an unsettled delivery holds Stop until its context ends")
	require.ErrorIs(t, held.Ack(), rabbitmq.ErrStaleDelivery)
	eventually(t, "the unsettled message is back in the queue", ready(1))
}

// TestStatusReportsAnUnreachableBroker: while no connection can be made the
// status says so, with the last error, and waiting for the connection ends
// with the caller's context, naming that error.
func TestStatusReportsAnUnreachableBroker(t *testing.T) {
	t.Parallel()
	c, err := rabbitmq.New(rabbitmq.Config{URL: "amqp://guest:guest@127.0.0.1:1/", ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond})
	require.NoError(t, err)
	require.ErrorContains(t, c.WaitConnected(context.Background()), "not started")
	ctx := testCtx(t)
	require.NoError(t, c.Start(ctx))
	defer func() { require.NoError(t, c.Stop(ctx)) }()
	eventually(t, "an attempt failed", func() bool { return c.Status().LastError != "" })
	st := c.Status()
	require.False(t, st.Connected)
	require.Zero(t, st.Connects)
	require.Contains(t, st.LastError, "connecting to rabbitmq")
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err = c.WaitConnected(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "last error: connecting to rabbitmq")
}
