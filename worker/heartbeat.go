package worker

import (
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/messaging"
)

// heartbeatLoop keeps the claims of long-running steps alive: every
// claims.heartbeat_interval it pushes the claim deadline of each step whose
// claim would otherwise lapse before the next-but-one beat to
// now+visibility_timeout, in the database and on the queue message alike.
// Steps the database reports as no longer this worker's get their handler
// cancelled with ErrClaimLost. Short steps finish before they are ever due,
// so a worker running only quick steps sends no heartbeat queries.
func (c *Core) heartbeatLoop() {
	defer c.bg.Done()
	t := time.NewTicker(c.cfg.Claims.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stopBG:
			return
		case <-t.C:
			c.heartbeat()
		}
	}
}

func (c *Core) heartbeat() {
	vt, every := c.cfg.Claims.VisibilityTimeout, c.cfg.Claims.HeartbeatInterval
	// Extend claims at least one interval old: their deadline is less than
	// vt-interval away.
	c.extendClaims(c.flights.due(time.Now().Add(vt - every)))
}

// extendClaims pushes the claims of due to now+visibility_timeout, in the
// database and on their messages, and cancels the handlers of those the
// database says are no longer this worker's.
func (c *Core) extendClaims(due []*flight) {
	if len(due) == 0 {
		return
	}
	vt := c.cfg.Claims.VisibilityTimeout
	now := time.Now()
	ids := make([]uuid.UUID, len(due))
	for i, f := range due {
		ids[i] = f.step.Step.UUID
	}
	ctx, cancel := c.opCtx()
	defer cancel()
	deadline := now.Add(vt)
	lost, err := c.store.ExtendClaims(ctx, c.cfg.WorkerID, ids, deadline)
	if err != nil {
		c.log.Warn("extending claims failed; retrying at the next beat", "steps", len(ids), "err", err)
		return
	}
	lostSet := make(map[uuid.UUID]bool, len(lost))
	for _, id := range lost {
		lostSet[id] = true
	}
	live := make([]*flight, 0, len(due))
	byQueue := map[string][]messaging.Receipt{}
	for _, f := range due {
		if !lostSet[f.step.Step.UUID] {
			live = append(live, f)
			byQueue[f.queue] = append(byQueue[f.queue], messaging.Receipt{ID: f.step.MessageID, ReadCount: f.step.ReadCount})
		}
	}
	for q, rs := range byQueue {
		if err := c.queue.Extend(ctx, q, vt, rs...); err != nil {
			c.log.Warn("extending step messages failed", "queue", q, "err", err)
		}
	}
	c.flights.extended(live, deadline)
	if n := c.flights.lose(lost); n > 0 {
		c.log.Warn("claims lost; cancelling their handlers", "steps", n)
	}
}
