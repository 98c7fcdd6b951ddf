package orchestration

import (
	"context"
	"log/slog"
	"time"
)

// loop runs fn every interval on the elected leader (or always when
// leaderOnly is false), each run bounded by timeout, until Stop. It is the
// one shape every background loop of this package shares.
type loop struct {
	name       string
	interval   time.Duration
	timeout    time.Duration
	leaderOnly bool
	leader     *leader
	fn         func(ctx context.Context) error
	log        *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}
}

func (l *loop) Start(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel = cancel
	l.done = make(chan struct{})
	go func() {
		defer close(l.done)
		t := time.NewTicker(l.interval)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
			if l.leaderOnly && (l.leader == nil || !l.leader.IsLeader()) {
				continue
			}
			l.RunOnce(runCtx)
		}
	}()
	return nil
}

// RunOnce runs the loop body once now.
func (l *loop) RunOnce(ctx context.Context) {
	timeout := l.timeout
	if timeout <= 0 {
		timeout = max(l.interval, 10*time.Second)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := l.fn(cctx); err != nil && ctx.Err() == nil {
		l.log.Warn("background loop run failed", "loop", l.name, "err", err)
	}
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
