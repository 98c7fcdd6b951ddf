package rabbitmq

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// feed is what the driver keeps of one broker queue that its claims take
// messages from: a subscription (basic.consume with manual acks) on a
// channel of its own, and a pool of messages at hand. The broker pushes
// messages into the pool ahead of the claims, so a claim takes them
// without a round trip; a get per message costs a round trip and, on a
// quorum queue, an entry in the queue's own log, which is what limits a
// get-only claimer.
//
// The broker hands a subscription at most its prefetch of unacknowledged
// messages: those in the pool and those claimed from it that are not
// settled yet. The driver sets the prefetch to the largest N its claims of
// that queue ask for, which is the claimer's handler slots (a worker asks
// for its free slots, all of them when idle). So a feed holds at most as
// many messages out of other processes' reach as its process has free
// slots to run them, and the broker spreads a queue's messages over the
// processes with free slots.
//
// A message this driver gives back (a nack without delay, a lapsed lease,
// a unit of work that did not commit) goes back to the pool while its
// channel is open, not to the broker: it stays unacknowledged, the next
// claim of the queue takes it again with its ReadCount one higher, and
// the pool hands out its messages oldest first, whatever the order in
// which they came back. A feed whose queue no claim read for one
// visibility timeout of the claims (the claimer stopped, or all its slots
// stayed busy) is cancelled and gives its pool back to the broker: those
// messages go back to the queue with the broker's delivery count raised by
// one, as for a process that stopped.
type feed struct {
	d      *Driver
	queue  string // the work queue
	target string // the broker queue consumed
	ch     *amqp.Channel

	// Guarded by d.mu.
	prefetch  int
	tag       string // the subscription's consumer tag; "" while cancelled
	lastClaim time.Time
	hold      time.Duration // the visibility of the last claim
	idle      *time.Timer
	// synced is the news count of target (Driver.version) at the last
	// sync: news since means deliveries may be on their way.
	synced uint64

	mu     sync.Mutex // guards pool and active (the reader takes only mu)
	pool   []held     // ordered by id
	active bool       // deliveries go to the pool; otherwise they are given back
}

// held is a message at hand: delivered, unacknowledged on ch, not claimed.
type held struct {
	id      int64
	ch      *amqp.Channel
	tag     uint64
	body    []byte
	ts      time.Time
	headers amqp.Table
	// reads is how often it was claimed (0: not yet by this driver; the
	// broker's headers tell).
	reads int
}

func heldOf(ch *amqp.Channel, dl amqp.Delivery) held {
	id, _ := strconv.ParseInt(dl.MessageId, 10, 64)
	return held{id: id, ch: ch, tag: dl.DeliveryTag, body: dl.Body, ts: dl.Timestamp, headers: dl.Headers}
}

// put adds h to the pool in id order. Called with f.mu held.
func (f *feed) put(h held) {
	i, _ := slices.BinarySearchFunc(f.pool, h.id, func(e held, id int64) int { return cmp.Compare(e.id, id) })
	f.pool = slices.Insert(f.pool, i, h)
}

// feedTags numbers the driver's consumer tags.
var feedTags atomic.Uint64

// openFeed subscribes to target on a new channel. Called with d.mu held.
func (d *Driver) openFeed(ctx context.Context, queue, target string, prefetch int) (*feed, error) {
	ch, err := d.c.channel(ctx)
	if err != nil {
		return nil, err
	}
	f := &feed{d: d, queue: queue, target: target, ch: ch}
	if err := f.subscribe(prefetch); err != nil {
		_ = ch.Close()
		return nil, err
	}
	return f, nil
}

// subscribe starts a subscription with the given prefetch; its deliveries
// go to the buffer. Called with d.mu held.
func (f *feed) subscribe(prefetch int) error {
	if err := f.ch.Qos(prefetch, 0, false); err != nil {
		return fmt.Errorf("setting the prefetch of %s: %w", f.target, err)
	}
	tag := fmt.Sprintf("tasker-claim-%d", feedTags.Add(1))
	deliveries, err := f.ch.Consume(f.target, tag, false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", f.target, err)
	}
	f.mu.Lock()
	f.active = true
	f.mu.Unlock()
	f.prefetch, f.tag = prefetch, tag
	f.d.feedWG.Add(1)
	go f.read(deliveries)
	return nil
}

