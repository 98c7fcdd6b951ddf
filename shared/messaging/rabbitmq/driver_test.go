package rabbitmq_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/messaging/queuetest"
	"github.com/tasker-go/tasker/shared/messaging/rabbitmq"
	"github.com/tasker-go/tasker/shared/pgnotify"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/testdb"
)

// driverEnv is a driver on a private schema and a private set of broker
// queues, with the outbox relay of a process running beside it.
type driverEnv struct {
	d     *rabbitmq.Driver
	c     *rabbitmq.Client
	store *store.Store
	relay *rabbitmq.Relay
	db    testdb.DB
}

func newDriverEnv(t testing.TB) *driverEnv {
	t.Helper()
	c := newClient(t, nil)
	db := testdb.New(t)
	pool := db.Pool(t, 8)
	d, err := c.NewDriver(rabbitmq.DriverConfig{Pool: pool, Schema: db.Schema, PollInterval: 100 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	st, err := store.New(store.Config{Pool: pool, Queue: d, Schema: db.Schema})
	require.NoError(t, err)
	cc, err := pgx.ParseConfig(db.URL)
	require.NoError(t, err)
	l, err := pgnotify.New(pgnotify.Config{ConnConfig: cc})
	require.NoError(t, err)
	require.NoError(t, l.Start(context.Background()))
	t.Cleanup(l.Stop)
	sub := l.SubscribeWake(st.OutboxChannel(), "")
	t.Cleanup(sub.Close)
	r, err := c.NewRelay(st, rabbitmq.RelayConfig{PollInterval: time.Second, Wake: sub.Wake()})
	require.NoError(t, err)
	startRelay(t, r)
	d.SetRelay(r)
	return &driverEnv{d: d, c: c, store: st, relay: r, db: db}
}

func TestConformance(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queuetest.Harness {
		env := newDriverEnv(t)
		return queuetest.Harness{Queue: newPrefixed(t, env.c, env.d), Pool: env.store.Pool(), OrderWithinRoute: true}
	})
}

// prefixed gives the suite's fixed queue names a prefix of their own per
// test (several tests and test processes share the broker), and deletes
// the queues when the test ends. Names are checked before the prefix is
// added, so invalid ones stay invalid.
type prefixed struct {
	messaging.Driver
	prefix string
	mu     sync.Mutex
	seen   map[string]bool
}

func newPrefixed(t testing.TB, c *rabbitmq.Client, d messaging.Driver) *prefixed {
	p := &prefixed{Driver: d, prefix: randomName("t") + "_", seen: map[string]bool{}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p.mu.Lock()
		defer p.mu.Unlock()
		for q := range p.seen {
			require.NoError(t, c.DeleteQueue(ctx, q))
		}
	})
	return p
}

