package orchestration

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/telemetry"
)

// stalenessDetector finds tasks that sat in a waiting state past their
// threshold (the template's lifecycle block, else configuration) or outlived
// their maximum lifetime, and, per the action (the template's lifecycle,
// else configuration; see staleActionFor), opens a DLQ investigation with a
// snapshot and moves the task to error.
func (c *Core) stalenessDetector(cfg config.Staleness) *loop {
	th := stalenessThresholds(cfg)
	return &loop{
		name: "staleness_detector", interval: cfg.Interval, leaderOnly: true, leader: c.leader, activity: c.activity, log: c.log,
		fn: func(ctx context.Context) (bool, error) {
			if !cfg.Enabled {
				return false, nil
			}
			stale, err := c.store.TasksPastStaleness(ctx, th, cfg.BatchSize)
			if err != nil || len(stale) == 0 {
				return false, err
			}
			for _, st := range stale {
				act := staleActionFor(cfg.Action, st)
				if cfg.DryRun || (!act.DLQ && !act.Fail) {
					c.log.Warn("stale task (no action taken)", "task", st.TaskUUID, "state", st.State,
						"minutes_in_state", st.MinutesInState, "threshold_minutes", st.ThresholdMinutes)
					continue
				}
				start := time.Now()
				done, err := c.store.HandleStaleTask(ctx, st, act)
				if err != nil {
					return true, err
				}
				if done && act.Fail {
					c.traceStale(ctx, st, act, start)
				}
				if done {
					c.metrics.stale.Inc()
					c.log.Warn("stale task handled", "task", st.TaskUUID, "state", st.State,
						"minutes_in_state", st.MinutesInState, "dlq", act.DLQ, "moved_to_error", act.Fail)
				}
			}
			return true, nil
		},
	}
}

// staleActionFor is what to do with a stale task: the template's
// lifecycle.staleness_action when it sets one, else the configured action
// (dlq: open an investigation and fail the task; error: fail it; none:
// leave it), then the template's auto_dlq_on_timeout and
// auto_fail_on_timeout, when set, turn each half on or off. An
// investigation without failing leaves the task running, flagged: the
// detector then leaves it alone until the entry is closed.
func staleActionFor(configured config.StalenessAction, st store.StaleTask) store.StaleAction {
	action := configured
	if a := config.StalenessAction(st.StalenessAction); a == config.StalenessDLQ || a == config.StalenessError ||
		a == config.StalenessNone {
		action = a
	}
	act := store.StaleAction{
		DLQ:  action == config.StalenessDLQ,
		Fail: action == config.StalenessDLQ || action == config.StalenessError,
	}
	if st.AutoDLQ != nil {
		act.DLQ = *st.AutoDLQ
	}
	if st.AutoFail != nil {
		act.Fail = *st.AutoFail
	}
	return act
}

func stalenessThresholds(cfg config.Staleness) store.StalenessThresholds {
	return store.StalenessThresholds{
		WaitingForDependencies: cfg.WaitingForDependencies,
		WaitingForRetry:        cfg.WaitingForRetry,
		StepsInProcess:         cfg.StepsInProcess,
		MaxLifetime:            cfg.TaskMaxLifetime,
	}
}

// traceStale records the finalization span of a task the detector moved to
// error: reason staleness_timeout, with the state it was stuck in, how long
// and the threshold, and whether an investigation was opened.
func (c *Core) traceStale(ctx context.Context, st store.StaleTask, act store.StaleAction, start time.Time) {
	c.traceEndedBy(ctx, store.Task{UUID: st.TaskUUID, Namespace: st.Namespace, CorrelationID: st.CorrelationID,
		State: state.TaskError, CreatedAt: st.CreatedAt, TraceParent: st.TraceParent},
		state.TaskEventStalenessTimeout, "staleness_timeout", start,
		telemetry.AttrTaskName.String(st.TaskName),
		attribute.String("stale_state", string(st.State)),
		attribute.Float64("minutes_in_state", st.MinutesInState),
		attribute.Float64("threshold_minutes", st.ThresholdMinutes),
		attribute.Bool("dlq", act.DLQ))
}
