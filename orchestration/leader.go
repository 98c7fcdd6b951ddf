package orchestration

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// leader elects one instance among the orchestrators sharing a database to
// run the cluster-wide loops. It holds a session-level advisory lock on a
// dedicated connection: the lock lives exactly as long as the connection, so
// a crashed leader's lock is released by PostgreSQL and another instance takes
// over at its next attempt.
type leader struct {
	connCfg  *pgx.ConnConfig
	key      int64
	interval time.Duration
	log      *slog.Logger

	isLeader atomic.Bool
	cancel   context.CancelFunc
	done     chan struct{}
}

func newLeader(connCfg *pgx.ConnConfig, key int64, interval time.Duration, log *slog.Logger) *leader {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	return &leader{connCfg: connCfg, key: key, interval: interval, log: log}
}

// IsLeader reports whether this instance holds the lock right now.
func (l *leader) IsLeader() bool { return l.isLeader.Load() }

func (l *leader) Start(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel = cancel
	l.done = make(chan struct{})
	go l.run(runCtx)
	return nil
}

func (l *leader) Stop(ctx context.Context) error {
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

func (l *leader) run(ctx context.Context) {
	defer close(l.done)
	defer l.isLeader.Store(false)
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			_ = conn.Close(context.Background())
		}
	}()
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		conn = l.tick(ctx, conn)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// tick tries to take the lock, or checks that the connection holding it is
// still alive. It returns the connection to keep.
func (l *leader) tick(ctx context.Context, conn *pgx.Conn) *pgx.Conn {
	cctx, cancel := context.WithTimeout(ctx, l.interval)
	defer cancel()
	if conn == nil || conn.IsClosed() {
		c, err := pgx.ConnectConfig(cctx, l.connCfg)
		if err != nil {
			l.lose("connect failed", err)
			return nil
		}
		conn = c
	}
	if l.isLeader.Load() {
		if err := conn.Ping(cctx); err != nil {
			l.lose("lock connection lost", err)
			_ = conn.Close(context.Background())
			return nil
		}
		return conn
	}
	var got bool
	if err := conn.QueryRow(cctx, `SELECT pg_try_advisory_lock($1)`, l.key).Scan(&got); err != nil {
		l.lose("lock attempt failed", err)
		_ = conn.Close(context.Background())
		return nil
	}
	if got {
		l.isLeader.Store(true)
		l.log.Info("elected leader for cluster-wide loops")
	}
	return conn
}

func (l *leader) lose(msg string, err error) {
	if l.isLeader.Swap(false) {
		l.log.Warn("lost leadership: "+msg, "err", err)
	}
}