func (p *prefixed) name(q string) (string, error) {
	if err := messaging.ValidateQueueName(q); err != nil {
		return "", err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen[p.prefix+q] = true
	return p.prefix + q, nil
}

func (p *prefixed) strip(ms []messaging.Message) []messaging.Message {
	for i := range ms {
		ms[i].Queue = strings.TrimPrefix(ms[i].Queue, p.prefix)
	}
	return ms
}

func (p *prefixed) Ensure(ctx context.Context, q string) error {
	n, err := p.name(q)
	if err != nil {
		return err
	}
	return p.Driver.Ensure(ctx, n)
}

func (p *prefixed) Send(ctx context.Context, q string, delay time.Duration, payloads ...json.RawMessage) error {
	n, err := p.name(q)
	if err != nil {
		return err
	}
	return p.Driver.Send(ctx, n, delay, payloads...)
}

func (p *prefixed) Claim(ctx context.Context, q string, o messaging.ClaimOptions) ([]messaging.Message, error) {
	n, err := p.name(q)
	if err != nil {
		return nil, err
	}
	ms, err := p.Driver.Claim(ctx, n, o)
	return p.strip(ms), err
}

func (p *prefixed) Ack(ctx context.Context, q string, rs ...messaging.Receipt) error {
	n, err := p.name(q)
	if err != nil {
		return err
	}
	return p.Driver.Ack(ctx, n, rs...)
}

func (p *prefixed) Nack(ctx context.Context, q string, delay time.Duration, rs ...messaging.Receipt) error {
	n, err := p.name(q)
	if err != nil {
		return err
	}
	return p.Driver.Nack(ctx, n, delay, rs...)
}

func (p *prefixed) Extend(ctx context.Context, q string, vt time.Duration, rs ...messaging.Receipt) error {
	n, err := p.name(q)
	if err != nil {
		return err
	}
	return p.Driver.Extend(ctx, n, vt, rs...)
}

func (p *prefixed) Stats(ctx context.Context, q string) (messaging.Stats, error) {
	n, err := p.name(q)
	if err != nil {
		return messaging.Stats{}, err
	}
	st, err := p.Driver.Stats(ctx, n)
	st.Queue = q
	return st, err
}

func (p *prefixed) NextVisible(ctx context.Context, q string) (time.Time, bool, error) {
	n, err := p.name(q)
	if err != nil {
		return time.Time{}, false, err
	}
	return p.Driver.NextVisible(ctx, n)
}

func (p *prefixed) Subscribe(q string) (<-chan struct{}, func()) {
	n, err := p.name(q)
	if err != nil {
		panic(err) // the suite subscribes to valid names only
	}
	return p.Driver.Subscribe(n)
}

func (p *prefixed) NewWork() messaging.Work { return &prefixedWork{Work: p.Driver.NewWork(), p: p} }

type prefixedWork struct {
	messaging.Work
	p *prefixed
}

func (w *prefixedWork) Claim(ctx context.Context, q string, o messaging.ClaimOptions) (messaging.ClaimSource, error) {
	n, err := w.p.name(q)
	if err != nil {
		return messaging.ClaimSource{}, err
	}
	return w.Work.Claim(ctx, n, o)
}

func (w *prefixedWork) Send(ctx context.Context, b *pgx.Batch, q string, delay time.Duration, ps []json.RawMessage) error {
	n, err := w.p.name(q)
	if err != nil {
		return err
	}
	return w.Work.Send(ctx, b, n, delay, ps)
}

func (w *prefixedWork) Ack(ctx context.Context, b *pgx.Batch, q string, rs []messaging.Receipt) error {
	n, err := w.p.name(q)
	if err != nil {
		return err
	}
	return w.Work.Ack(ctx, b, n, rs)
}

func (w *prefixedWork) Defer(ctx context.Context, b *pgx.Batch, q string, r messaging.Receipt, until time.Time) error {
	n, err := w.p.name(q)
	if err != nil {
		return err
	}
	return w.Work.Defer(ctx, b, n, r, until)
}

// newTestDriver is a driver on client c and a private schema, closed when
// the test ends.
func newTestDriver(t testing.TB, c *rabbitmq.Client) (*rabbitmq.Driver, *store.Store) {
	t.Helper()
	db := testdb.New(t)
	pool := db.Pool(t, 4)
	d, err := c.NewDriver(rabbitmq.DriverConfig{Pool: pool, Schema: db.Schema})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	st, err := store.New(store.Config{Pool: pool, Queue: d, Schema: db.Schema})
	require.NoError(t, err)
	return d, st
}

func claimOne(t testing.TB, d messaging.Driver, q string, o messaging.ClaimOptions) messaging.Message {
	t.Helper()
	var got []messaging.Message
	eventually(t, "a message claimed", func() bool {
		var err error
		got, err = d.Claim(testCtx(t), q, o)
		require.NoError(t, err)
		return len(got) > 0
	})
	require.Len(t, got, 1)
	return got[0]
}

func TestNewDriverRejectsBadConfig(t *testing.T) {
	c, err := rabbitmq.New(rabbitmq.Config{URL: "amqp://guest:guest@127.0.0.1:5672/"})
	require.NoError(t, err)
	_, err = c.NewDriver(rabbitmq.DriverConfig{})
	require.ErrorIs(t, err, rabbitmq.ErrInvalidConfig)
	require.ErrorContains(t, err, "pool")
	db := testdb.New(t)
	_, err = c.NewDriver(rabbitmq.DriverConfig{Pool: db.Pool(t, 1), PollInterval: -time.Second})
	require.ErrorIs(t, err, rabbitmq.ErrInvalidConfig)
	require.ErrorContains(t, err, "PollInterval")
}

// TestDriverChannelLossGivesBack: when the connection drops, the broker
// requeues what the driver held claimed; the driver's old receipts then do
// nothing, and the message is claimed again with a higher read count.
func TestDriverChannelLossGivesBack(t *testing.T) {
	dialer := &cutDialer{}
	c := newClient(t, func(cfg *rabbitmq.Config) { cfg.Dial = dialer.Dial })
	d, _ := newTestDriver(t, c)
	ctx := testCtx(t)
	q := newQueue(t, c)
	require.NoError(t, d.Send(ctx, q, 0, json.RawMessage(`{"n":1}`)))
	first := claimOne(t, d, q, messaging.ClaimOptions{N: 1, Visibility: time.Hour})
	require.Equal(t, 1, first.ReadCount)

	dialer.cut()
	eventually(t, "reconnected", func() bool { st := c.Status(); return st.Connected && st.Connects == 2 })
	again := claimOne(t, d, q, messaging.ClaimOptions{N: 1, Visibility: time.Hour})
	require.Equal(t, first.ID, again.ID)
	// The broker counts the delivery lost with the channel; it may also
	// count one to the driver's subscription, lost with the same
	// connection before the broker noticed (the message came back while
	// that channel was still closing).
	require.GreaterOrEqual(t, again.ReadCount, 2, "the broker counts the delivery lost with the channel")
	require.LessOrEqual(t, again.ReadCount, 3)
	require.NoError(t, d.Ack(ctx, q, messaging.ReceiptOf(first)), "a stale receipt does nothing")
	st, err := d.Stats(ctx, q)
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Depth, "the current claim holds the message")
	require.NoError(t, d.Ack(ctx, q, messaging.ReceiptOf(again)))
	st, err = d.Stats(ctx, q)
	require.NoError(t, err)
	require.Zero(t, st.Depth)
}

