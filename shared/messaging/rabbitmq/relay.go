package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/store"
)

// RelayConfig configures a Relay.
type RelayConfig struct {
	// BatchSize is the most outbox rows one run publishes (one transaction,
	// one round of confirms). Default 100.
	BatchSize int
	// PollInterval is the fallback check for rows when no wake-up came (a
	// lost notification). Default 5s.
	PollInterval time.Duration
	// RunTimeout bounds one run (read, publish with confirms, delete).
	// Default 30s.
	RunTimeout time.Duration
	// Wake, when set, signals that rows may have been written (subscribe it
	// to store.OutboxChannel with a pgnotify listener).
	Wake <-chan struct{}
	// Announce, when set, is the NOTIFY channel on which each run announces
	// the queues it published to, when its delete commits
	// (store.BrokerWakeChannel: drivers listening there wake their
	// consumers; see Driver).
	Announce string
	Logger   *slog.Logger
}

func (c *RelayConfig) setDefaults() {
	if c.BatchSize == 0 {
		c.BatchSize = 100
	}
	if c.PollInterval == 0 {
		c.PollInterval = 5 * time.Second
	}
	if c.RunTimeout == 0 {
		c.RunTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Relay publishes the PostgreSQL message outbox to the broker. Each run
// takes due rows (FOR UPDATE SKIP LOCKED, so several relays share the work),
// publishes them with confirms and deletes them in the same transaction. A
// relay that dies, or fails to publish, between the confirm and the commit
// leaves the rows to be published again: a message may reach its queue
// twice, never not at all. Rows are held back until their deliver_at, which
// makes the outbox the exact path for delays.
//
// It runs while rows are due, then sleeps until the next row is due, a
// wake-up, or PollInterval. Start and Stop follow the project's shape.
type Relay struct {
	store *store.Store
	pub   *Publisher
	cfg   RelayConfig
	log   *slog.Logger
	// kick wakes the loop (Wake).
	kick chan struct{}
	// published counts the rows published (tests, metrics).
	published atomic.Int64

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewRelay returns a relay that publishes st's outbox through c on a
// publisher of its own.
func (c *Client) NewRelay(st *store.Store, cfg RelayConfig) (*Relay, error) {
	cfg.setDefaults()
	if cfg.BatchSize < 1 || cfg.PollInterval < 0 || cfg.RunTimeout < 0 {
		return nil, fmt.Errorf("%w: relay BatchSize must be positive and intervals not negative", ErrInvalidConfig)
	}
	if st == nil {
		return nil, fmt.Errorf("%w: relay needs a store", ErrInvalidConfig)
	}
	return &Relay{store: st, pub: c.NewPublisher(), cfg: cfg, log: cfg.Logger, kick: make(chan struct{}, 1)}, nil
}

// Published counts the outbox rows this relay published and deleted.
func (r *Relay) Published() int64 { return r.published.Load() }

// Wake makes the relay look for rows now (call it after committing rows
// when no notification listener feeds RelayConfig.Wake).
func (r *Relay) Wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Start runs the relay in the background.
func (r *Relay) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done != nil {
		return errors.New("relay already started")
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	r.done = make(chan struct{})
	go r.run(runCtx)
	return nil
}

// Stop stops the relay, waiting for a run in progress (up to ctx).
func (r *Relay) Stop(ctx context.Context) error {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return r.pub.Close()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Relay) run(ctx context.Context) {
	defer close(r.done)
	failures := time.Duration(0)
	for {
		// Hold no rows while the broker is away.
		if r.pub.c.WaitConnected(ctx) != nil {
			return
		}
		n, err := r.RunOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		var wait time.Duration
		switch {
		case err != nil:
			r.log.Warn("outbox relay run failed", "err", err)
			failures = nextBackoff(failures, 100*time.Millisecond, r.cfg.PollInterval)
			wait = failures
		case n == r.cfg.BatchSize:
			failures = 0
			continue // more may be due
		default:
			failures = 0
			wait = r.untilNextDue(ctx)
		}
		if !r.sleep(ctx, wait) {
			return
		}
	}
}

// untilNextDue is how long to sleep: until the next row is due, at most
// PollInterval.
func (r *Relay) untilNextDue(ctx context.Context) time.Duration {
	at, ok, err := r.store.NextOutboxDue(ctx)
	if err != nil || !ok {
		return r.cfg.PollInterval
	}
	return min(max(time.Until(at), 0), r.cfg.PollInterval)
}

func (r *Relay) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-r.kick:
	case <-r.cfg.Wake:
	}
	return true
}

// RunOnce publishes one batch of due rows and reports how many.
func (r *Relay) RunOnce(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.RunTimeout)
	defer cancel()
	n, err := r.store.RelayOutboxAnnouncing(ctx, r.cfg.BatchSize, r.cfg.Announce, r.publish)
	r.published.Add(int64(n))
	return n, err
}

// publish publishes rows grouped by target (the queue, or the route queue
// of a routed message: see RouteQueue), in order within each target.
func (r *Relay) publish(ctx context.Context, rows []store.OutboxMessage) ([]string, error) {
	type target struct{ queue, route string }
	var order []target
	byTarget := map[target][]Message{}
	for _, row := range rows {
		t := target{row.Queue, RouteOf(row.Payload)}
		if _, ok := byTarget[t]; !ok {
			order = append(order, t)
		}
		byTarget[t] = append(byTarget[t], Message{ID: row.ID, Payload: row.Payload, Timestamp: row.CreatedAt})
	}
	c := r.pub.c
	announce := make([]string, 0, len(order))
	for _, t := range order {
		if err := messaging.ValidateQueueName(t.queue); err != nil {
			return nil, err
		}
		name := t.queue
		if t.route != "" {
			// Declared once per client: a route queue must exist before
			// its first message, or the message would come back.
			var err error
			if name, err = c.DeclareRoute(ctx, t.queue, t.route); err != nil {
				return nil, err
			}
		}
		err := r.pub.publish(ctx, name, byTarget[t]...)
		if errors.Is(err, ErrUnroutable) {
			// The queue does not exist yet (or was deleted): every message
			// to it came back. Declare it and publish again.
			derr := c.DeclareQueue(ctx, t.queue)
			if derr == nil && t.route != "" {
				c.forgetRoute(t.queue, t.route)
				_, derr = c.DeclareRoute(ctx, t.queue, t.route)
			}
			if derr != nil {
				return nil, fmt.Errorf("%w (declaring it: %w)", err, derr)
			}
			err = r.pub.publish(ctx, name, byTarget[t]...)
		}
		if err != nil {
			return nil, err
		}
		announce = append(announce, wakePayload(t.queue, name))
	}
	return announce, nil
}

// wakePayload is the announcement that target (queue itself or one of its
// route queues) received messages: "queue target".
func wakePayload(queue, target string) string { return queue + " " + target }