// read moves deliveries into the buffer and wakes the queue's subscribers,
// until the subscription is cancelled or its channel closes.
func (f *feed) read(deliveries <-chan amqp.Delivery) {
	defer f.d.feedWG.Done()
	for dl := range deliveries {
		f.mu.Lock()
		active := f.active
		if active {
			f.put(heldOf(f.ch, dl))
		}
		f.mu.Unlock()
		if !active {
			// Arrived after the feed was cancelled: nobody will claim it here.
			_ = dl.Nack(false, true)
			continue
		}
		f.d.wake(f.queue)
	}
}

// take pops the oldest message of the pool. Messages of a closed channel
// are void: the broker requeued them. Called with d.mu held.
func (f *feed) take() (held, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.pool) > 0 {
		h := f.pool[0]
		f.pool[0] = held{}
		f.pool = f.pool[1:]
		if !h.ch.IsClosed() {
			return h, true
		}
	}
	return held{}, false
}

// giveBack returns a claimed message to the pool (see feed). Called with
// d.mu held.
func (f *feed) giveBack(h held) {
	f.mu.Lock()
	f.put(h)
	f.mu.Unlock()
}

// sync waits for the deliveries the broker already sent the feed: a
// method's reply comes after them on the channel. A claim syncs when its
// queue had news (a send, an announcement, a give-back) since the last
// sync, so that it sees a message sent before it, as a get would, and
// takes the oldest buffered ones first (force syncs without news).
// Called with d.mu held.
func (f *feed) sync(ver uint64, force bool) error {
	if f.tag == "" || (f.synced == ver && !force) {
		return nil
	}
	if err := f.ch.Qos(f.prefetch, 0, false); err != nil {
		return fmt.Errorf("syncing the subscription to %s: %w", f.target, err)
	}
	f.synced = ver
	return nil
}

// buffered returns the count and the oldest first-send time of the
// buffered deliveries.
func (f *feed) buffered() (n int, oldest time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.pool {
		if h.ch.IsClosed() {
			continue
		}
		n++
		if !h.ts.IsZero() && (oldest.IsZero() || h.ts.Before(oldest)) {
			oldest = h.ts
		}
	}
	return n, oldest
}

// cancel ends the subscription and gives the pool back to the broker
// (requeued). The channel stays open: the messages claimed from the feed
// are still unacknowledged on it. Called with d.mu held.
func (f *feed) cancel() {
	f.mu.Lock()
	f.active = false
	pool := f.pool
	f.pool = nil
	f.mu.Unlock()
	if f.tag != "" {
		_ = f.ch.Cancel(f.tag, false)
		f.tag = ""
	}
	for _, h := range pool {
		_ = h.ch.Nack(h.tag, false, true)
	}
	if len(pool) > 0 {
		f.d.requeued(f.target)
	}
}

// grow re-subscribes with a larger prefetch (the broker applies a prefetch
// to the subscriptions made after it). Deliveries of the old subscription
// stay valid. Called with d.mu held.
func (f *feed) grow(prefetch int) error {
	if f.tag != "" {
		if err := f.ch.Cancel(f.tag, false); err != nil {
			return fmt.Errorf("re-subscribing to %s: %w", f.target, err)
		}
		f.tag = ""
	}
	return f.subscribe(prefetch)
}

// touch records a claim over the feed's queue: the feed lives while claims
// keep coming, at least one visibility timeout of theirs apart. Called
// with d.mu held.
func (f *feed) touch(now time.Time, hold time.Duration) {
	f.lastClaim, f.hold = now, hold
	if f.idle == nil {
		f.idle = time.AfterFunc(hold, f.expire)
		return
	}
	f.idle.Reset(hold)
}

// expire cancels the subscription when no claim came for one visibility
// timeout of the last one.
func (f *feed) expire() {
	d := f.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.feeds[f.target] != f || f.tag == "" {
		return
	}
	if wait := f.hold - time.Since(f.lastClaim); wait > 0 {
		f.idle.Reset(wait)
		return
	}
	f.cancel()
}

// close ends the feed: it closes its channel (the broker requeues what the
// feed delivered, claimed or not) and gives back what the pool holds of
// other channels. Called with d.mu held.
func (f *feed) close() {
	if f.idle != nil {
		f.idle.Stop()
	}
	f.mu.Lock()
	f.active = false
	pool := f.pool
	f.pool = nil
	f.mu.Unlock()
	for _, h := range pool {
		if h.ch != f.ch {
			_ = h.ch.Nack(h.tag, false, true)
		}
	}
	_ = f.ch.Close()
}
