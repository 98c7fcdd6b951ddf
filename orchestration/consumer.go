package orchestration

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/tasker-go/tasker/shared/messaging"
)

// consumerConfig configures a batch consumer.
type consumerConfig struct {
	Queue string
	// BatchSize is the most messages one handler call gets.
	BatchSize int
	// Concurrency is how many batches may be handled at once.
	Concurrency int
	// Visibility hides claimed messages this long; a crash makes them
	// visible again after it.
	Visibility time.Duration
	// PollInterval is the fallback poll when no wake-up arrives.
	PollInterval time.Duration
	// RetryDelay hides a batch whose handling failed before it is retried.
	RetryDelay time.Duration
	// Delayed says messages may be sent with a delay: when the queue is
	// empty the consumer then also wakes when the next one becomes visible.
	Delayed bool
}

func (c *consumerConfig) setDefaults() {
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.Visibility <= 0 {
		c.Visibility = 30 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = time.Second
	}
}

// batchHandler handles claimed messages. Messages it wants retried it returns
// an error for: the whole batch is made visible again after RetryDelay. On
// success the handler must have acked every message itself (usually inside
// its own transaction).
type batchHandler func(ctx context.Context, msgs []messaging.Message) error

// consumer claims batches from one queue and hands them to a handler, up to
// Concurrency batches at a time. It claims again at once while batches come
// back full, so a backlog is drained at full speed, and a lone message is
// handled as soon as its wake-up arrives: nothing waits to fill a batch. When
// the queue is empty it sleeps until a wake-up, the fallback poll, or the
// moment the next delayed message becomes visible.
type consumer struct {
	cfg    consumerConfig
	queue  messaging.Queue
	handle batchHandler
	log    *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}
}

func newConsumer(cfg consumerConfig, q messaging.Queue, h batchHandler, log *slog.Logger) *consumer {
	cfg.setDefaults()
	return &consumer{cfg: cfg, queue: q, handle: h, log: log.With("queue", cfg.Queue)}
}

func (c *consumer) Start(ctx context.Context) error {
	if err := c.queue.Ensure(ctx, c.cfg.Queue); err != nil {
		return err
	}
	// The loop outlives the start call's context: it stops on Stop.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	c.done = make(chan struct{})
	wake, unsubscribe := c.queue.Subscribe(c.cfg.Queue)
	go func() {
		defer close(c.done)
		defer unsubscribe()
		c.run(runCtx, wake)
	}()
	return nil
}

// Stop stops claiming and waits for in-flight batches (bounded by ctx).
func (c *consumer) Stop(ctx context.Context) error {
	if c.cancel == nil {
		return nil
	}
	c.cancel()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *consumer) run(ctx context.Context, wake <-chan struct{}) {
	slots := make(chan struct{}, c.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	// Handlers run on a context that is not cancelled by Stop: a batch that
	// started is finished (or fails and becomes visible again).
	handleCtx := context.WithoutCancel(ctx)
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		msgs, err := c.queue.Claim(ctx, c.cfg.Queue, c.cfg.BatchSize, c.cfg.Visibility)
		if err != nil {
			<-slots
			if ctx.Err() == nil {
				c.log.Warn("claiming messages failed", "err", err)
				c.sleep(ctx, wake, c.cfg.PollInterval)
			}
			continue
		}
		if len(msgs) == 0 {
			<-slots
			c.sleep(ctx, wake, c.untilNext(ctx))
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := c.handle(handleCtx, msgs); err != nil {
				c.log.Warn("handling batch failed; it will be retried", "err", err, "messages", len(msgs))
				for _, m := range msgs {
					_ = c.queue.Nack(handleCtx, c.cfg.Queue, m.ID, c.cfg.RetryDelay)
				}
			}
		})
	}
}

// untilNext is how long to sleep when the queue is empty: the fallback poll,
// or less when a delayed message becomes visible sooner.
func (c *consumer) untilNext(ctx context.Context) time.Duration {
	d := c.cfg.PollInterval
	if !c.cfg.Delayed {
		return d
	}
	at, ok, err := c.queue.NextVisible(ctx, c.cfg.Queue)
	if err == nil && ok {
		if until := time.Until(at); until < d {
			d = max(until, time.Millisecond)
		}
	}
	return d
}

func (c *consumer) sleep(ctx context.Context, wake <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-wake:
	case <-t.C:
	}
}
