package rabbitmq_test

import (
	"context"
	"encoding/json"
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
