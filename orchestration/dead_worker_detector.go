package orchestration

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/pgnotify"
	"github.com/tasker-go/tasker/shared/store"
)

// deadWorkerDetector gives the steps of dead worker processes to other
// workers at once, instead of after their claim deadline. Every worker
// process holds a liveness lock (a session-level advisory lock on a
// connection of its own) while it lives and records its key with each
// claim; PostgreSQL frees the lock the moment the process dies. On the
// leader, the detector looks for steps in progress under a lock nobody holds
// and, once the lock stayed free for cfg.Grace, ends their claims
// (store.ExpireDeadClaims): the next claim of any worker reclaims them. It
// works the same on every queue backend: with a broker the claims are found
// through the open tasks and each released step gets a new message (the
// broker's own redelivery of the dead consumer's message would be deferred
// until the claim deadline).
//
// A live worker is never taken for a dead one: it takes its lock back
// within moments of losing its connection (well inside the grace), claims
// nothing while it does not hold it, and claims made after the lock was
// first seen free are kept. After PostgreSQL starts (every lock was lost)
// nothing is ended for cfg.RestartGrace. The claim deadline stays the
// fallback for a worker that is alive but hung.
//
// It checks every cfg.Interval while steps are in progress, and otherwise
// every cfg.IdleInterval unless a task event (a claim, a result) wakes it:
// an idle system costs one query per idle interval, on the leader only.
type deadWorkerDetector struct {
	cfg      config.DeadWorkers
	store    *store.Store
	leader   *leader
	log      *slog.Logger
	released prometheus.Counter
	listener *pgnotify.Listener // task event wake-ups; nil: none

	cancel context.CancelFunc
	done   chan struct{}

	// freeSince is when each free lock with claims was first seen free
	// (database clock); run goroutine only.
	freeSince map[int64]time.Time
}

func (c *Core) deadWorkerDetector(cfg config.DeadWorkers, l *pgnotify.Listener) *deadWorkerDetector {
	return &deadWorkerDetector{cfg: cfg, store: c.store, leader: c.leader, log: c.log,
		released: c.metrics.deadWorkerSteps, listener: l, freeSince: map[int64]time.Time{}}
}

func (d *deadWorkerDetector) Start(ctx context.Context) error {
	d.done = make(chan struct{})
	if !d.cfg.Enabled {
		close(d.done)
		return nil
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel = cancel
	var wake <-chan struct{}
	var unsubscribe func()
	if d.listener != nil && d.store.EventsChannel() != "" {
		sub := d.listener.SubscribeWake(d.store.EventsChannel(), "")
		wake, unsubscribe = sub.Wake(), sub.Close
	}
	go d.run(runCtx, wake, unsubscribe)
	return nil
}

func (d *deadWorkerDetector) Stop(ctx context.Context) error {
	if d.cancel == nil {
		return nil
	}
	d.cancel()
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *deadWorkerDetector) run(ctx context.Context, wake <-chan struct{}, unsubscribe func()) {
	defer close(d.done)
	if unsubscribe != nil {
		defer unsubscribe()
	}
	timer := time.NewTimer(d.cfg.Interval)
	defer timer.Stop()
	due := time.Now().Add(d.cfg.Interval)
	arm := func(after time.Duration) {
		timer.Reset(after)
		due = time.Now().Add(after)
	}
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-wake:
			// Work was seen: check soon, but at most once per interval.
			if at := last.Add(d.cfg.Interval); time.Now().Before(at) {
				if due.After(at) {
					arm(time.Until(at))
				}
				continue
			}
		}
		if !d.leader.IsLeader() {
			clear(d.freeSince)
			arm(d.cfg.Interval)
			continue
		}
		last = time.Now()
		arm(d.check(ctx))
	}
}

// check looks once and ends the claims of locks free for the grace period;
// it returns when to look next.
func (d *deadWorkerDetector) check(ctx context.Context) time.Duration {
	cctx, cancel := context.WithTimeout(ctx, max(d.cfg.Interval, 10*time.Second))
	defer cancel()
	scan, err := d.store.ClaimsInFlight(cctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("looking for dead workers failed", "err", err)
		}
		return d.cfg.Interval
	}
	if scan.Now.Sub(scan.PostgresStarted) < d.cfg.RestartGrace {
		// PostgreSQL (re)started: every worker lost its lock; let the
		// live ones take theirs back.
		clear(d.freeSince)
		return d.cfg.Interval
	}
	next := d.cfg.IdleInterval
	if scan.InProgress() > 0 {
		next = d.cfg.Interval
	}
	free := map[int64]bool{}
	for _, cl := range scan.Claimers {
		if cl.Lock == 0 || cl.Held || cl.Steps == 0 {
			continue
		}
		free[cl.Lock] = true
		since, seen := d.freeSince[cl.Lock]
		if !seen {
			d.freeSince[cl.Lock] = scan.Now
			next = min(next, d.cfg.Grace)
			continue
		}
		if wait := d.cfg.Grace - scan.Now.Sub(since); wait > 0 {
			next = min(next, wait)
			continue
		}
		steps, err := d.store.ExpireDeadClaims(cctx, cl.Lock, since)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("releasing the steps of a dead worker failed; retrying", "liveness_lock", cl.Lock, "err", err)
			}
			next = d.cfg.Interval
			continue
		}
		delete(d.freeSince, cl.Lock)
		if len(steps) > 0 {
			d.released.Add(float64(len(steps)))
			d.log.Warn("worker process gone (its liveness lock is free); its steps go to other workers",
				"liveness_lock", cl.Lock, "steps", len(steps), "lock_free_for", scan.Now.Sub(since).Round(time.Millisecond))
		}
	}
	for k := range d.freeSince {
		if !free[k] {
			delete(d.freeSince, k)
		}
	}
	return next
}
