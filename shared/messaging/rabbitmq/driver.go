package rabbitmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/pgnotify"
	"github.com/tasker-go/tasker/shared/store"
)

// DriverConfig configures a Driver.
type DriverConfig struct {
	// Pool is the Tasker database: a Work's sends write outbox rows in the
	// store's transaction, and NextVisible reads the rows held back for
	// their delay. Required.
	Pool *pgxpool.Pool
	// Schema is the Tasker schema: Work's outbox writes notify
	// store.OutboxChannel(Schema) so that relays wake at once ("" sends no
	// notification: relays find the rows on their poll).
	Schema string
	// Listener, when set, receives the relays' announcements of the queues
	// they published to (store.BrokerWakeChannel(Schema); see
	// RelayConfig.Announce): subscribers wake at once, and claims read the
	// queues announced. Without it, messages other processes send are
	// found by the fallback sweep only.
	Listener *pgnotify.Listener
	// PollInterval is the fallback sweep: this often a subscription is
	// woken and the next claim reads every queue it covers, also those it
	// found empty before and heard nothing of since (see Claim). Default
	// 500ms.
	PollInterval time.Duration
	// MaxDeliveries dead-letters a message delivered more often than this
	// (its ReadCount above it) into {queue}_dlq instead of claiming it: a
	// message that kills or stalls its claimer every time stops
	// circulating. 0 means no limit.
	MaxDeliveries int
	// Logger; default the client's.
	Logger *slog.Logger
}

// DefaultDriverPollInterval is DriverConfig.PollInterval's default.
const DefaultDriverPollInterval = 500 * time.Millisecond

// Driver is the RabbitMQ queue backend: a messaging.Driver over a Client.
//
// Claims are synchronous gets (basic.get with manual acks) on one channel
// of the driver's: a claim takes what the queue holds now, at most N, and
// never holds messages it did not return (a prefetching consumer would keep
// a window of messages out of other processes' reach while no claim asks
// for them). A claimed message stays unacknowledged on that channel, under
// a lease: Ack acks it, Nack requeues it (or, with a delay, re-publishes a
// copy through the delay buckets and acks it), Extend moves the lease's
// deadline, and a lease whose deadline passes requeues its message, which
// the broker then delivers again with a higher delivery count. When the
// channel closes (a dropped connection, a broker restart) the broker
// requeues every message claimed on it; their receipts then do nothing.
//
// Message ids: messages sent by Send get ids that increase with the time of
// their send; messages the outbox relay publishes carry their outbox row
// id. A copy of a message (a nack with delay, a relay that published twice)
// keeps its id: the driver acks a second copy it is handed while the first
// is claimed, since both are the same message.
type Driver struct {
	c   *Client
	cfg DriverConfig
	log *slog.Logger
	pub *Publisher
	// relay, when set, is woken after a Work's committed sends.
	relay atomic.Pointer[Relay]
	// lastID is the last id Send gave a message.
	lastID atomic.Int64

	mu      sync.Mutex // guards what follows; held for the channel's calls
	ch      *amqp.Channel
	feeds   map[string]*feed // broker queue → the subscription claims read first
	leases  map[leaseKey]*lease
	delayed map[string][]time.Time // queue → due times of this driver's delayed sends
	rot     int                    // rotates the order in which a claim reads its queues

	feedWG    sync.WaitGroup // the feeds' readers
	subMu     sync.Mutex
	subs      map[string]map[chan struct{}]struct{}
	subWG     sync.WaitGroup
	done      chan struct{} // closed by Close: the subscription polls end
	closeOnce sync.Once
	announced *pgnotify.Subscription

	// hints say which broker queues a claim may skip (see Claim).
	hintMu  sync.Mutex
	hints   map[string]*hint
	sweepAt map[string]time.Time // work queue → next full sweep
	timers  map[*time.Timer]struct{}
}

// hint is what the driver knows of one broker queue: found empty by a get,
// and nothing announced or sent to it since (ver counts the news).
type hint struct {
	empty bool
	ver   uint64
}

type leaseKey struct {
	queue string
	id    int64
}

