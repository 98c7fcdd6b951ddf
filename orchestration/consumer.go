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
	// PollInterval, when set, is a poll of the consumer's own when no
	// wake-up arrives. Zero (the services' setting): none, because the
	// queue's wake-ups already include its fallback poll (see
	// messaging.Driver.Subscribe).
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
	if c.RetryDelay <= 0 {
		c.RetryDelay = time.Second
	}
}

// claimHandler claims up to n messages itself and handles them, in one
// transaction. It calls claimed with the number of messages it took as soon
// as the claim returned (so the consumer can claim the next batch while
// this one is handled), and returns the ids it claimed; after an error the
// consumer hides them for RetryDelay.
type claimHandler func(ctx context.Context, n int, claimed func(int)) ([]int64, error)

// batchHandler handles claimed messages. Messages it wants retried it returns
// an error for: the whole batch is made visible again after RetryDelay. On
// success the handler must have acked every message itself (usually inside
// its own transaction).
type batchHandler func(ctx context.Context, msgs []messaging.Message) error

// consumer claims batches from one queue and hands them to a handler, up to
// Concurrency batches at a time. It claims again at once while batches come
// back full, so a backlog is drained at full speed, and a lone message is
// handled as soon as its wake-up arrives: nothing waits to fill a batch. When
// the queue is empty it sleeps until a wake-up (a NOTIFY or the queue's
// fallback poll), or the moment the next delayed message becomes visible.
// After a failure it waits RetryDelay.
type consumer struct {
	cfg    consumerConfig
	queue  messaging.Driver
	handle batchHandler
	// claimHandle, when set, replaces the queue's claim and handle: the
	// handler claims inside its own transaction.
	claimHandle claimHandler
	// onWake, when set, is called for every wake-up the consumer takes.
	onWake func()
	log    *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}
}

func newConsumer(cfg consumerConfig, q messaging.Driver, h batchHandler, log *slog.Logger) *consumer {
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
		if c.claimHandle != nil {
			c.claimAndHandle(ctx, handleCtx, wake, slots, &wg)
			continue
		}
		msgs, err := c.queue.Claim(ctx, c.cfg.Queue, messaging.ClaimOptions{N: c.cfg.BatchSize, Visibility: c.cfg.Visibility})
		if err != nil {
			<-slots
			if ctx.Err() == nil {
				c.log.Warn("claiming messages failed", "err", err)
				c.sleep(ctx, wake, c.cfg.RetryDelay)
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
				c.hide(handleCtx, messaging.ReceiptsOf(msgs))
			}
		})
	}
}

// hide hides the messages of a failed batch for the retry delay, so a
// failing batch is not retried in a loop. Should that fail, they reappear
// at the end of their visibility timeout instead.
func (c *consumer) hide(ctx context.Context, receipts []messaging.Receipt) {
	if len(receipts) == 0 {
		return
	}
	if err := c.queue.Nack(ctx, c.cfg.Queue, c.cfg.RetryDelay, receipts...); err != nil {
		c.log.Warn("hiding the messages of a failed batch failed; they reappear at their visibility timeout",
			"messages", len(receipts), "err", err)
	}
}

// claimAndHandle runs one claimHandle call holding the slot it was given,
// and returns once its claim is known: at once to claim again when it took
// messages, after a sleep when the queue was empty or the claim failed.
func (c *consumer) claimAndHandle(ctx, handleCtx context.Context, wake <-chan struct{}, slots chan struct{}, wg *sync.WaitGroup) {
	took := make(chan int, 1)
	wg.Go(func() {
		defer func() { <-slots }()
		reported := false
		report := func(n int) {
			if !reported {
				reported = true
				took <- n
			}
		}
		ids, err := c.claimHandle(handleCtx, c.cfg.BatchSize, report)
		if err != nil {
			report(-1)
			if len(ids) > 0 {
				c.log.Warn("handling batch failed; it will be retried", "err", err, "messages", len(ids))
			} else if ctx.Err() == nil {
				c.log.Warn("claiming messages failed", "err", err)
			}
			// The claim was part of the failed unit of work: the
			// messages are no longer claimed, so they are named by id.
			rs := make([]messaging.Receipt, len(ids))
			for i, id := range ids {
				rs[i] = messaging.Receipt{ID: id}
			}
			c.hide(handleCtx, rs)
		}
		report(0)
	})
	switch n := <-took; {
	case n < 0:
		c.sleep(ctx, wake, c.cfg.RetryDelay)
	case n == 0:
		c.sleep(ctx, wake, c.untilNext(ctx))
	}
}

// untilNext is how long to sleep when the queue is empty: the consumer's
// own poll if it has one, or less when a delayed message becomes visible
// sooner; zero for no limit (until a wake-up).
func (c *consumer) untilNext(ctx context.Context) time.Duration {
	d := c.cfg.PollInterval
	if !c.cfg.Delayed {
		return d
	}
	at, ok, err := c.queue.NextVisible(ctx, c.cfg.Queue)
	if err == nil && ok {
		if until := time.Until(at); d <= 0 || until < d {
			d = max(until, time.Millisecond)
		}
	}
	return d
}

// sleep waits for a wake-up, for d (no limit when d is zero), or for ctx.
func (c *consumer) sleep(ctx context.Context, wake <-chan struct{}, d time.Duration) {
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ctx.Done():
	case <-wake:
		if c.onWake != nil {
			c.onWake()
		}
	case <-timeout:
	}
}