// TestDriverDropsSecondCopy: two copies of one message (a relay that
// published twice) are one message to the driver: the second is acked
// while the first is claimed.
func TestDriverDropsSecondCopy(t *testing.T) {
	c := newClient(t, nil)
	d, _ := newTestDriver(t, c)
	ctx := testCtx(t)
	q := newQueue(t, c)
	p := newPublisher(t, c)
	for range 2 {
		require.NoError(t, p.Publish(ctx, q, rabbitmq.Message{ID: 42, Payload: json.RawMessage(`{"n":42}`)}))
	}
	m := claimOne(t, d, q, messaging.ClaimOptions{N: 10, Visibility: time.Hour})
	require.Equal(t, int64(42), m.ID)
	none, err := d.Claim(ctx, q, messaging.ClaimOptions{N: 10, Visibility: time.Hour})
	require.NoError(t, err)
	require.Empty(t, none, "the copy was dropped")
	require.NoError(t, d.Ack(ctx, q, messaging.ReceiptOf(m)))
	st, err := d.Stats(ctx, q)
	require.NoError(t, err)
	require.Zero(t, st.Depth)
}

// TestDriverWorkWakesRelay: a committed unit of work that sent messages
// wakes the relay of its process, which publishes them at once (this
// relay would otherwise look only after an hour).
func TestDriverWorkWakesRelay(t *testing.T) {
	c := newClient(t, nil)
	d, st := newTestDriver(t, c)
	r, err := c.NewRelay(st, rabbitmq.RelayConfig{PollInterval: time.Hour})
	require.NoError(t, err)
	ctx := testCtx(t)
	q := newQueue(t, c)
	// A row committed before the relay started is published by its first
	// look; after that it sleeps.
	tx, err := st.Pool().Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, st.WriteOutboxTx(ctx, tx, store.OutboxWrite{Queue: q, Payload: json.RawMessage(`{"n":0}`)}))
	require.NoError(t, tx.Commit(ctx))
	startRelay(t, r)
	d.SetRelay(r)
	eventually(t, "the relay's first look done", func() bool { return r.Published() == 1 })
	w := d.NewWork()
	tx, err = st.Pool().Begin(ctx)
	require.NoError(t, err)
	b := &pgx.Batch{}
	require.NoError(t, w.Send(ctx, b, q, 0, []json.RawMessage{json.RawMessage(`{"n":7,"callable":"x"}`)}))
	require.NoError(t, tx.SendBatch(ctx, b).Close())
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, w.Finish(ctx, true))
	m := claimOne(t, d, q, messaging.ClaimOptions{N: 1, Visibility: time.Hour, Routes: []string{"x"}})
	require.JSONEq(t, `{"n":7,"callable":"x"}`, string(m.Payload))
	// The relay counts the row once its delete committed, which may be
	// after the claim took the message.
	eventually(t, "the relay counted the row", func() bool { return r.Published() == 2 })
}

