package orchestration

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// loopIdleMax is the longest period a loop backs off to while its runs find
// nothing and nothing happens (loops whose interval is longer keep it).
const loopIdleMax = time.Minute

// loop runs fn every interval on the elected leader (or always when
// leaderOnly is false), each run bounded by timeout, until Stop. It is the
// one shape every background loop of this package shares.
//
// fn reports whether it found work. After a run that found nothing the
// period doubles, up to loopIdleMax; a run that found work, or activity in
// the system (see activity), brings it back to interval. A quiet system so
// costs each loop one query a minute, and a busy one sees no difference.
type loop struct {
	name       string
	interval   time.Duration
	timeout    time.Duration
	leaderOnly bool
	leader     *leader
	activity   *activity
	fn         func(ctx context.Context) (found bool, err error)
	log        *slog.Logger
	// idleMax overrides loopIdleMax (tests).
	idleMax time.Duration
	// period is the current period (for tests).
	period atomic.Int64

	cancel context.CancelFunc
	done   chan struct{}
}

func (l *loop) Start(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel = cancel
	l.done = make(chan struct{})
	go l.run(runCtx)
	return nil
}

func (l *loop) run(ctx context.Context) {
	defer close(l.done)
	idleMax := max(l.interval, loopIdleMax)
	if l.idleMax > 0 {
		idleMax = max(l.interval, l.idleMax)
	}
	period := l.interval
	l.period.Store(int64(period))
	last := time.Now()
	t := time.NewTimer(period)
	defer t.Stop()
	for {
		var woken <-chan struct{}
		if period > l.interval && l.activity != nil {
			woken = l.activity.wait()
		}
		select {
		case <-ctx.Done():
			return
		case <-woken:
			// Back to the normal period, counted from the last run.
			period = l.interval
			l.period.Store(int64(period))
			t.Reset(max(time.Until(last.Add(period)), 0))
			continue
		case <-t.C:
		}
		last = time.Now()
		switch {
		case l.leaderOnly && (l.leader == nil || !l.leader.IsLeader()):
			period = l.interval
		case l.RunOnce(ctx):
			period = l.interval
		default:
			period = min(2*period, idleMax)
		}
		l.period.Store(int64(period))
		t.Reset(period)
	}
}

// RunOnce runs the loop body once now and reports whether it found work (a
// failed run counts as work: it is retried at the normal period).
func (l *loop) RunOnce(ctx context.Context) bool {
	timeout := l.timeout
	if timeout <= 0 {
		timeout = max(l.interval, 10*time.Second)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	found, err := l.fn(cctx)
	if err != nil {
		if ctx.Err() == nil {
			l.log.Warn("background loop run failed", "loop", l.name, "err", err)
		}
		return true
	}
	return found
}

func (l *loop) Stop(ctx context.Context) error {
	if l.cancel == nil {
		return nil
	}
	l.cancel()
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
