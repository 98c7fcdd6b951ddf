package rabbitmq

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tasker-go/tasker/shared/messaging"
)

// Publish errors. A failed Publish may still have delivered some of its
// messages (all of them, on ErrConfirmTimeout): callers that retry can
// publish a message twice, which consumers tolerate.
var (
	// ErrUnroutable: the broker had no queue for the message (the queue, or
	// the delay bucket, does not exist) and returned it.
	ErrUnroutable = errors.New("message returned unroutable")
	// ErrNotConfirmed: the broker refused the message (a nack) or the
	// channel closed before it confirmed.
	ErrNotConfirmed = errors.New("message not confirmed by the broker")
	// ErrConfirmTimeout: no confirm within Config.ConfirmTimeout.
	ErrConfirmTimeout = errors.New("timed out waiting for the broker's confirm")
)

// Message is one message to publish.
type Message struct {
	// ID identifies the message (consumers see it as Delivery.ID); 0 gives
	// it a random positive id. The outbox relay uses the outbox row id, so
	// the copies of a message published twice share their id.
	ID int64
	// Payload is the message body (JSON).
	Payload json.RawMessage
	// Delay holds the message back (see the delay buckets in topology.go):
	// it is delivered no earlier, and at most about MinDelay later.
	Delay time.Duration
	// Timestamp is when the message was first sent (Delivery.EnqueuedAt);
	// zero means now.
	Timestamp time.Time

	// deliveries is how many times earlier copies were delivered.
	deliveries int
	// dueAt, when set, is the due time a hop carries on (overrides Delay).
	dueAt time.Time
}

// Publisher publishes persistent messages with publisher confirms on a
// channel of its own, re-opened after the connection comes back. Publish
// returns once the broker confirmed every message (the broker then holds
// it durably). Publishes are serialized; use several publishers for
// parallel publishing.
type Publisher struct {
	c *Client

	mu      sync.Mutex
	ch      *amqp.Channel
	returns chan amqp.Return
}

// NewPublisher returns a publisher on c; its channel opens on first use.
func (c *Client) NewPublisher() *Publisher { return &Publisher{c: c} }

// Close closes the publisher's channel.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ch == nil {
		return nil
	}
	err := p.ch.Close()
	p.ch = nil
	if err != nil && !errors.Is(err, amqp.ErrClosed) {
		return fmt.Errorf("closing publisher channel: %w", err)
	}
	return nil
}

// Publish publishes msgs to queue and waits for the broker's confirms. It
// waits for the connection when it is down (up to ctx). Every message is
// persistent and mandatory: a message no queue takes comes back as
// ErrUnroutable.
func (p *Publisher) Publish(ctx context.Context, queue string, msgs ...Message) error {
	if err := messaging.ValidateQueueName(queue); err != nil {
		return err
	}
	return p.publish(ctx, queue, msgs...)
}

// publish publishes msgs to queue, a checked name: a work queue or a route
// queue (see RouteQueue).
func (p *Publisher) publish(ctx context.Context, queue string, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	now := time.Now()
	pubs := make([]amqp.Publishing, len(msgs))
	exchanges := make([]string, len(msgs))
	for i, m := range msgs {
		if !json.Valid(m.Payload) {
			return fmt.Errorf("publishing to %s: message %d: payload is not valid JSON", queue, i)
		}
		id := m.ID
		if id == 0 {
			id = randomID()
		}
		ts := m.Timestamp
		if ts.IsZero() {
			ts = now
		}
		headers := amqp.Table{}
		if m.deliveries > 0 {
			headers[headerDeliveries] = int64(m.deliveries)
		}
		due := m.dueAt
		if due.IsZero() && m.Delay > 0 {
			due = now.Add(m.Delay)
		}
		if b, ok := BucketFor(time.Until(due)); ok && !due.IsZero() {
			if err := p.c.declareBucket(ctx, b); err != nil {
				return err
			}
			exchanges[i] = p.c.delayExchange()
			headers[headerBucket] = p.c.bucketQueue(b)
			headers[headerDueAt] = due.UnixMilli()
		}
		pubs[i] = amqp.Publishing{
			ContentType: "application/json", DeliveryMode: amqp.Persistent,
			MessageId: strconv.FormatInt(id, 10), Timestamp: ts, Headers: headers, Body: m.Payload,
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ch, err := p.channel(ctx)
	if err != nil {
		return fmt.Errorf("publishing to %s: %w", queue, err)
	}
	confirms := make([]*amqp.DeferredConfirmation, len(pubs))
	for i := range pubs {
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchanges[i], queue, true, false, pubs[i])
		if err != nil {
			p.drop()
			return fmt.Errorf("publishing to %s: %w: %w", queue, ErrNotConfirmed, err)
		}
		confirms[i] = dc
	}
	return p.await(ctx, queue, confirms)
}

// await waits for every confirm, noting returned messages on the way.
func (p *Publisher) await(ctx context.Context, queue string, confirms []*amqp.DeferredConfirmation) error {
	timer := time.NewTimer(p.c.cfg.ConfirmTimeout)
	defer timer.Stop()
	returned := 0
	returns := p.returns
	note := func(r amqp.Return, ok bool) {
		if !ok {
			returns = nil
			return
		}
		returned++
	}
	nacked := 0
	for _, dc := range confirms {
	wait:
		for {
			select {
			case <-dc.Done():
				if !dc.Acked() {
					nacked++
				}
				break wait
			case r, ok := <-returns:
				note(r, ok)
			case <-timer.C:
				p.drop()
				return fmt.Errorf("publishing to %s: %w (%s)", queue, ErrConfirmTimeout, p.c.cfg.ConfirmTimeout)
			case <-ctx.Done():
				p.drop()
				return fmt.Errorf("publishing to %s: %w: %w", queue, ErrNotConfirmed, ctx.Err())
			}
		}
	}
	// A return reaches us before the confirm of its message.
	for drained := false; !drained && returns != nil; {
		select {
		case r, ok := <-returns:
			note(r, ok)
		default:
			drained = true
		}
	}
	switch {
	case nacked > 0:
		p.drop()
		return fmt.Errorf("publishing to %s: %w (%d of %d messages)", queue, ErrNotConfirmed, nacked, len(confirms))
	case returned > 0:
		return fmt.Errorf("publishing to %s: %w (%d of %d messages; is the queue declared?)", queue, ErrUnroutable, returned, len(confirms))
	}
	return nil
}

// channel returns the open confirm-mode channel, opening one if needed.
func (p *Publisher) channel(ctx context.Context) (*amqp.Channel, error) {
	if p.ch != nil && !p.ch.IsClosed() {
		return p.ch, nil
	}
	ch, err := p.c.channel(ctx)
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("enabling publisher confirms: %w", err)
	}
	// Buffered so that the connection's reader never waits for us; drained
	// while confirms are awaited.
	p.returns = ch.NotifyReturn(make(chan amqp.Return, 256))
	p.ch = ch
	return ch, nil
}

// drop closes the channel after a failure whose outcome is unknown, so the
// next publish starts on a fresh one.
func (p *Publisher) drop() {
	if p.ch != nil {
		_ = p.ch.Close()
		p.ch = nil
	}
}

// randomID returns a random positive int64.
func randomID() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := int64(binary.BigEndian.Uint64(b[:]) >> 1)
	if id == 0 {
		id = 1
	}
	return id
}