// lease is one claimed message, unacknowledged on the driver's channel.
type lease struct {
	ch        *amqp.Channel
	tag       uint64
	target    string // the queue it came from: the work queue or a route queue
	readCount int
	payload   json.RawMessage
	enqueued  time.Time
	deadline  time.Time
	timer     *time.Timer
}

var _ messaging.Driver = (*Driver)(nil)

// NewDriver returns the driver of c's broker. Start c first; Close the
// driver before stopping c.
func (c *Client) NewDriver(cfg DriverConfig) (*Driver, error) {
	if cfg.Pool == nil {
		return nil, fmt.Errorf("%w: the driver needs the Tasker database pool", ErrInvalidConfig)
	}
	if cfg.MaxDeliveries < 0 {
		return nil, fmt.Errorf("%w: driver MaxDeliveries must not be negative, got %d", ErrInvalidConfig, cfg.MaxDeliveries)
	}
	if cfg.PollInterval < 0 {
		return nil, fmt.Errorf("%w: driver PollInterval must not be negative, got %s", ErrInvalidConfig, cfg.PollInterval)
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultDriverPollInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = c.log
	}
	d := &Driver{c: c, cfg: cfg, log: cfg.Logger, pub: c.NewPublisher(),
		leases: map[leaseKey]*lease{}, feeds: map[string]*feed{}, delayed: map[string][]time.Time{},
		subs: map[string]map[chan struct{}]struct{}{}, done: make(chan struct{}),
		hints: map[string]*hint{}, sweepAt: map[string]time.Time{}, timers: map[*time.Timer]struct{}{}}
	if cfg.Listener != nil && cfg.Schema != "" {
		d.announced = cfg.Listener.SubscribeFunc(store.BrokerWakeChannel(cfg.Schema), "", func(n pgnotify.Notification) {
			queue, target, ok := strings.Cut(n.Payload, " ")
			if !ok {
				return
			}
			if target != queue {
				d.c.noteRoute(queue, target)
			}
			d.news(queue, target)
		})
	}
	return d, nil
}

// routeRecheck is how long a route queue the broker said was missing is
// taken as missing by the sweeps (ten fallback sweeps, at least 5 s).
func (d *Driver) routeRecheck() time.Duration {
	return max(10*d.cfg.PollInterval, 5*time.Second)
}

// news notes that target (queue or one of its route queues) may hold
// messages, and wakes queue's subscribers.
func (d *Driver) news(queue, target string) {
	d.hintMu.Lock()
	h := d.hints[target]
	if h == nil {
		h = &hint{}
		d.hints[target] = h
	}
	h.empty = false
	h.ver++
	d.hintMu.Unlock()
	d.wake(queue)
}

