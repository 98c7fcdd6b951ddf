package rabbitmq

import (
	"context"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tasker-go/tasker/shared/messaging"
)

// Topology.
//
// Every queue is a durable quorum queue: replicated and fsynced where the
// broker is clustered, and it counts redeliveries itself (the
// x-delivery-count header), which Delivery.ReadCount builds on. A queue q
// dead-letters into q_dlq through the default exchange, at least once (the
// broker keeps a dead-lettered message until q_dlq confirms it).
//
// Delays need no plugin. A delayed message goes to the headers exchange
// {prefix}_delay with its target queue as routing key and a header naming a
// bucket; each bucket is a quorum queue {prefix}_delay_{ms}ms whose messages
// expire after exactly that TTL and are dead-lettered (at least once)
// through the default exchange by their original routing key: into the
// target queue. Buckets are shared by every target queue.
//
// Buckets are MinDelay·2^k (100ms, 200ms, 400ms, … up to MaxBucket, about
// 14.6h): at most 20 queues whatever the delays. A delay takes the largest
// bucket not longer than it (MinDelay when it is shorter than that). A
// message carries its due time, and the consumer that receives it more than
// DueSlack before that time sends it on through the bucket that fits what
// remains, so a delay is met to within MinDelay, never early, after at most
// one hop per set bit of the delay counted in units of MinDelay (a 65 s
// delay: the 51.2 s, 12.8 s, 0.8 s and 0.2 s buckets). A delay of zero or
// less is no delay.
const (
	// MinDelay is the shortest bucket: the resolution of delays.
	MinDelay = 100 * time.Millisecond
	// DueSlack is how early a delayed message may be handed out (clocks and
	// timers are not exact): one that arrives earlier is sent on.
	DueSlack = 10 * time.Millisecond
	// bucketCount buckets: MinDelay·2^0 … MinDelay·2^(bucketCount-1).
	bucketCount = 20
	// MaxBucket is the longest bucket; longer delays hop.
	MaxBucket = MinDelay << (bucketCount - 1)
)

// Header names the backend sets on messages.
const (
	// headerDeliveries counts the deliveries of earlier copies of a message
	// (a nack with delay re-publishes a copy): the broker's x-delivery-count
	// starts again with each copy.
	headerDeliveries = "x-tasker-deliveries"
	// headerDueAt is a delayed message's due time, Unix milliseconds.
	headerDueAt = "x-tasker-due-at"
	// headerBucket names the bucket a delayed message is routed to.
	headerBucket = "x-tasker-delay-bucket"
	// brokerDeliveryCount is set by quorum queues on redeliveries.
	brokerDeliveryCount = "x-delivery-count"
)

// DLQName is the dead-letter queue of queue.
func DLQName(queue string) string { return queue + "_dlq" }

// BucketFor returns the bucket a delay of d goes through: the largest bucket
// not longer than d, MinDelay when d is shorter, and false when d is zero or
// negative (no delay).
func BucketFor(d time.Duration) (time.Duration, bool) {
	if d <= 0 {
		return 0, false
	}
	b := MinDelay
	for b < MaxBucket && 2*b <= d {
		b *= 2
	}
	return b, true
}

func (c *Client) delayExchange() string { return c.cfg.DelayPrefix + "_delay" }

func (c *Client) bucketQueue(b time.Duration) string {
	return fmt.Sprintf("%s_delay_%dms", c.cfg.DelayPrefix, b.Milliseconds())
}

// queueArgs are the arguments of a work queue. They never depend on
// configuration, so declaring a queue again always agrees with what exists.
func queueArgs(queue string) amqp.Table {
	return amqp.Table{
		amqp.QueueTypeArg:           amqp.QueueTypeQuorum,
		"x-dead-letter-exchange":    "",
		"x-dead-letter-routing-key": DLQName(queue),
		"x-dead-letter-strategy":    "at-least-once",
		amqp.QueueOverflowArg:       amqp.QueueOverflowRejectPublish,
	}
}

// DeclareQueue declares queue and its dead-letter queue (durable quorum
// queues). Declaring what exists is a no-op, so every process may declare
// the queues it uses at start.
func (c *Client) DeclareQueue(ctx context.Context, queue string) error {
	if err := messaging.ValidateQueueName(queue); err != nil {
		return err
	}
	return c.withChannel(ctx, func(ch *amqp.Channel) error {
		if _, err := ch.QueueDeclare(DLQName(queue), true, false, false, false,
			amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}); err != nil {
			return fmt.Errorf("declaring queue %s: %w", DLQName(queue), err)
		}
		if _, err := ch.QueueDeclare(queue, true, false, false, false, queueArgs(queue)); err != nil {
			return fmt.Errorf("declaring queue %s: %w", queue, err)
		}
		return nil
	})
}