// TestDriverWokenByAnnouncement: a relay announces the queues it published
// to; a driver of another process that listens wakes its subscribers and
// claims from the announced route queue between its sweeps (this one
// sweeps once an hour).
func TestDriverWokenByAnnouncement(t *testing.T) {
	c := newClient(t, nil)
	db := testdb.New(t)
	pool := db.Pool(t, 4)
	cc, err := pgx.ParseConfig(db.URL)
	require.NoError(t, err)
	l, err := pgnotify.New(pgnotify.Config{ConnConfig: cc})
	require.NoError(t, err)
	ctx := testCtx(t)
	require.NoError(t, l.Start(ctx))
	t.Cleanup(l.Stop)
	require.NoError(t, l.WaitReady(ctx))
	// Two processes: two clients.
	newDriver := func(c *rabbitmq.Client, listener *pgnotify.Listener) *rabbitmq.Driver {
		d, err := c.NewDriver(rabbitmq.DriverConfig{Pool: pool, Schema: db.Schema, Listener: listener, PollInterval: time.Hour})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, d.Close()) })
		return d
	}
	sender, receiver := newDriver(c, nil), newDriver(newClient(t, nil), l)
	st, err := store.New(store.Config{Pool: pool, Queue: sender, Schema: db.Schema})
	require.NoError(t, err)
	r, err := c.NewRelay(st, rabbitmq.RelayConfig{PollInterval: time.Hour, Announce: store.BrokerWakeChannel(db.Schema)})
	require.NoError(t, err)
	startRelay(t, r)
	sender.SetRelay(r)
	q := newQueue(t, c)

	wake, unsubscribe := receiver.Subscribe(q)
	defer unsubscribe()
	routed := messaging.ClaimOptions{N: 1, Visibility: time.Hour, Routes: []string{"late"}}
	none, err := receiver.Claim(ctx, q, routed) // the sweep: nothing yet
	require.NoError(t, err)
	require.Empty(t, none)

	w := sender.NewWork()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	b := &pgx.Batch{}
	require.NoError(t, w.Send(ctx, b, q, 0, []json.RawMessage{json.RawMessage(`{"n":1,"callable":"late"}`)}))
	require.NoError(t, tx.SendBatch(ctx, b).Close())
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, w.Finish(ctx, true))
	select {
	case <-wake:
	case <-time.After(30 * time.Second):
		t.Fatal("no wake-up from the relay's announcement")
	}
	got, err := receiver.Claim(ctx, q, routed)
	require.NoError(t, err)
	require.Len(t, got, 1, "the announced route queue is read between sweeps")
	require.JSONEq(t, `{"n":1,"callable":"late"}`, string(got[0].Payload))
}

