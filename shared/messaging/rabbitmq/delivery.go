package rabbitmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Settlement errors.
var (
	// ErrStaleDelivery: the channel the message came on has closed (the
	// connection dropped or the consumer stopped); the broker delivers the
	// message again, so its outcome is left to that delivery.
	ErrStaleDelivery = errors.New("delivery's channel closed: the broker redelivers the message")
	// ErrAlreadySettled: the delivery was already acked, nacked or
	// dead-lettered.
	ErrAlreadySettled = errors.New("delivery already settled")
)

// Delivery is one delivered message. Settle it exactly once with Ack, Nack
// or DeadLetter; settling twice returns ErrAlreadySettled (and never
// reaches the broker, which would close the channel for it).
type Delivery struct {
	// ID is the message's id (Message.ID; the outbox row id for messages the
	// relay published): the copies of one message share it.
	ID int64
	// Queue is the queue the message came from.
	Queue string
	// Payload is the message body (JSON).
	Payload json.RawMessage
	// ReadCount is how many times the message has been delivered, this time
	// included, across the copies a nack with delay made: the broker's
	// redelivery count (x-delivery-count) plus the deliveries of earlier
	// copies (carried in a header).
	ReadCount int
	// EnqueuedAt is when the message was first sent (second precision).
	EnqueuedAt time.Time

	co        *Consumer
	ch        *amqp.Channel
	tag       uint64
	dueAt     time.Time
	prior     int
	settled   atomic.Bool
	handedOut bool // counted in the consumer's outstanding deliveries
}

// newDelivery decodes d. Messages this package did not publish get ID 0 when
// their message id is not a number.
func newDelivery(co *Consumer, ch *amqp.Channel, d amqp.Delivery) *Delivery {
	id, _ := strconv.ParseInt(d.MessageId, 10, 64)
	prior := headerInt(d.Headers, headerDeliveries)
	out := &Delivery{
		ID: id, Queue: co.cfg.Queue, Payload: json.RawMessage(d.Body),
		ReadCount:  prior + headerInt(d.Headers, brokerDeliveryCount) + 1,
		EnqueuedAt: d.Timestamp, co: co, ch: ch, tag: d.DeliveryTag, prior: prior,
	}
	if ms := headerInt(d.Headers, headerDueAt); ms > 0 {
		out.dueAt = time.UnixMilli(int64(ms))
	}
	return out
}

func headerInt(h amqp.Table, key string) int {
	switch v := h[key].(type) {
	case int64:
		return int(v)
	case int32:
		return int(v)
	case int16:
		return int(v)
	case int8:
		return int(v)
	case int:
		return v
	case uint8:
		return int(v)
	case uint16:
		return int(v)
	case uint32:
		return int(v)
	}
	return 0
}

// Ack acknowledges the message: the broker deletes it. Call it only after
// the transaction the message caused has committed.
func (d *Delivery) Ack() error {
	return d.settle("acking", func() error { return d.ch.Ack(d.tag, false) })
}

// Nack gives the message back. With no delay (zero or less) the broker
// requeues it at once (counting a redelivery); otherwise a copy carrying the
// delivery count is published through the delay buckets (with confirm) and
// the original acked, so it comes back after about delay. A message whose
// ReadCount reaches the consumer's MaxDeliveries is dead-lettered when it
// comes back.
func (d *Delivery) Nack(ctx context.Context, delay time.Duration) error {
	if delay <= 0 {
		return d.settle("nacking", func() error { return d.ch.Nack(d.tag, false, true) })
	}
	if d.settled.Load() {
		return ErrAlreadySettled
	}
	if d.ch.IsClosed() {
		return d.settle("nacking", func() error { return amqp.ErrClosed })
	}
	err := d.co.pub.Publish(ctx, d.Queue, Message{
		ID: d.ID, Payload: d.Payload, Delay: delay, Timestamp: d.EnqueuedAt, deliveries: d.ReadCount,
	})
	if err != nil {
		return fmt.Errorf("nacking message %d with delay: %w", d.ID, err)
	}
	return d.Ack()
}

// DeadLetter rejects the message without requeueing: the broker moves it to
// the queue's dead-letter queue.
func (d *Delivery) DeadLetter() error {
	return d.settle("dead-lettering", func() error { return d.ch.Reject(d.tag, false) })
}

func (d *Delivery) settle(what string, fn func() error) error {
	if !d.settled.CompareAndSwap(false, true) {
		return ErrAlreadySettled
	}
	if d.handedOut {
		defer d.co.release()
	}
	if err := fn(); err != nil {
		if errors.Is(err, amqp.ErrClosed) || d.ch.IsClosed() {
			return fmt.Errorf("%s message %d: %w", what, d.ID, ErrStaleDelivery)
		}
		return fmt.Errorf("%s message %d: %w", what, d.ID, err)
	}
	return nil
}
