package worker

import "time"

// scaleLoop adapts the handler limit between handlers.min_concurrent and
// handlers.max_concurrent every handlers.scale_interval (only when
// handlers.adaptive is set). The worker starts at the floor. When every slot
// was busy during the interval (peak use at least 80 % of the limit) and the
// namespaces' visible backlog exceeds the free slots, the limit grows by the
// backlog it cannot take, at most doubling per interval. When at most half
// the slots were used it shrinks by a quarter (at least one), never below
// the peak use. Queue depths are read only when the worker is saturated, so
// an idle worker's scaler issues no queries.
func (c *Core) scaleLoop() {
	defer c.bg.Done()
	t := time.NewTicker(c.cfg.Handlers.ScaleInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stopBG:
			return
		case <-t.C:
			c.scale()
		}
	}
}

func (c *Core) scale() {
	lo, hi := c.cfg.Handlers.MinConcurrent, c.cfg.Handlers.MaxConcurrent
	limit, inUse := c.slots.snapshot()
	peak := c.slots.takePeak()
	next := limit
	switch {
	case peak*5 >= limit*4 && limit < hi:
		if need := c.backlog() - (limit - inUse); need > 0 {
			next = min(hi, limit+min(need, limit))
		}
	case peak*2 <= limit && limit > lo:
		next = max(lo, peak, limit-max(1, limit/4))
	}
	if next == limit {
		return
	}
	c.slots.setLimit(next)
	c.metrics.concurrency.Set(float64(next))
	c.log.Debug("handler concurrency changed", "from", limit, "to", next, "peak", peak)
	c.recordLimit(next)
}

// recordLimit writes a changed handler limit to the worker's registry row
// (the overview shows it); it is written only when the limit moves. A
// failure is logged: the next change or registration writes it again.
func (c *Core) recordLimit(limit int) {
	ctx, cancel := c.opCtx()
	defer cancel()
	if err := c.store.UpdateWorkerConcurrency(ctx, c.live.key, limit); err != nil {
		c.log.Debug("recording the handler limit in the workers registry failed", "limit", limit, "err", err)
	}
}

// backlog is the number of visible messages in the worker's queues.
func (c *Core) backlog() int {
	ctx, cancel := c.opCtx()
	defer cancel()
	total := 0
	for _, q := range queuesOf(c.registered().namespaces) {
		st, err := c.queue.Stats(ctx, q)
		if err != nil {
			c.log.Debug("reading queue depth failed", "queue", q, "err", err)
			continue
		}
		total += int(st.Visible)
	}
	return total
}