// TestDriverDeadLettersPastMaxDeliveries: a message delivered more often
// than MaxDeliveries goes to its dead-letter queue instead of being
// claimed again.
func TestDriverDeadLettersPastMaxDeliveries(t *testing.T) {
	c := newClient(t, nil)
	db := testdb.New(t)
	d, err := c.NewDriver(rabbitmq.DriverConfig{Pool: db.Pool(t, 2), MaxDeliveries: 2})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	ctx := testCtx(t)
	q := newQueue(t, c)
	require.NoError(t, d.Send(ctx, q, 0, json.RawMessage(`{"n":1}`)))
	for reads := 1; reads <= 2; reads++ {
		m := claimOne(t, d, q, messaging.ClaimOptions{N: 1, Visibility: time.Hour})
		require.Equal(t, reads, m.ReadCount)
		require.NoError(t, d.Nack(ctx, q, 0, messaging.ReceiptOf(m)))
	}
	eventually(t, "dead-lettered", func() bool {
		got, err := d.Claim(ctx, q, messaging.ClaimOptions{N: 1, Visibility: time.Hour})
		require.NoError(t, err)
		require.Empty(t, got, "the third delivery is not claimed")
		st, err := c.Stats(ctx, rabbitmq.DLQName(q))
		require.NoError(t, err)
		return st.Ready == 1
	})
}

// TestDriverStatsDatesWhatItCan: Stats counts and dates the committed sends
// still in the outbox and the messages the driver holds claimed; a ready
// message in the broker is counted but not dated (reading its age would
// take it off the queue).
func TestDriverStatsDatesWhatItCan(t *testing.T) {
	c := newClient(t, nil)
	d, st := newTestDriver(t, c)
	q := newQueue(t, c)
	ctx := testCtx(t)

	tx, err := st.Pool().Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, st.WriteOutboxTx(ctx, tx, store.OutboxWrite{Queue: q, Payload: json.RawMessage(`{"n":1}`)}))
	require.NoError(t, tx.Commit(ctx))
	_, err = st.Pool().Exec(ctx, `UPDATE message_outbox SET created_at = now() - interval '90 seconds' WHERE queue = $1`, q)
	require.NoError(t, err)
	s, err := d.Stats(ctx, q)
	require.NoError(t, err)
	require.Equal(t, int64(1), s.Depth, "the unpublished outbox row is a message of the queue")
	require.Zero(t, s.Visible, "not in the broker yet")
	require.GreaterOrEqual(t, s.OldestAge, 90*time.Second)
	require.Less(t, s.OldestAge, time.Hour)
	_, err = st.Pool().Exec(ctx, `DELETE FROM message_outbox WHERE queue = $1`, q)
	require.NoError(t, err)

	// A message first sent ten minutes ago (a copy keeps its timestamp).
	sent := time.Now().Add(-10 * time.Minute)
	require.NoError(t, newPublisher(t, c).Publish(ctx, q, rabbitmq.Message{ID: 7, Payload: json.RawMessage(`{"n":2}`), Timestamp: sent}))
	eventually(t, "the message is ready", func() bool {
		s, err = d.Stats(ctx, q)
		require.NoError(t, err)
		return s.Visible == 1
	})
	require.Equal(t, int64(1), s.Depth)
	require.Zero(t, s.OldestAge, "a ready message in the broker is not dated")

	m := claimOne(t, d, q, messaging.ClaimOptions{N: 1, Visibility: time.Minute})
	s, err = d.Stats(ctx, q)
	require.NoError(t, err)
	require.Equal(t, int64(1), s.Depth, "claimed by this driver")
	require.Zero(t, s.Visible)
	require.GreaterOrEqual(t, s.OldestAge, 10*time.Minute-time.Second, "dated from its first send")
	require.NoError(t, d.Ack(ctx, q, messaging.ReceiptOf(m)))
	s, err = d.Stats(ctx, q)
	require.NoError(t, err)
	require.Equal(t, messaging.Stats{Queue: q}, s)
}

