package riverbench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// chainLen is the number of jobs in one chain: River's equivalent of our
// 4-step linear workflow.
const chainLen = 4

// appName marks the benchmark's pool connections in pg_stat_activity so that
// the stats reader can wait for them to exit (and flush their counters).
const appName = "river-baseline"

// stepArgs are the arguments of every job of a chain.
type stepArgs struct {
	Chain int64 `json:"chain"`
	Step  int   `json:"step"`
}

func (stepArgs) Kind() string { return "tasker_bench_chain_step" }

// stepWorker does no work beyond the chain bookkeeping: in one transaction it
// inserts the next job of the chain (unless this is the last one) and marks
// itself completed with river.JobCompleteTx.
type stepWorker struct {
	river.WorkerDefaults[stepArgs]
	pool    *pgxpool.Pool
	tracker *tracker
}

func (w *stepWorker) Work(ctx context.Context, job *river.Job[stepArgs]) error {
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	if job.Args.Step < chainLen {
		client := river.ClientFromContext[pgx.Tx](ctx)
		next := stepArgs{Chain: job.Args.Chain, Step: job.Args.Step + 1}
		if _, err := client.InsertTx(ctx, tx, next, nil); err != nil {
			return fmt.Errorf("insert step %d of chain %d: %w", next.Step, next.Chain, err)
		}
	}
	if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
		return fmt.Errorf("complete step %d of chain %d: %w", job.Args.Step, job.Args.Chain, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if job.Args.Step == chainLen {
		w.tracker.committed(job.Args.Chain, time.Now())
	}
	return nil
}

// tracker turns River's completion events (and the workers' commit times)
// into per-chain signals.
type tracker struct {
	mu      sync.Mutex
	waiters map[int64]chan time.Time
	commits map[int64]time.Time

	// Counting mode (throughput): target chains, how many finished, when the
	// last finished, closed when count reaches target.
	target, count int
	last          time.Time
	done          chan struct{}

	failOnce sync.Once
	failed   chan struct{}
	failErr  error
}

func newTracker() *tracker {
	return &tracker{
		waiters: map[int64]chan time.Time{},
		commits: map[int64]time.Time{},
		failed:  make(chan struct{}),
	}
}

// expect registers interest in a chain; call it before inserting job 1.
func (t *tracker) expect(chain int64) <-chan time.Time {
	ch := make(chan time.Time, 1)
	t.mu.Lock()
	t.waiters[chain] = ch
	t.mu.Unlock()
	return ch
}

// count switches to counting mode for the next n finished chains.
func (t *tracker) countNext(n int) <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.target, t.count, t.last = n, 0, time.Time{}
	t.done = make(chan struct{})
	return t.done
}

func (t *tracker) lastFinished() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

func (t *tracker) finished(chain int64, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ch, ok := t.waiters[chain]; ok {
		ch <- at
		delete(t.waiters, chain)
	}
	if t.target > 0 && t.count < t.target {
		t.count++
		t.last = at
		if t.count == t.target {
			close(t.done)
		}
	}
}

func (t *tracker) committed(chain int64, at time.Time) {
	t.mu.Lock()
	t.commits[chain] = at
	t.mu.Unlock()
}

func (t *tracker) commitTime(chain int64) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.commits[chain]
	return at, ok
}

func (t *tracker) fail(err error) {
	t.failOnce.Do(func() {
		t.failErr = err
		close(t.failed)
	})
}

// env is one running River client with its pool.
type env struct {
	pool      *pgxpool.Pool
	client    *river.Client[pgx.Tx]
	tracker   *tracker
	counter   *stmtCounter
	cancelSub func()
	dispatch  sync.WaitGroup
}

func newPool(ctx context.Context, cfg *Config, counter *stmtCounter) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("--database-url: %w", err)
	}
	pc.MaxConns = int32(cfg.MaxConns)
	// River is told the schema explicitly (Config.Schema); setting
	// search_path as well is what riverpgxv5.New asks of the pool.
	pc.ConnConfig.RuntimeParams["search_path"] = cfg.Schema
	pc.ConnConfig.RuntimeParams["application_name"] = appName
	if counter != nil {
		pc.ConnConfig.Tracer = counter
	}
	return pgxpool.NewWithConfig(ctx, pc)
}

func logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// migrate runs River's migrations into cfg.Schema.
func migrate(ctx context.Context, cfg *Config) (int, error) {
	pool, err := newPool(ctx, cfg, nil)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: cfg.Schema, Logger: logger()})
	if err != nil {
		return 0, err
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return 0, fmt.Errorf("river migrations: %w", err)
	}
	return len(res.Versions), nil
}

// startEnv creates a pool and a started River client subscribed to job
// completion and failure events. expectedEvents sizes the subscription
// buffer so that a burst of completions is never dropped.
func startEnv(ctx context.Context, cfg *Config, expectedEvents int) (*env, error) {
	counter := &stmtCounter{}
	pool, err := newPool(ctx, cfg, counter)
	if err != nil {
		return nil, err
	}
	e := &env{pool: pool, tracker: newTracker(), counter: counter}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &stepWorker{pool: pool, tracker: e.tracker}); err != nil {
		pool.Close()
		return nil, err
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Schema:            cfg.Schema,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:           workers,
		FetchCooldown:     cfg.FetchCooldown,
		FetchPollInterval: cfg.FetchPoll,
		Logger:            logger(),
	})
	if err != nil {
		pool.Close()
		return nil, err
	}
	e.client = client
	events, cancel := client.SubscribeConfig(&river.SubscribeConfig{
		ChanSize: max(1000, expectedEvents+1000),
		Kinds:    []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed},
	})
	e.cancelSub = cancel
	e.dispatch.Go(func() { e.dispatchEvents(events) })
	if err := client.Start(ctx); err != nil {
		e.stop(ctx)
		return nil, fmt.Errorf("start river client: %w", err)
	}
	return e, nil
}

func (e *env) dispatchEvents(events <-chan *river.Event) {
	for ev := range events {
		at := time.Now()
		if ev.Job == nil {
			continue
		}
		var a stepArgs
		if err := json.Unmarshal(ev.Job.EncodedArgs, &a); err != nil {
			e.tracker.fail(fmt.Errorf("job %d: decode args: %w", ev.Job.ID, err))
			continue
		}
		switch ev.Kind {
		case river.EventKindJobCompleted:
			if a.Step == chainLen {
				e.tracker.finished(a.Chain, at)
			}
		case river.EventKindJobFailed:
			msg := "no error recorded"
			if n := len(ev.Job.Errors); n > 0 {
				msg = ev.Job.Errors[n-1].Error
			}
			e.tracker.fail(fmt.Errorf("job %d (chain %d step %d) failed: %s", ev.Job.ID, a.Chain, a.Step, msg))
		}
	}
}

// stop stops the client gracefully and closes the pool.
func (e *env) stop(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	if e.client != nil {
		stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := e.client.Stop(stopCtx); err != nil && !errors.Is(err, context.Canceled) {
			slog.Default().Warn("river client stop", "err", err)
		}
		cancel()
	}
	if e.cancelSub != nil {
		e.cancelSub()
	}
	e.dispatch.Wait()
	e.pool.Close()
}

// waitChain waits for one chain's final completion event.
func (e *env) waitChain(ctx context.Context, ch <-chan time.Time) (time.Time, error) {
	select {
	case at := <-ch:
		return at, nil
	case <-e.tracker.failed:
		return time.Time{}, e.tracker.failErr
	case <-ctx.Done():
		return time.Time{}, fmt.Errorf("waiting for a chain to complete: %w (see --timeout)", ctx.Err())
	}
}
