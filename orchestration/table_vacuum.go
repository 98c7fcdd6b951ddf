package orchestration

import (
	"context"
	"time"

	"github.com/tasker-go/tasker/shared/config"
)

// tableVacuum vacuums the queue tables, the outbox and tasks when their dead
// rows pile up (see store.VacuumHotTables): claims then cost the same after
// a million messages as on a fresh queue, with autovacuum off or behind. A
// pass that finds nothing to do is one catalog read.
func (c *Core) tableVacuum(cfg config.Vacuum) *loop {
	return &loop{
		name: "table_vacuum", interval: cfg.Interval, leaderOnly: true, leader: c.leader, activity: c.activity, log: c.log,
		// The vacuum of a large tasks table may take minutes; a run cut
		// short would start over on the next pass and never finish.
		timeout: 30 * time.Minute,
		fn: func(ctx context.Context) (bool, error) {
			if !cfg.Enabled {
				return false, nil
			}
			tables, err := c.store.VacuumHotTables(ctx, cfg.MinDeadRows, cfg.DeadFraction)
			if len(tables) > 0 {
				c.metrics.tableVacuums.Add(float64(len(tables)))
				c.log.Debug("vacuumed tables", "tables", tables)
			}
			return len(tables) > 0, err
		},
	}
}
