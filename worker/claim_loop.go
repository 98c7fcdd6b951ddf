package worker

import (
	"time"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/store"
)

// claimLoop consumes one namespace's queue. It claims as many steps as it
// has free handler slots (up to claims.batch_size) and claims again at once
// while the queue keeps filling its batches. When the queue runs dry it
// waits for a wake-up (a NOTIFY, or the queue's fallback poll, which covers
// every queue of the process in one statement), the moment the next
// delayed message (a retry) becomes visible, or, when every slot is busy, a
// slot freeing up. An idle worker's claim loops issue no queries. It claims
// only while the worker holds its liveness lock, and after a claim round
// whose outcome is unknown (the connection died around its COMMIT) it first
// releases whatever that round may have claimed.
func (c *Core) claimLoop(namespace string) {
	defer c.claimLoops.Done()
	queue := messaging.WorkerQueue(namespace)
	wake, unsubscribe := c.queue.Subscribe(queue)
	defer unsubscribe()
	next := time.NewTimer(time.Hour)
	next.Stop()
	defer next.Stop()

	// The callables the worker claims may change (CallableWatcher): steps
	// of a new callable may be waiting already.
	routes := c.routes.next()
	more := true // look at once: messages may have waited while we were down
	errDelay := time.Duration(0)
	reconcile := false // a claim round's outcome is unknown and not yet reconciled
	for {
		if held, changed := c.live.state(); !held {
			select {
			case <-c.stopClaims:
				return
			case <-changed:
				more = true
				continue
			}
		}
		if reconcile {
			if reconcile = !c.reconcileClaims(queue); reconcile {
				errDelay = min(max(2*errDelay, 50*time.Millisecond), 5*time.Second)
				if sleep(c.stopClaims, errDelay) {
					return
				}
				continue
			}
		}
		var capacity <-chan struct{}
		if more {
			n, changed := c.slots.reserve(c.cfg.Claims.BatchSize)
			if n > 0 {
				got, err := c.claimRound(queue, n)
				if err != nil {
					c.metrics.claimErrs.Inc()
					errDelay = min(max(2*errDelay, 50*time.Millisecond), 5*time.Second)
					c.log.Warn("claiming steps failed; retrying", "queue", queue, "err", err, "retry_in", errDelay)
					if store.OutcomeUnknown(err) {
						// The claim may have committed: release at once
						// what it claimed (retried before the next round
						// if the database does not answer yet).
						reconcile = !c.reconcileClaims(queue)
					}
					if sleep(c.stopClaims, errDelay) {
						return
					}
					continue
				}
				errDelay = 0
				if got == n {
					continue // the queue may hold more
				}
				more = false
				c.scheduleNext(queue, next)
				continue
			}
			capacity = changed // every slot busy: wait for one to free
		}
		select {
		case <-c.stopClaims:
			return
		case <-wake:
			more = true
		case <-next.C:
			more = true
		case <-routes:
			routes = c.routes.next()
			more = true
		case <-capacity:
		}
	}
}

// scheduleNext arms timer for when the queue's next hidden message (a
// delayed retry, or a claim that may lapse) becomes visible. A message
// delayed after this look is announced by its NOTIFY (which leads here
// again) or, if that is lost, found by the queue's fallback poll.
func (c *Core) scheduleNext(queue string, timer *time.Timer) {
	ctx, cancel := c.opCtx()
	defer cancel()
	timer.Stop()
	at, ok, err := c.queue.NextVisible(ctx, queue)
	if err != nil {
		c.log.Warn("reading when the next delayed message appears failed; the poll covers it", "queue", queue, "err", err)
		return
	}
	if !ok {
		return
	}
	timer.Reset(max(time.Until(at), time.Millisecond))
}

// claimRound claims up to n messages (n slots are reserved) and their steps
// in one unit of work (store.ClaimNext, which also settles the messages it
// cannot claim) and dispatches them. Unused
// slots are released. It returns how many messages the queue handed out.
func (c *Core) claimRound(queue string, n int) (int, error) {
	ctx, cancel := c.opCtx()
	defer cancel()
	out, err := c.store.ClaimNext(ctx, c.claimer(), queue, n, c.cfg.Claims.VisibilityTimeout)
	if err != nil {
		c.slots.settle(n, 0)
		return 0, err
	}
	// Start the handlers first; the housekeeping below can wait for them.
	c.slots.settle(n, len(out.Claimed))
	for i := range out.Claimed {
		c.dispatch(&out.Claimed[i], queue, out.Claimed[i].Deadline)
	}
	if k := len(out.Claimed); k > 0 {
		c.stats.claimed.Add(int64(k))
		c.metrics.claimed.WithLabelValues(namespaceOf(queue)).Add(float64(k))
	}
	if out.Exhausted > 0 {
		c.log.Warn("failed steps whose worker died with no attempts left", "queue", queue, "steps", out.Exhausted)
	}
	return out.Messages, nil
}

// namespaceOf recovers the namespace from worker_{ns}_queue.
func namespaceOf(queue string) string {
	const prefix, suffix = "worker_", "_queue"
	if len(queue) > len(prefix)+len(suffix) {
		return queue[len(prefix) : len(queue)-len(suffix)]
	}
	return queue
}
