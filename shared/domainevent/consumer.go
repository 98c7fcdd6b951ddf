package domainevent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tasker-go/tasker/shared/messaging"
)

// DeadLetterer moves a message from one queue to another atomically (the
// store implements it: the send and the delete commit together).
type DeadLetterer interface {
	MoveMessage(ctx context.Context, from, to string, m messaging.Message) error
}

// ConsumerConfig configures a Consumer of one namespace's durable events.
type ConsumerConfig struct {
	// Namespace whose queue "{namespace}_domain_events" is consumed.
	// Required.
	Namespace string
	// Queue is the messaging backend the orchestration writes events
	// through. Required.
	Queue messaging.Driver
	// Handler is called once per delivery; the message is acked after it
	// returns nil. Required.
	Handler Handler
	// Pattern filters the events handed to Handler (see Matches); events
	// that do not match are acked without a call. Default "*".
	Pattern string
	// MaxAttempts is how many deliveries an event gets before it moves to
	// "{namespace}_domain_events_dlq" (default 5).
	MaxAttempts int
	// RetryDelay hides a failed event before its next delivery (default
	// 1s, doubled per attempt, at most 1 minute).
	RetryDelay time.Duration
	// BatchSize is how many events one claim takes (default 10);
	// Visibility how long a claimed event stays hidden while Handler runs
	// (default 30s: a consumer that dies leaves it for another).
	BatchSize  int
	Visibility time.Duration
	// DeadLetter makes the move to the DLQ atomic; without it the event is
	// sent to the DLQ and then acked (a crash in between leaves a copy in
	// both queues).
	DeadLetter DeadLetterer
	Logger     *slog.Logger
	Metrics    *Metrics
}

func (c *ConsumerConfig) validate() error {
	switch {
	case c.Queue == nil:
		return errors.New("domain event consumer: Queue is required")
	case c.Handler == nil:
		return errors.New("domain event consumer: Handler is required")
	}
	if err := ValidateNamespace(c.Namespace); err != nil {
		return fmt.Errorf("domain event consumer: namespace %q: %w", c.Namespace, err)
	}
	if c.Pattern == "" {
		c.Pattern = "*"
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = time.Second
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 10
	}
	if c.Visibility <= 0 {
		c.Visibility = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Consumer delivers a namespace's durable events to a handler, at least
// once: an event is acked only after the handler returned nil, retried with
// backoff when it fails, and moved to the dead-letter queue after
// MaxAttempts deliveries. Several consumers (in one process or many) may
// share a queue; each event goes to one of them.
type Consumer struct {
	cfg        ConsumerConfig
	queue, dlq string

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewConsumer validates cfg; nothing runs until Start.
func NewConsumer(cfg ConsumerConfig) (*Consumer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Consumer{cfg: cfg, queue: QueueName(cfg.Namespace), dlq: DeadLetterQueueName(cfg.Namespace)}, nil
}

// Start creates the queues if needed and starts consuming.
func (c *Consumer) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		return errors.New("domain event consumer already started")
	}
	for _, q := range []string{c.queue, c.dlq} {
		if err := c.cfg.Queue.Ensure(ctx, q); err != nil {
			return fmt.Errorf("domain event consumer: %w", err)
		}
	}
	wake, unsubscribe := c.cfg.Queue.Subscribe(c.queue)
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		defer unsubscribe()
		c.loop(rctx, wake)
	}()
	return nil
}

// Stop stops consuming and waits for the handler calls in progress (or for
// ctx); an event whose handler was interrupted is delivered again later.
func (c *Consumer) Stop(ctx context.Context) error {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Consumer) loop(ctx context.Context, wake <-chan struct{}) {
	for {
		n, err := c.RunOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			c.cfg.Logger.Warn("consuming domain events", "queue", c.queue, "err", err)
		}
		if err == nil && n == c.cfg.BatchSize {
			continue // a backlog: claim again at once
		}
		wait := time.Duration(-1) // until a wake-up
		if at, ok, err := c.cfg.Queue.NextVisible(ctx, c.queue); err != nil {
			wait = c.cfg.RetryDelay
		} else if ok {
			wait = max(time.Until(at), time.Millisecond)
		}
		if !c.sleep(ctx, wake, wait) {
			return
		}
	}
}

