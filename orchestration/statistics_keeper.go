package orchestration

import (
	"context"

	"github.com/tasker-go/tasker/shared/config"
)

// statisticsKeeper analyzes the hot tables when they changed a lot since
// their last analyze, so query plans follow the data while autovacuum is
// still asleep (a fresh installation under load would otherwise run on
// plans made for empty tables). A pass that finds nothing to do is one
// catalog read.
func (c *Core) statisticsKeeper(cfg config.Statistics) *loop {
	return &loop{
		name: "statistics_keeper", interval: cfg.Interval, leaderOnly: true, leader: c.leader, activity: c.activity, log: c.log,
		fn: func(ctx context.Context) (bool, error) {
			if !cfg.Enabled {
				return false, nil
			}
			tables, err := c.store.AnalyzeStale(ctx, cfg.MinChanges, cfg.ChangeFraction)
			if len(tables) > 0 {
				c.log.Debug("analyzed tables", "tables", tables)
			}
			return len(tables) > 0, err
		},
	}
}
