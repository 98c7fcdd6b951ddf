package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tasker-go/tasker/shared/messaging"
)

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	// Queue to consume. Required; declare it first (DeclareQueue).
	Queue string
	// Prefetch is how many unacknowledged messages the broker may hand the
	// consumer at once. Set it to the consumer's handler slots: a delivery
	// stays unacknowledged while its handler runs and its transaction
	// commits, so the broker's window is then exactly the free slots.
	// Change it with SetPrefetch when the number of slots changes. Default
	// 1; at most 65535.
	Prefetch int
	// MaxDeliveries dead-letters a message delivered more often than this
	// (ReadCount above it) instead of handing it out: a message that kills
	// or stalls its consumer every time ends in the dead-letter queue rather
	// than circulating. 0 means no limit.
	MaxDeliveries int
	// Tag prefixes the consumer tag the broker shows. Default "tasker".
	Tag string
}

// Consumer receives a queue's messages with manual acks. Deliveries come on
// a channel; each must be settled (Delivery.Ack after the transaction it
// caused committed, Nack, or DeadLetter). After the connection comes back
// the consumer subscribes again by itself; deliveries of the lost channel
// are redelivered by the broker and settling them returns
// ErrStaleDelivery.
//
// Messages that arrive before their due time (a delay longer than one
// bucket) are sent on through the next bucket, and messages past
// MaxDeliveries are dead-lettered, without being handed out.
type Consumer struct {
	c   *Client
	cfg ConsumerConfig
	pub *Publisher

	out      chan *Delivery
	prefetch atomic.Int32
	changed  chan struct{}
	// outstanding counts deliveries handed out and not settled; idle is
	// signalled when it drops to zero.
	outstanding atomic.Int64
	idle        chan struct{}
	// stats
	deadLettered atomic.Int64
	forwarded    atomic.Int64

	mu     sync.Mutex
	ch     *amqp.Channel
	cancel context.CancelFunc
	done   chan struct{}
}

// NewConsumer returns a consumer of cfg.Queue on c; Start subscribes.
func (c *Client) NewConsumer(cfg ConsumerConfig) (*Consumer, error) {
	if err := messaging.ValidateQueueName(cfg.Queue); err != nil {
		return nil, err
	}
	if cfg.Prefetch == 0 {
		cfg.Prefetch = 1
	}
	if err := validPrefetch(cfg.Prefetch); err != nil {
		return nil, err
	}
	if cfg.MaxDeliveries < 0 {
		return nil, fmt.Errorf("%w: MaxDeliveries must not be negative, got %d", ErrInvalidConfig, cfg.MaxDeliveries)
	}
	if cfg.Tag == "" {
		cfg.Tag = "tasker"
	}
	co := &Consumer{c: c, cfg: cfg, pub: c.NewPublisher(), out: make(chan *Delivery),
		changed: make(chan struct{}, 1), idle: make(chan struct{}, 1)}
	co.prefetch.Store(int32(cfg.Prefetch)) //nolint:gosec // bounded by validPrefetch
	return co, nil
}

func validPrefetch(n int) error {
	if n < 1 || n > 65535 {
		return fmt.Errorf("%w: prefetch must be 1-65535, got %d", ErrInvalidConfig, n)
	}
	return nil
}

// Deliveries is the channel deliveries arrive on; it closes when the
// consumer stops.
func (co *Consumer) Deliveries() <-chan *Delivery { return co.out }

// Prefetch returns the current prefetch.
func (co *Consumer) Prefetch() int { return int(co.prefetch.Load()) }

// SetPrefetch changes how many unacknowledged messages the broker may hand
// out at once, at run time: the consumer re-subscribes with the new value
// (deliveries already handed out stay valid).
func (co *Consumer) SetPrefetch(n int) error {
	if err := validPrefetch(n); err != nil {
		return err
	}
	if co.prefetch.Swap(int32(n)) == int32(n) { //nolint:gosec // bounded by validPrefetch
		return nil
	}
	select {
	case co.changed <- struct{}{}:
	default:
	}
	return nil
}

// DeadLettered counts the messages the consumer dead-lettered for passing
// MaxDeliveries.
func (co *Consumer) DeadLettered() int64 { return co.deadLettered.Load() }