// TestDriverFeedHoldsOnlyItsClaimersSlots: after a claim, the broker
// pushes the claimer's queue to it ahead of its next claim, but no more
// than that claim's N: the rest stays in the broker for other processes,
// and the next claim takes the pushed messages.
func TestDriverFeedHoldsOnlyItsClaimersSlots(t *testing.T) {
	c := newClient(t, nil)
	a, _ := newTestDriver(t, c)
	b, _ := newTestDriver(t, c)
	q := newQueue(t, c)
	ctx := testCtx(t)
	var ps []json.RawMessage
	for i := range 50 {
		ps = append(ps, json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)))
	}
	require.NoError(t, a.Send(ctx, q, 0, ps...))
	first, err := a.Claim(ctx, q, messaging.ClaimOptions{N: 5, Visibility: time.Hour})
	require.NoError(t, err)
	require.Len(t, first, 5)
	// a's feed takes up to 5 more; the broker keeps the other 40 ready.
	eventually(t, "a's feed filled", func() bool {
		st, err := c.Stats(ctx, q)
		require.NoError(t, err)
		return st.Ready == 40
	})
	st, err := c.Stats(ctx, q)
	require.NoError(t, err)
	require.Equal(t, 40, st.Ready, "a holds no more than its claim asked for")
	aStats, err := a.Stats(ctx, q)
	require.NoError(t, err)
	require.Equal(t, int64(50), aStats.Depth)
	require.Equal(t, int64(45), aStats.Visible, "the 40 ready in the broker and the 5 at hand")

	var taken []messaging.Message
	eventually(t, "b took the rest", func() bool {
		ms, err := b.Claim(ctx, q, messaging.ClaimOptions{N: 50, Visibility: time.Hour})
		require.NoError(t, err)
		taken = append(taken, ms...)
		return len(taken) == 40
	})
	second, err := a.Claim(ctx, q, messaging.ClaimOptions{N: 5, Visibility: time.Hour})
	require.NoError(t, err)
	require.Len(t, second, 5, "a's next claim takes what its feed holds")
	seen := map[int64]bool{}
	for _, m := range slices.Concat(first, second, taken) {
		require.False(t, seen[m.ID], "message %d claimed twice", m.ID)
		seen[m.ID] = true
		require.Equal(t, 1, m.ReadCount)
	}
	require.Len(t, seen, 50)
}

// TestDriverFeedGivesBackWhenIdle: a process that stops claiming a queue
// does not keep the messages its feed holds: after one visibility timeout
// of its last claim they go back to the broker, where another process
// claims them.
func TestDriverFeedGivesBackWhenIdle(t *testing.T) {
	c := newClient(t, nil)
	a, _ := newTestDriver(t, c)
	b, _ := newTestDriver(t, c)
	q := newQueue(t, c)
	ctx := testCtx(t)
	var ps []json.RawMessage
	for i := range 10 {
		ps = append(ps, json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)))
	}
	require.NoError(t, a.Send(ctx, q, 0, ps...))
	got, err := a.Claim(ctx, q, messaging.ClaimOptions{N: 3, Visibility: 300 * time.Millisecond})
	require.NoError(t, err)
	require.Len(t, got, 3)
	// Neither acked nor claimed again: the claims lapse, the feed goes
	// idle and everything returns to the broker.
	eventually(t, "all ten back in the broker", func() bool {
		st, err := c.Stats(ctx, q)
		require.NoError(t, err)
		return st.Ready == 10
	})
	var taken []messaging.Message
	eventually(t, "b took them all", func() bool {
		ms, err := b.Claim(ctx, q, messaging.ClaimOptions{N: 10, Visibility: time.Hour})
		require.NoError(t, err)
		taken = append(taken, ms...)
		return len(taken) == 10
	})
	for _, m := range taken {
		require.LessOrEqual(t, m.ReadCount, 3, "message %d: delivered to a's claim or feed once, and given back", m.ID)
	}
}
