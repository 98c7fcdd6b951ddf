package orchestration

import (
	"context"

	"github.com/tasker-go/tasker/shared/config"
)

// retentionMaxBatches bounds one pass: a large backlog drains over several
// passes instead of holding the leader in one long loop.
const retentionMaxBatches = 10

// retention deletes finished tasks older than the configured age, with
// their steps, history, result audit and DLQ entries (tasks with an open
// investigation are kept), in batches of one statement each.
func (c *Core) retention(cfg config.Retention) *loop {
	return &loop{
		name: "retention", interval: cfg.Interval, leaderOnly: true, leader: c.leader, activity: c.activity, log: c.log,
		fn: func(ctx context.Context) (bool, error) {
			if !cfg.Enabled {
				return false, nil
			}
			total := 0
			defer func() {
				if total > 0 {
					c.log.Info("deleted finished tasks", "tasks", total, "finished_before", cfg.KeepFor.String()+" ago")
				}
			}()
			for range retentionMaxBatches {
				n, err := c.store.PurgeFinishedTasks(ctx, cfg.KeepFor, cfg.BatchSize)
				if err != nil {
					return true, err
				}
				total += n
				c.metrics.purged.Add(float64(n))
				if n < cfg.BatchSize || ctx.Err() != nil {
					return total > 0, nil
				}
			}
			return true, nil
		},
	}
}