// Start subscribes in the background and returns at once.
func (co *Consumer) Start(ctx context.Context) error {
	co.mu.Lock()
	defer co.mu.Unlock()
	if co.done != nil {
		return errors.New("consumer already started")
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	co.cancel = cancel
	co.done = make(chan struct{})
	go co.run(runCtx)
	return nil
}

// Stop cancels the subscription (Deliveries closes), waits until every
// delivery handed out is settled or ctx ends, then closes the channel: the
// broker requeues whatever is still unacknowledged.
func (co *Consumer) Stop(ctx context.Context) error {
	co.mu.Lock()
	cancel, done := co.cancel, co.done
	co.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	for err == nil && co.outstanding.Load() > 0 {
		select {
		case <-co.idle:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	co.mu.Lock()
	if co.ch != nil {
		_ = co.ch.Close()
		co.ch = nil
	}
	co.mu.Unlock()
	if perr := co.pub.Close(); err == nil {
		err = perr
	}
	return err
}

func (co *Consumer) release() {
	if co.outstanding.Add(-1) == 0 {
		select {
		case co.idle <- struct{}{}:
		default:
		}
	}
}

func (co *Consumer) run(ctx context.Context) {
	defer close(co.done)
	defer close(co.out)
	wait := time.Duration(0)
	for {
		if sleepCtx(ctx, wait) != nil {
			return
		}
		ch, err := co.c.channel(ctx)
		if err != nil {
			return // stopped: the client or the consumer
		}
		co.mu.Lock()
		old := co.ch
		co.ch = ch
		co.mu.Unlock()
		if old != nil {
			_ = old.Close()
		}
		err = co.consume(ctx, ch)
		if ctx.Err() != nil {
			return
		}
		co.c.log.Warn("rabbitmq consumer lost its subscription; subscribing again", "queue", co.cfg.Queue, "err", err)
		_ = ch.Close()
		wait = nextBackoff(wait, co.c.cfg.ReconnectMin, co.c.cfg.ReconnectMax)
	}
}

// consume subscribes on ch and hands out deliveries until the channel
// closes (an error) or ctx ends; a prefetch change re-subscribes.
func (co *Consumer) consume(ctx context.Context, ch *amqp.Channel) error {
	for seq := 0; ; seq++ {
		n := int(co.prefetch.Load())
		if err := ch.Qos(n, 0, false); err != nil {
			return fmt.Errorf("setting prefetch %d: %w", n, err)
		}
		tag := fmt.Sprintf("%s-%s-%d", co.cfg.Tag, co.cfg.Queue, seq)
		deliveries, err := ch.Consume(co.cfg.Queue, tag, false, false, false, false, nil)
		if err != nil {
			return fmt.Errorf("subscribing to %s: %w", co.cfg.Queue, err)
		}
		cancelled := false
	recv:
		for {
			select {
			case d, ok := <-deliveries:
				if !ok {
					if cancelled {
						break recv // re-subscribe with the new prefetch
					}
					return errors.New("channel closed")
				}
				if !co.handle(ctx, ch, d) {
					_ = ch.Cancel(tag, false)
					return ctx.Err()
				}
			case <-co.changed:
				if !cancelled {
					// The broker applies a prefetch to consumers created
					// after it: cancel, drain what is in flight, subscribe
					// again.
					cancelled = true
					if err := ch.Cancel(tag, false); err != nil {
						return fmt.Errorf("cancelling subscription to change prefetch: %w", err)
					}
				}
			case <-ctx.Done():
				_ = ch.Cancel(tag, false)
				return ctx.Err()
			}
		}
	}
}

// handle hands d out, or sends it on (early) or dead-letters it (past
// MaxDeliveries). It returns false when ctx ended before d was handed out
// (d stays unacknowledged; the broker requeues it when the channel closes).
func (co *Consumer) handle(ctx context.Context, ch *amqp.Channel, raw amqp.Delivery) bool {
	d := newDelivery(co, ch, raw)
	if co.cfg.MaxDeliveries > 0 && d.ReadCount > co.cfg.MaxDeliveries {
		co.c.log.Warn("rabbitmq message dead-lettered after too many deliveries",
			"queue", co.cfg.Queue, "id", d.ID, "deliveries", d.ReadCount-1, "max", co.cfg.MaxDeliveries)
		if err := d.DeadLetter(); err != nil {
			co.c.log.Warn("rabbitmq dead-lettering failed", "queue", co.cfg.Queue, "id", d.ID, "err", err)
		} else {
			co.deadLettered.Add(1)
		}
		return true
	}
	if !d.dueAt.IsZero() && time.Until(d.dueAt) > DueSlack {
		co.forward(ctx, d)
		return true
	}
	d.handedOut = true
	co.outstanding.Add(1)
	select {
	case co.out <- d:
		return true
	case <-ctx.Done():
		d.handedOut = false
		co.release()
		return false
	}
}

// forward sends an early message on through the next delay bucket and acks
// it; on failure it is requeued (and comes back to be forwarded again).
func (co *Consumer) forward(ctx context.Context, d *Delivery) {
	err := co.pub.Publish(ctx, d.Queue, Message{ID: d.ID, Payload: d.Payload, Timestamp: d.EnqueuedAt,
		deliveries: d.ReadCount - 1, dueAt: d.dueAt})
	if err != nil {
		co.c.log.Warn("rabbitmq delayed message not sent on; requeued", "queue", co.cfg.Queue, "id", d.ID, "err", err)
		_ = d.settle("requeueing", func() error { return d.ch.Nack(d.tag, false, true) })
		return
	}
	if err := d.Ack(); err == nil {
		co.forwarded.Add(1)
	}
}
