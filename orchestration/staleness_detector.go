package orchestration

import (
	"context"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/store"
)

// stalenessDetector finds tasks that sat in a waiting state past their
// threshold (the template's lifecycle block, else configuration) or outlived
// their maximum lifetime, and, per the configured action, opens a DLQ
// investigation with a snapshot and moves the task to error.
func (c *Core) stalenessDetector(cfg config.Staleness) *loop {
	th := stalenessThresholds(cfg)
	act := store.StaleAction{
		DLQ:  cfg.Action == config.StalenessDLQ,
		Fail: cfg.Action == config.StalenessDLQ || cfg.Action == config.StalenessError,
	}
	return &loop{
		name: "staleness_detector", interval: cfg.Interval, leaderOnly: true, leader: c.leader, log: c.log,
		fn: func(ctx context.Context) error {
			if !cfg.Enabled {
				return nil
			}
			stale, err := c.store.StaleTasks(ctx, th, cfg.BatchSize)
			if err != nil {
				return err
			}
			for _, st := range stale {
				if cfg.DryRun || (!act.DLQ && !act.Fail) {
					c.log.Warn("stale task (no action taken)", "task", st.TaskUUID, "state", st.State,
						"minutes_in_state", st.MinutesInState, "threshold_minutes", st.ThresholdMinutes)
					continue
				}
				done, err := c.store.HandleStaleTask(ctx, st, act)
				if err != nil {
					return err
				}
				if done {
					c.metrics.stale.Inc()
					c.log.Warn("stale task moved to error", "task", st.TaskUUID, "state", st.State,
						"minutes_in_state", st.MinutesInState, "dlq", act.DLQ)
				}
			}
			return nil
		},
	}
}

func stalenessThresholds(cfg config.Staleness) store.StalenessThresholds {
	return store.StalenessThresholds{
		WaitingForDependencies: cfg.WaitingForDependencies,
		WaitingForRetry:        cfg.WaitingForRetry,
		StepsInProcess:         cfg.StepsInProcess,
		MaxLifetime:            cfg.TaskMaxLifetime,
	}
}
