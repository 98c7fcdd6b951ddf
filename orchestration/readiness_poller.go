package orchestration

import (
	"context"
	"time"

	"github.com/tasker-go/tasker/shared/config"
)

// readinessPoller is the fallback for lost signals: it finds steps that have
// waited much longer than they should for the message that moves them
// (enqueued with nobody taking it, a claim that lapsed, a retry whose time
// passed, a result orchestration never saw) and sends that message again
// when it is really gone (with the Postgres queue, a step still behind a deep
// queue is left alone). A duplicate is harmless; a lost one would stall a
// task.
func (c *Core) readinessPoller(cfg config.ReadinessPoller, visibility time.Duration) *loop {
	// A message is "late" only well after a healthy system would have moved
	// it: its grace plus a full visibility timeout.
	late := cfg.RetryGrace + visibility
	return &loop{
		name: "readiness_poller", interval: cfg.Interval, leaderOnly: true, leader: c.leader, activity: c.activity, log: c.log,
		fn: func(ctx context.Context) (bool, error) {
			steps, err := c.store.OverdueSteps(ctx, late, cfg.BatchSize)
			if err != nil || len(steps) == 0 {
				return false, err
			}
			sent, err := c.store.NudgeSteps(ctx, steps)
			if err != nil {
				return true, err
			}
			if sent > 0 {
				c.log.Info("re-sent lost messages of stalled steps", "steps", sent, "checked", len(steps))
				c.metrics.nudged.Add(float64(sent))
			}
			return true, nil
		},
	}
}