// sleep waits for a wake-up, or for d when d >= 0; false when ctx ended.
func (c *Consumer) sleep(ctx context.Context, wake <-chan struct{}, d time.Duration) bool {
	var timer <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-wake:
	case <-timer:
	}
	return true
}

// RunOnce claims one batch and delivers it; it returns how many events it
// claimed. Start runs it in a loop; tests and callers with a scheduler of
// their own may call it directly.
func (c *Consumer) RunOnce(ctx context.Context) (int, error) {
	msgs, err := c.cfg.Queue.Claim(ctx, c.queue, messaging.ClaimOptions{N: c.cfg.BatchSize, Visibility: c.cfg.Visibility})
	if err != nil {
		return 0, fmt.Errorf("claiming from %s: %w", c.queue, err)
	}
	var acks []messaging.Receipt
	for _, m := range msgs {
		ack, err := c.deliver(ctx, m)
		if err != nil {
			return len(msgs), err
		}
		if ack {
			acks = append(acks, messaging.ReceiptOf(m))
		}
	}
	if len(acks) > 0 {
		if err := c.cfg.Queue.Ack(ctx, c.queue, acks...); err != nil {
			return len(msgs), fmt.Errorf("acking %s: %w", c.queue, err)
		}
	}
	return len(msgs), nil
}

// deliver hands one message to the handler; it reports whether the message
// is to be acked.
func (c *Consumer) deliver(ctx context.Context, m messaging.Message) (bool, error) {
	e, err := Parse(m.Payload)
	if err != nil {
		c.cfg.Logger.Error("unreadable domain event moved to the dead-letter queue", "queue", c.queue, "msg_id", m.ID, "err", err)
		return false, c.deadLetter(ctx, m, "unreadable")
	}
	if !Matches(c.cfg.Pattern, e.EventName) {
		return true, nil
	}
	herr := callCtx(ctx, c.cfg.Handler, e)
	if herr == nil {
		c.cfg.Metrics.delivery(e.EventName, "durable", "ok")
		return true, nil
	}
	if ctx.Err() != nil {
		return false, nil // stopping: the event comes back after its visibility timeout
	}
	c.cfg.Metrics.delivery(e.EventName, "durable", "failed")
	if m.ReadCount >= c.cfg.MaxAttempts {
		c.cfg.Logger.Error("domain event failed on every attempt; moved to the dead-letter queue",
			"event_name", e.EventName, "event_id", e.EventID, "attempts", m.ReadCount, "err", herr)
		return false, c.deadLetter(ctx, m, e.EventName)
	}
	delay := min(c.cfg.RetryDelay<<min(m.ReadCount-1, 16), time.Minute)
	c.cfg.Logger.Warn("domain event handler failed; retrying", "event_name", e.EventName, "event_id", e.EventID,
		"attempt", m.ReadCount, "retry_in", delay, "err", herr)
	if err := c.cfg.Queue.Nack(ctx, c.queue, delay, messaging.ReceiptOf(m)); err != nil {
		return false, fmt.Errorf("delaying event %s: %w", e.EventID, err)
	}
	return false, nil
}

func (c *Consumer) deadLetter(ctx context.Context, m messaging.Message, name string) error {
	var err error
	if c.cfg.DeadLetter != nil {
		err = c.cfg.DeadLetter.MoveMessage(ctx, c.queue, c.dlq, m)
	} else if err = c.cfg.Queue.Send(ctx, c.dlq, 0, m.Payload); err == nil {
		err = c.cfg.Queue.Ack(ctx, c.queue, messaging.ReceiptOf(m))
	}
	if err != nil {
		return fmt.Errorf("moving message %d to %s: %w", m.ID, c.dlq, err)
	}
	c.cfg.Metrics.delivery(name, "durable", "dead_lettered")
	return nil
}

// callCtx runs a durable subscriber, turning a panic into an error.
func callCtx(ctx context.Context, fn Handler, e Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("subscriber panicked: %v", r)
		}
	}()
	return fn(ctx, e)
}
