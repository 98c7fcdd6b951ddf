package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tasker-go/tasker/shared/store"
)

// liveness is the worker process's liveness lock (store.HoldLiveness): a
// session-level advisory lock on a connection of its own, taken at Start and
// held until Stop has settled every claim. Every claim records its key, so
// when the process dies PostgreSQL frees the lock and orchestration gives
// the process's steps to another worker at once instead of after their claim
// deadline. The claim loops claim only while the lock is held: a claim made
// without it could be taken for a dead worker's.
type liveness struct {
	key int64 // set by Start, fixed for the life of the Core

	mu      sync.Mutex
	held    bool
	changed chan struct{} // closed when held changes
}

func newLiveness() *liveness { return &liveness{changed: make(chan struct{})} }

// state reports whether the lock is held, and a channel closed at the next
// change.
func (l *liveness) state() (bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held, l.changed
}

func (l *liveness) set(held bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held != held {
		l.held = held
		close(l.changed)
		l.changed = make(chan struct{})
	}
}

// claimer is the identity this worker claims steps under.
func (c *Core) claimer() store.Claimer {
	return store.Claimer{ID: c.cfg.WorkerID, Lock: c.live.key, Callables: c.registered().callables}
}

// takeLiveness takes the liveness lock under a fresh random key (Start).
func (c *Core) takeLiveness(ctx context.Context) (*store.LivenessSession, error) {
	for attempt := 1; ; attempt++ {
		key, err := store.NewLivenessKey()
		if err != nil {
			return nil, fmt.Errorf("worker: %w", err)
		}
		sess, err := c.store.HoldLiveness(ctx, key)
		if errors.Is(err, store.ErrConflict) && attempt < 3 {
			continue // a key in use: draw another
		}
		if err != nil {
			return nil, fmt.Errorf("worker: taking the liveness lock: %w", err)
		}
		c.live.key = key
		c.live.set(true)
		return sess, nil
	}
}

// livenessLoop keeps the liveness lock: it waits (without queries) for the
// session to end, and when it ends while the worker runs (PostgreSQL
// restarted, the connection broke) it pauses claiming, takes the lock again
// under the same key, checks which claims are still the worker's (cancelling
// the handlers of those that are not) and resumes. Orchestration reclaims
// the steps of a lock only after it stayed free for a grace period (and not
// right after PostgreSQL started), which a live worker's reconnection beats.
// On Stop it ends the session, releasing the lock, once every claim was
// settled.
func (c *Core) livenessLoop(sess *store.LivenessSession) {
	defer c.bg.Done()
	ctx := c.liveCtx
	for {
		err := sess.Wait(ctx)
		c.closeLiveness(sess)
		if ctx.Err() != nil {
			c.live.set(false)
			return
		}
		c.live.set(false)
		c.log.Warn("liveness connection lost; claiming paused until the lock is taken again", "err", err)
		if sess = c.retakeLiveness(ctx); sess == nil {
			return
		}
		c.live.set(true)
		c.log.Info("liveness lock taken again; claiming resumes")
		rctx, cancel := c.opCtx()
		if err := c.register(rctx); err != nil {
			c.log.Warn("registering the worker again failed; orchestration may report its steps as unserved", "err", err)
		}
		cancel()
		c.revalidateClaims()
	}
}

// retakeLiveness takes the lock again under the same key, retrying with
// backoff until it succeeds or ctx ends (then it returns nil).
func (c *Core) retakeLiveness(ctx context.Context) *store.LivenessSession {
	delay := 50 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		sess, err := c.store.HoldLiveness(actx, c.live.key)
		cancel()
		if err == nil {
			return sess
		}
		if ctx.Err() != nil {
			return nil
		}
		c.log.Warn("taking the liveness lock again failed; retrying", "err", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, 2*time.Second)
	}
}

func (c *Core) closeLiveness(sess *store.LivenessSession) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.liveCtx), time.Second)
	defer cancel()
	if err := sess.Close(ctx); err != nil {
		c.log.Debug("closing the liveness connection", "err", err)
	}
}

// revalidateClaims asks the database which of the worker's claims are still
// its own after its liveness lock was lost for a while, extending those and
// cancelling the handlers of the others (as the heartbeat does).
func (c *Core) revalidateClaims() {
	c.extendClaims(c.flights.due(time.Now().Add(2 * c.cfg.Claims.VisibilityTimeout)))
}

// reconcileClaims releases the steps claimed by this worker process through
// queue that it is not running: after a claim round whose outcome is unknown
// (the connection died around its COMMIT), the claim may have taken steps
// no handler runs. They go back to the queue without spending an attempt.
// It reports whether it succeeded.
func (c *Core) reconcileClaims(queue string) bool {
	ctx, cancel := c.opCtx()
	defer cancel()
	n, err := c.store.ReleaseOrphanedClaims(ctx, c.claimer(), queue, c.flights.steps())
	if err != nil {
		c.log.Warn("reconciling claims after a claim with an unknown outcome failed; retrying", "queue", queue, "err", err)
		return false
	}
	if n > 0 {
		c.log.Warn("released steps claimed by a claim whose outcome was unknown", "queue", queue, "steps", n)
	}
	return true
}