// declareBucket declares the delay exchange and the queue of bucket b (once
// per client; a re-declare is harmless).
func (c *Client) declareBucket(ctx context.Context, b time.Duration) error {
	c.mu.Lock()
	done := c.declared[b]
	c.mu.Unlock()
	if done {
		return nil
	}
	name := c.bucketQueue(b)
	err := c.withChannel(ctx, func(ch *amqp.Channel) error {
		if err := ch.ExchangeDeclare(c.delayExchange(), amqp.ExchangeHeaders, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declaring exchange %s: %w", c.delayExchange(), err)
		}
		if _, err := ch.QueueDeclare(name, true, false, false, false, amqp.Table{
			amqp.QueueTypeArg:        amqp.QueueTypeQuorum,
			amqp.QueueMessageTTLArg:  b.Milliseconds(),
			"x-dead-letter-exchange": "",
			"x-dead-letter-strategy": "at-least-once",
			amqp.QueueOverflowArg:    amqp.QueueOverflowRejectPublish,
		}); err != nil {
			return fmt.Errorf("declaring delay queue %s: %w", name, err)
		}
		if err := ch.QueueBind(name, "", c.delayExchange(), false, amqp.Table{"x-match": "all", headerBucket: name}); err != nil {
			return fmt.Errorf("binding delay queue %s: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.declared[b] = true
	c.mu.Unlock()
	return nil
}

// QueueStats describes a queue as the broker reports it.
type QueueStats struct {
	Queue string `json:"queue"`
	// Ready counts messages waiting for delivery (delivered but unacked ones
	// are not counted).
	Ready int `json:"ready"`
	// Consumers counts the queue's consumers.
	Consumers int `json:"consumers"`
}

// Stats reports queue's ready messages and consumers.
func (c *Client) Stats(ctx context.Context, queue string) (QueueStats, error) {
	var st QueueStats
	err := c.withChannel(ctx, func(ch *amqp.Channel) error {
		q, err := ch.QueueDeclarePassive(queue, true, false, false, false, queueArgs(queue))
		if err != nil {
			return fmt.Errorf("inspecting queue %s: %w", queue, err)
		}
		st = QueueStats{Queue: queue, Ready: q.Messages, Consumers: q.Consumers}
		return nil
	})
	return st, err
}

// DeleteQueue deletes queue, its dead-letter queue and the route queues of
// queue this client declared, with their messages.
func (c *Client) DeleteQueue(ctx context.Context, queue string) error {
	if err := c.deleteRoutes(ctx, queue); err != nil {
		return err
	}
	return c.withChannel(ctx, func(ch *amqp.Channel) error {
		for _, q := range []string{queue, DLQName(queue)} {
			if _, err := ch.QueueDelete(q, false, false, false); err != nil {
				return fmt.Errorf("deleting queue %s: %w", q, err)
			}
		}
		return nil
	})
}

// DeleteDelayTopology deletes the delay exchange and every bucket queue with
// their messages (tests, and operators retiring a prefix).
func (c *Client) DeleteDelayTopology(ctx context.Context) error {
	err := c.withChannel(ctx, func(ch *amqp.Channel) error {
		for b := MinDelay; b <= MaxBucket; b *= 2 {
			if _, err := ch.QueueDelete(c.bucketQueue(b), false, false, false); err != nil {
				return fmt.Errorf("deleting delay queue %s: %w", c.bucketQueue(b), err)
			}
		}
		if err := ch.ExchangeDelete(c.delayExchange(), false, false); err != nil {
			return fmt.Errorf("deleting exchange %s: %w", c.delayExchange(), err)
		}
		return nil
	})
	c.mu.Lock()
	clear(c.declared)
	c.mu.Unlock()
	return err
}

// withChannel runs fn on a fresh channel, closed afterwards (declarations
// are rare; a failed one closes its channel anyway).
func (c *Client) withChannel(ctx context.Context, fn func(ch *amqp.Channel) error) error {
	ch, err := c.channel(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = ch.Close() }()
	return fn(ch)
}
