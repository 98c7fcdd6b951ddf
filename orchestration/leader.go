package orchestration

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// leader elects one instance among the orchestrators sharing a database to
// run the cluster-wide loops. It holds a session-level advisory lock on a
// dedicated connection: the lock lives exactly as long as the connection.
//
// Election costs no periodic queries. An instance that does not hold the
// lock waits for it inside one blocking pg_advisory_lock call, which
// PostgreSQL answers the moment the holder's session ends (a crash, a
// stop, a lost connection), so a standby takes over at once. The holder
// then only waits on its connection for it to fail, without sending
// anything: a dropped connection (PostgreSQL restarted, the server ended
// the session) ends its leadership, and after renew interval it connects
// and queues for the lock again. The session asks PostgreSQL for TCP
// keepalives, so a leader cut off by the network loses its session (and
// the lock) within about a minute instead of the system's default hours.
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
	cfg := connCfg.Copy()
	// The lock wait lasts as long as another instance leads.
	cfg.RuntimeParams["statement_timeout"] = "0"
	cfg.RuntimeParams["tcp_keepalives_idle"] = "30"
	cfg.RuntimeParams["tcp_keepalives_interval"] = "10"
	cfg.RuntimeParams["tcp_keepalives_count"] = "3"
	// A backend waiting for a lock does not read from its client, so a
	// standby that dies while it waits would otherwise stay queued for the
	// lock (and be granted it) until its socket is next written to: with
	// this the server checks every second that the client is still there.
	// (PostgreSQL 14 and newer.)
	cfg.RuntimeParams["client_connection_check_interval"] = "1000"
	// Stop cancels the lock wait on the server too (a closed socket alone
	// would leave the backend queued for the lock).
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: time.Second}
	}
	return &leader{connCfg: cfg, key: key, interval: interval, log: log}
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
	for ctx.Err() == nil {
		l.hold(ctx)
		t := time.NewTimer(l.interval)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// hold connects, waits for the lock and holds it until the connection
// fails or ctx ends.
func (l *leader) hold(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, max(l.interval, 10*time.Second))
	conn, err := pgx.ConnectConfig(cctx, l.connCfg)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			l.log.Debug("leader election: connect failed", "err", err)
		}
		return
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, l.key); err != nil {
		if ctx.Err() == nil {
			l.log.Debug("leader election: waiting for the lock failed", "err", err)
		}
		return
	}
	l.isLeader.Store(true)
	l.log.Info("elected leader for cluster-wide loops")
	// Nothing is LISTENed on this connection: the wait returns only when the
	// connection fails or ctx ends.
	for err == nil {
		err = conn.PgConn().WaitForNotification(ctx)
	}
	l.isLeader.Store(false)
	if ctx.Err() == nil {
		l.log.Warn("lost leadership: lock connection lost", "err", err)
	}
}
