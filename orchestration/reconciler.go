package orchestration

import (
	"context"

	"github.com/tasker-go/tasker/shared/config"
)

// reconciler re-drives tasks nothing else will move: left in a transient
// state by an instance that crashed mid-way, or with no step out with a
// worker, in backoff or awaiting orchestration. Re-evaluating a task is
// idempotent, so a false positive costs one transaction.
func (c *Core) reconciler(cfg config.Reconciler) *loop {
	return &loop{
		name: "reconciler", interval: cfg.Interval, leaderOnly: true, leader: c.leader, activity: c.activity, log: c.log,
		fn: func(ctx context.Context) (bool, error) {
			ids, err := c.store.TasksToReconcile(ctx, cfg.ActiveStateGrace, cfg.BatchSize)
			if err != nil || len(ids) == 0 {
				return false, err
			}
			out, err := c.store.Reevaluate(ctx, ids)
			if err != nil {
				return true, err
			}
			c.metrics.reconciled.Add(float64(len(ids)))
			c.observeOutcomes(out)
			return true, nil
		},
	}
}