// newsAfter calls news after delay (a delayed message's due time), unless
// the driver closed.
func (d *Driver) newsAfter(delay time.Duration, queue, target string) {
	d.hintMu.Lock()
	defer d.hintMu.Unlock()
	if d.closed() {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(delay, func() {
		d.hintMu.Lock()
		delete(d.timers, t)
		d.hintMu.Unlock()
		d.news(queue, target)
	})
	d.timers[t] = struct{}{}
}

func (d *Driver) closed() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// SetRelay makes the driver wake r after a unit of work committed sends
// (the relay of the same process publishes them at once instead of on its
// next wake-up or poll).
func (d *Driver) SetRelay(r *Relay) { d.relay.Store(r) }

// Close ends the subscriptions and closes the claim channel: the broker
// requeues every message still claimed.
func (d *Driver) Close() error {
	d.closeOnce.Do(func() { close(d.done) })
	if d.announced != nil {
		d.announced.Close()
	}
	d.subWG.Wait()
	d.hintMu.Lock()
	for t := range d.timers {
		t.Stop()
		delete(d.timers, t)
	}
	d.hintMu.Unlock()
	d.mu.Lock()
	d.dropLeases(nil)
	for target, f := range d.feeds {
		f.close()
		delete(d.feeds, target)
	}
	if d.ch != nil {
		_ = d.ch.Close()
		d.ch = nil
	}
	d.mu.Unlock()
	d.feedWG.Wait()
	return d.pub.Close()
}

// Ensure declares queue and its dead-letter queue.
func (d *Driver) Ensure(ctx context.Context, queue string) error {
	return d.c.DeclareQueue(ctx, queue)
}

// nextID returns an id larger than every id this driver gave before, and
// not below the current time in nanoseconds (ids of several senders
// interleave by send time).
func (d *Driver) nextID() int64 {
	for {
		last := d.lastID.Load()
		id := max(last+1, time.Now().UnixNano())
		if d.lastID.CompareAndSwap(last, id) {
			return id
		}
	}
}

// Send publishes payloads with publisher confirms: they are in the broker
// when Send returns. A delay goes through the delay buckets. A payload
// naming a route goes to its route queue.
func (d *Driver) Send(ctx context.Context, queue string, delay time.Duration, payloads ...json.RawMessage) error {
	if err := messaging.ValidateQueueName(queue); err != nil {
		return err
	}
	byTarget := map[string][]Message{}
	var order []string
	now := time.Now()
	for _, p := range payloads {
		target := queue
		if route := RouteOf(p); route != "" {
			var err error
			if target, err = d.c.DeclareRoute(ctx, queue, route); err != nil {
				return err
			}
		}
		if _, ok := byTarget[target]; !ok {
			order = append(order, target)
		}
		byTarget[target] = append(byTarget[target], Message{ID: d.nextID(), Payload: p, Delay: delay, Timestamp: now})
	}
	for _, target := range order {
		if err := d.pub.publish(ctx, target, byTarget[target]...); err != nil {
			return err
		}
		if delay > 0 {
			d.newsAfter(delay, queue, target)
		} else {
			d.news(queue, target)
		}
	}
	if delay > 0 {
		d.mu.Lock()
		for range payloads {
			d.delayed[queue] = append(d.delayed[queue], now.Add(delay))
		}
		d.mu.Unlock()
	}
	return nil
}

// channel returns the open claim channel, opening one if needed. When the
// channel closed, its leases are void (the broker requeued their messages).
// Called with d.mu held.
func (d *Driver) channel(ctx context.Context) (*amqp.Channel, error) {
	if d.closed() {
		return nil, ErrClosed
	}
	if d.ch != nil && !d.ch.IsClosed() {
		return d.ch, nil
	}
	if d.ch != nil {
		d.dropLeases(d.ch)
	}
	ch, err := d.c.channel(ctx)
	if err != nil {
		return nil, err
	}
	d.ch = ch
	return ch, nil
}

// dropLeases forgets the leases of messages claimed on ch (every lease when
// ch is nil): their channel is gone. Called with d.mu held.
func (d *Driver) dropLeases(ch *amqp.Channel) {
	for k, l := range d.leases {
		if ch == nil || l.ch == ch {
			l.timer.Stop()
			delete(d.leases, k)
		}
	}
}

// Claim takes up to o.N ready messages and leases them for o.Visibility.
// Unrouted, it reads the work queue and the route queues this client
// declared; routed, only the queues of o.Routes. Each queue is read oldest
// first; a claim over several queues reads them in turn, one message each
// round, starting with a different queue each claim, and returns what it
// took ordered by id.
func (d *Driver) Claim(ctx context.Context, queue string, o messaging.ClaimOptions) ([]messaging.Message, error) {
	if err := messaging.ValidateQueueName(queue); err != nil {
		return nil, err
	}
	if o.N <= 0 || (o.Routes != nil && len(o.Routes) == 0) {
		return nil, nil
	}
	sweep := d.sweep(queue)
	var targets []string
	if o.Routes == nil {
		targets = append([]string{queue}, d.c.knownRoutes(queue)...)
	} else {
		for _, r := range o.Routes {
			name := RouteQueue(queue, r)
			if slices.Contains(targets, name) {
				continue
			}
			known := d.c.knownRoute(queue, name)
			if !known && sweep {
				var err error
				if known, err = d.c.routeExists(ctx, queue, name, d.routeRecheck()); err != nil {
					return nil, err
				}
			}
			if known {
				targets = append(targets, name)
			}
		}
	}
	// all are the queues the claim covers (their feeds are read); targets
	// those of them worth a get.
	all := slices.Clone(targets)
	if !sweep {
		targets = d.worthReading(targets)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed() {
		return nil, ErrClosed
	}
	if len(all) > 1 {
		d.rot++
		k := d.rot % len(all)
		all = append(all[k:], all[:k]...)
		if len(targets) > 1 {
			k = d.rot % len(targets)
			targets = append(targets[k:], targets[:k]...)
		}
	}
	now := time.Now()
	took := map[string]bool{}
	news := map[string]bool{}    // queues with news since their feed's last sync
	drained := map[string]bool{} // queues a get found empty
	var out []messaging.Message
	// First what the feeds hold (no round trip), a message of each queue
	// per round.
	fed := slices.Clone(all)
	for len(out) < o.N && len(fed) > 0 {
		active := fed[:0]
		for _, target := range fed {
			if len(out) == o.N {
				break
			}
			f := d.feeds[target]
			if f == nil {
				continue
			}
			ver := d.version(target)
			if f.synced != ver {
				news[target] = true
			}
			if err := f.sync(ver, false); err != nil {
				d.log.Warn("rabbitmq claim subscription failed; claiming with gets meanwhile", "queue", target, "err", err)
				continue
			}
			m, ok, err := d.takeFed(ctx, f, queue, target, o.Visibility)
			if err != nil {
				return d.giveBack(out, fmt.Errorf("claiming from %s: %w", target, err))
			}
			if ok {
				out = append(out, m)
				active = append(active, target)
				took[target] = true
			}
		}
		fed = active
	}
	// Then gets for the rest, of the queues that may hold more (the
	// feeds hold only what the broker pushed them so far).
	if len(out) < o.N && len(targets) > 0 {
		ch, err := d.channel(ctx)
		if err != nil {
			return d.giveBack(out, err)
		}
		gets := slices.Clone(targets)
		for len(out) < o.N && len(gets) > 0 {
			active := gets[:0]
			for _, target := range gets {
				if len(out) == o.N {
					break
				}
				ver := d.version(target)
				m, ok, err := d.get(ctx, ch, queue, target, o.Visibility)
				if err != nil {
					return d.giveBack(out, fmt.Errorf("claiming from %s: %w", target, err))
				}
				if ok {
					out = append(out, m)
					active = append(active, target)
					took[target] = true
				} else {
					d.foundEmpty(target, ver)
					drained[target] = true
				}
			}
			gets = active
		}
	}
	// A message sent just before the claim that the broker handed a feed
	// while the get looked: it was on its way before the get's answer, so
	// it is in the pool once another round trip on the feed's channel
	// returns.
	for _, target := range all {
		f := d.feeds[target]
		if len(out) == o.N || f == nil || !news[target] || !drained[target] {
			continue
		}
		if f.sync(f.synced, true) != nil {
			continue
		}
		for len(out) < o.N {
			m, ok, err := d.takeFed(ctx, f, queue, target, o.Visibility)
			if err != nil {
				return d.giveBack(out, fmt.Errorf("claiming from %s: %w", target, err))
			}
			if !ok {
				break
			}
			out = append(out, m)
			took[target] = true
		}
	}
	d.feedClaims(ctx, queue, all, took, o, now)
	slices.SortStableFunc(out, func(a, b messaging.Message) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out, nil
}

// feedClaims keeps the feeds of a claim's queues going (see feed): every
// queue the claim read that has a feed keeps it, and a queue it took
// messages from gets one, with a prefetch of the claim's N when that is
// more than the feed has. A feed that cannot be opened is logged, and the
// claims get the queue's messages one by one meanwhile. Called with d.mu
// held.
func (d *Driver) feedClaims(ctx context.Context, queue string, targets []string, took map[string]bool, o messaging.ClaimOptions, now time.Time) {
	hold := max(o.Visibility, d.cfg.PollInterval)
	for _, target := range targets {
		f := d.feeds[target]
		if f != nil && f.ch.IsClosed() {
			d.dropLeases(f.ch)
			f.close()
			delete(d.feeds, target)
			f = nil
		}
		var err error
		switch {
		case f == nil && took[target]:
			if f, err = d.openFeed(ctx, queue, target, o.N); err == nil {
				d.feeds[target] = f
			}
		case f == nil:
		case f.tag == "":
			err = f.subscribe(max(f.prefetch, o.N))
		case f.tag != "" && o.N > f.prefetch:
			err = f.grow(o.N)
		}
		if err != nil {
			d.log.Warn("rabbitmq claim subscription failed; claiming with gets meanwhile", "queue", target, "err", err)
			if f != nil && d.feeds[target] == f && f.tag == "" {
				f.close()
				delete(d.feeds, target)
			}
			continue
		}
		if f != nil {
			f.touch(now, hold)
		}
	}
}

// requeued notes that messages went back to target.
func (d *Driver) requeued(target string) {
	d.hintMu.Lock()
	defer d.hintMu.Unlock()
	if h := d.hints[target]; h != nil {
		h.empty = false
		h.ver++
	}
}

// sweep reports whether this claim of queue is a sweep (at most one every
// PollInterval per work queue): a sweep reads every queue the claim covers
// and looks for route queues not known yet, so that messages that arrive
// unannounced (sent by a process without a relay's announcement, released
// by a delay bucket, given back by another process) are found.
func (d *Driver) sweep(queue string) bool {
	d.hintMu.Lock()
	defer d.hintMu.Unlock()
	now := time.Now()
	if now.Before(d.sweepAt[queue]) {
		return false
	}
	d.sweepAt[queue] = now.Add(d.cfg.PollInterval)
	return true
}

// worthReading drops from targets the broker queues found empty with no
// news since.
func (d *Driver) worthReading(targets []string) []string {
	d.hintMu.Lock()
	defer d.hintMu.Unlock()
	out := targets[:0]
	for _, t := range targets {
		if h := d.hints[t]; h == nil || !h.empty {
			out = append(out, t)
		}
	}
	return out
}

// version is target's news count, read before a get.
func (d *Driver) version(target string) uint64 {
	d.hintMu.Lock()
	defer d.hintMu.Unlock()
	if h := d.hints[target]; h != nil {
		return h.ver
	}
	return 0
}

// foundEmpty notes that a get found target empty, unless news came while
// it ran.
func (d *Driver) foundEmpty(target string, ver uint64) {
	d.hintMu.Lock()
	defer d.hintMu.Unlock()
	h := d.hints[target]
	if h == nil {
		h = &hint{}
		d.hints[target] = h
	}
	if h.ver == ver {
		h.empty = true
	}
}

// giveBack requeues what a failed claim took and returns err. Called with
// d.mu held.
func (d *Driver) giveBack(msgs []messaging.Message, err error) ([]messaging.Message, error) {
	for _, m := range msgs {
		if rerr := d.requeue(leaseKey{m.Queue, m.ID}); rerr != nil {
			// Its channel is failing: the broker requeues it when the
			// channel closes.
			d.log.Warn("giving back a claimed message failed", "queue", m.Queue, "id", m.ID, "err", rerr)
		}
	}
	return nil, err
}

// requeue gives the message of key's lease back at once: to the pool of
// its queue's feed while the feed is subscribed and the message's channel
// open (see feed), else to the broker. Called with d.mu held.
func (d *Driver) requeue(key leaseKey) error {
	l := d.leases[key]
	if l == nil {
		return nil
	}
	if f := d.feeds[l.target]; f != nil && f.tag != "" && !l.ch.IsClosed() {
		l.timer.Stop()
		delete(d.leases, key)
		f.giveBack(held{id: key.id, ch: l.ch, tag: l.tag, body: l.payload, ts: l.enqueued, reads: l.readCount})
		return nil
	}
	err := d.settle(key, func(l *lease) error { return l.ch.Nack(l.tag, false, true) })
	// Not d.news: subscribers are woken by the caller, outside d.mu.
	d.requeued(l.target)
	return err
}

// get takes one message of target and leases it. Messages that came early
// out of a delay bucket are sent on, and a second copy of a message already
// leased is acked, without being returned; get then tries the next message.
// Called with d.mu held.
func (d *Driver) get(ctx context.Context, ch *amqp.Channel, queue, target string, vt time.Duration) (messaging.Message, bool, error) {
	for {
		raw, ok, err := ch.Get(target, false)
		if err != nil || !ok {
			return messaging.Message{}, false, err
		}
		m, ok, err := d.accept(ctx, heldOf(ch, raw), queue, target, vt)
		if err != nil || ok {
			return m, ok, err
		}
	}
}

// takeFed takes one buffered message of f and leases it, as get does with
// the broker's next message. Called with d.mu held.
func (d *Driver) takeFed(ctx context.Context, f *feed, queue, target string, vt time.Duration) (messaging.Message, bool, error) {
	for {
		raw, ok := f.take()
		if !ok {
			return messaging.Message{}, false, nil
		}
		m, ok, err := d.accept(ctx, raw, queue, target, vt)
		if err != nil || ok {
			return m, ok, err
		}
	}
}

// accept leases h, a message delivered from target, and returns it; false
// when it was not for a claimer (sent on through a delay bucket,
// dead-lettered, or a second copy of a leased message, acked). Called with
// d.mu held.
func (d *Driver) accept(ctx context.Context, h held, queue, target string, vt time.Duration) (messaging.Message, bool, error) {
	id, ch := h.id, h.ch
	reads := h.reads + 1
	if h.reads == 0 {
		reads = headerInt(h.headers, headerDeliveries) + headerInt(h.headers, brokerDeliveryCount) + 1
	}
	if ms := headerInt(h.headers, headerDueAt); ms > 0 {
		due := time.UnixMilli(int64(ms))
		if time.Until(due) > DueSlack {
			if err := d.pub.publish(ctx, target, Message{ID: id, Payload: h.body, Timestamp: h.ts,
				deliveries: reads - 1, dueAt: due}); err != nil {
				_ = ch.Nack(h.tag, false, true)
				return messaging.Message{}, false, err
			}
			if err := ch.Ack(h.tag, false); err != nil {
				return messaging.Message{}, false, err
			}
			return messaging.Message{}, false, nil
		}
		// Early by less than the slack (a bucket released it a moment
		// before its due time, which the header holds to the millisecond):
		// not worth a hop, but not handed out early either.
		if early := time.Until(due.Add(time.Millisecond)); early > 0 {
			time.Sleep(early)
		}
	}
	if d.cfg.MaxDeliveries > 0 && reads > d.cfg.MaxDeliveries {
		d.log.Warn("rabbitmq message dead-lettered after too many deliveries",
			"queue", queue, "id", id, "deliveries", reads-1, "max", d.cfg.MaxDeliveries)
		if err := ch.Reject(h.tag, false); err != nil {
			return messaging.Message{}, false, err
		}
		return messaging.Message{}, false, nil
	}
	key := leaseKey{queue, id}
	if _, dup := d.leases[key]; dup {
		if err := ch.Ack(h.tag, false); err != nil {
			return messaging.Message{}, false, err
		}
		return messaging.Message{}, false, nil
	}
	now := time.Now()
	l := &lease{ch: ch, tag: h.tag, target: target, readCount: reads,
		payload: json.RawMessage(h.body), enqueued: h.ts, deadline: now.Add(vt)}
	l.timer = time.AfterFunc(vt, func() { d.expire(key, l) })
	d.leases[key] = l
	return messaging.Message{ID: id, Queue: queue, Payload: l.payload, ReadCount: reads,
		EnqueuedAt: h.ts, VisibleAt: l.deadline}, true, nil
}

// expire requeues the message of a lease whose deadline passed.
func (d *Driver) expire(key leaseKey, l *lease) {
	d.mu.Lock()
	if d.leases[key] != l || time.Now().Before(l.deadline) {
		d.mu.Unlock()
		return
	}
	_ = d.requeue(key)
	d.mu.Unlock()
	d.wake(key.queue)
}

// current returns the lease a receipt names, nil when the receipt is stale
// (the message was given back, redelivered or settled since). Called with
// d.mu held.
func (d *Driver) current(queue string, r messaging.Receipt) *lease {
	l := d.leases[leaseKey{queue, r.ID}]
	if l == nil || (r.ReadCount != 0 && r.ReadCount != l.readCount) {
		return nil
	}
	return l
}

// settle ends the lease of key with fn (an ack or nack on its channel).
// A lease whose channel closed is dropped: the broker requeued its message.
// Called with d.mu held.
func (d *Driver) settle(key leaseKey, fn func(l *lease) error) error {
	l := d.leases[key]
	if l == nil {
		return nil
	}
	l.timer.Stop()
	delete(d.leases, key)
	if l.ch.IsClosed() {
		return nil
	}
	if err := fn(l); err != nil && !errors.Is(err, amqp.ErrClosed) {
		return fmt.Errorf("settling message %d of %s: %w", key.id, key.queue, err)
	}
	return nil
}

// Ack acks the messages of current receipts; stale receipts do nothing.
func (d *Driver) Ack(_ context.Context, queue string, receipts ...messaging.Receipt) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for _, r := range receipts {
		if d.current(queue, r) == nil {
			continue
		}
		errs = append(errs, d.settle(leaseKey{queue, r.ID}, func(l *lease) error { return l.ch.Ack(l.tag, false) }))
	}
	return errors.Join(errs...)
}

// Nack gives the messages of current receipts back: requeued at once, or,
// with a delay, a copy (same id, delivery count carried) re-published
// through the delay buckets with confirm and the original acked. Stale
// receipts (given back already) do nothing.
func (d *Driver) Nack(ctx context.Context, queue string, delay time.Duration, receipts ...messaging.Receipt) error {
	d.mu.Lock()
	var errs []error
	for _, r := range receipts {
		l := d.current(queue, r)
		if l == nil {
			continue
		}
		key := leaseKey{queue, r.ID}
		if delay <= 0 {
			errs = append(errs, d.requeue(key))
			continue
		}
		err := d.pub.publish(ctx, l.target, Message{ID: r.ID, Payload: l.payload, Delay: delay,
			Timestamp: l.enqueued, deliveries: l.readCount})
		if err != nil {
			// The message stays claimed: its lease gives it back.
			errs = append(errs, fmt.Errorf("nacking message %d of %s with delay: %w", r.ID, queue, err))
			continue
		}
		errs = append(errs, d.settle(key, func(l *lease) error { return l.ch.Ack(l.tag, false) }))
		d.delayed[queue] = append(d.delayed[queue], time.Now().Add(delay))
		d.newsAfter(delay, queue, l.target)
	}
	d.mu.Unlock()
	if delay <= 0 {
		d.wake(queue)
	}
	return errors.Join(errs...)
}

// Extend moves the lease deadline of current receipts to now+vt. A broker
// keeps an unacknowledged message for as long as its channel lives, so the
// deadline is the driver's own: when it passes, the driver requeues the
// message.
func (d *Driver) Extend(_ context.Context, queue string, vt time.Duration, receipts ...messaging.Receipt) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range receipts {
		if l := d.current(queue, r); l != nil {
			l.deadline = time.Now().Add(vt)
			l.timer.Reset(vt)
		}
	}
	return nil
}

// Stats reports what can be counted and dated without disturbing the
// queue:
//
//   - Visible: the ready messages of queue and its known route queues
//     (passive declares).
//   - Depth: Visible, plus the messages this driver holds claimed, plus
//     queue's outbox rows (committed sends the relay has not published
//     yet). Messages other processes hold claimed and messages waiting in a
//     delay bucket are not counted: the broker does not report them per
//     queue.
//   - OldestAge: the oldest of the outbox rows (since their transaction
//     wrote them) and of the messages this driver holds claimed (since
//     they were first sent, the AMQP timestamp). The broker reports no age
//     for a ready message, and reading one would mean taking it (a get and
//     a requeue count a delivery and can reorder the queue), so ready
//     messages are not dated: a backlog in the broker shows in Depth, not
//     in OldestAge.
//
// A queue that does not exist reports zeros.
func (d *Driver) Stats(ctx context.Context, queue string) (messaging.Stats, error) {
	st := messaging.Stats{Queue: queue}
	if err := messaging.ValidateQueueName(queue); err != nil {
		return st, err
	}
	for _, target := range append([]string{queue}, d.c.knownRoutes(queue)...) {
		qs, err := d.c.Stats(ctx, target)
		var ae *amqp.Error
		if errors.As(err, &ae) && ae.Code == amqp.NotFound {
			continue
		}
		if err != nil {
			return st, err
		}
		st.Visible += int64(qs.Ready)
	}
	rows, age, err := store.OutboxStatsOf(ctx, d.cfg.Pool, queue)
	if err != nil {
		return st, err
	}
	st.Depth = st.Visible + rows
	st.OldestAge = age
	now := time.Now()
	d.mu.Lock()
	for k, l := range d.leases {
		if k.queue == queue {
			st.Depth++
			if !l.enqueued.IsZero() {
				st.OldestAge = max(st.OldestAge, now.Sub(l.enqueued))
			}
		}
	}
	for _, f := range d.feeds {
		if f.queue != queue {
			continue
		}
		n, oldest := f.buffered()
		st.Visible += int64(n)
		st.Depth += int64(n)
		if !oldest.IsZero() {
			st.OldestAge = max(st.OldestAge, now.Sub(oldest))
		}
	}
	d.mu.Unlock()
	return st, nil
}

// NextVisible reports the earliest of: the lease deadlines of the messages
// this driver holds claimed, the due times of the delayed messages it sent
// (or nacked with a delay), and the due time of queue's outbox rows held
// back for their delay. The broker cannot tell when the messages of other
// processes become visible.
func (d *Driver) NextVisible(ctx context.Context, queue string) (time.Time, bool, error) {
	if err := messaging.ValidateQueueName(queue); err != nil {
		return time.Time{}, false, err
	}
	var at time.Time
	earliest := func(t time.Time) {
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	now := time.Now()
	d.mu.Lock()
	for k, l := range d.leases {
		if k.queue == queue {
			earliest(l.deadline)
		}
	}
	due := d.delayed[queue][:0]
	for _, t := range d.delayed[queue] {
		if t.After(now) {
			due = append(due, t)
			earliest(t)
		}
	}
	d.delayed[queue] = due
	d.mu.Unlock()
	t, ok, err := store.NextOutboxDueOf(ctx, d.cfg.Pool, queue)
	if err != nil {
		return time.Time{}, false, err
	}
	if ok {
		earliest(t)
	}
	return at, !at.IsZero(), nil
}

// Subscribe returns a channel woken when queue may have ready messages: at
// once by this driver's own sends and give-backs, by the relays'
// announcements (DriverConfig.Listener), when a delayed message this driver
// sent is due, and every PollInterval for the fallback sweep (see Claim).
func (d *Driver) Subscribe(queue string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	stop := make(chan struct{})
	d.subMu.Lock()
	if d.subs[queue] == nil {
		d.subs[queue] = map[chan struct{}]struct{}{}
	}
	d.subs[queue][ch] = struct{}{}
	d.subWG.Add(1)
	d.subMu.Unlock()
	go d.poll(ch, stop)
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			close(stop)
			d.subMu.Lock()
			delete(d.subs[queue], ch)
			d.subMu.Unlock()
		})
	}
}

// poll wakes ch every PollInterval, until stop closes or the driver closes.
func (d *Driver) poll(ch chan struct{}, stop chan struct{}) {
	defer d.subWG.Done()
	t := time.NewTicker(d.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-d.done:
			return
		case <-t.C:
		}
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// wake wakes queue's subscribers.
func (d *Driver) wake(queue string) {
	d.subMu.Lock()
	defer d.subMu.Unlock()
	for ch := range d.subs[queue] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Tables returns nil: the messages are in the broker.
func (d *Driver) Tables() messaging.Tables { return nil }

// NewWork begins the driver's part of a unit of work (see work).
func (d *Driver) NewWork() messaging.Work { return &work{d: d} }
