package orchestration

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/testdb"
)

// statementCount counts the statements sent on the connections it traces.
type statementCount struct{ n atomic.Int64 }

func (c *statementCount) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *statementCount) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestLeaderElectionCostsNoQueriesAndSurvivesALostSession: two instances
// elect one leader with one statement each (the standby's lock wait) and
// then send nothing; when the leader's session ends (here: terminated by an
// administrator, as a crash or a restart would end it) the standby takes
// over at once and the old leader, whose connection failed, stops leading
// and queues for the lock again (one more statement).
func TestLeaderElectionCostsNoQueriesAndSurvivesALostSession(t *testing.T) {
	db := testdb.New(t)
	counter := &statementCount{}
	cc, err := pgx.ParseConfig(db.URLWithSchema())
	require.NoError(t, err)
	cc.Tracer = counter
	var b [8]byte
	_, _ = rand.Read(b[:])
	key := int64(binary.LittleEndian.Uint64(b[:]) >> 1) // private to this test
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	a := newLeader(cc, key, 100*time.Millisecond, log)
	z := newLeader(cc, key, 100*time.Millisecond, log)
	require.NoError(t, a.Start(ctx))
	defer func() { require.NoError(t, a.Stop(ctx)) }()
	require.NoError(t, z.Start(ctx))
	defer func() { require.NoError(t, z.Stop(ctx)) }()

	require.Eventually(t, func() bool { return a.IsLeader() != z.IsLeader() && counter.n.Load() == 2 },
		20*time.Second, 10*time.Millisecond, "one leader, and both have sent their lock statement")
	leader, standby := a, z
	if z.IsLeader() {
		leader, standby = z, a
	}

	// Ten of the old renew intervals pass; nobody sends anything. (A
	// measurement window, not a wait for a condition.)
	<-time.After(time.Second)
	require.EqualValues(t, 2, counter.n.Load(), "no statements while the lock is held and waited for")
	require.True(t, leader.IsLeader())

	admin, err := pgx.Connect(ctx, db.URL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	var terminated int
	require.NoError(t, admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND classid = $1 AND objid = $2 AND objsubid = 1`,
		uint32(uint64(key)>>32), uint32(uint64(key))).Scan(&terminated))
	require.Equal(t, 1, terminated)

	require.Eventually(t, func() bool { return standby.IsLeader() && !leader.IsLeader() }, 20*time.Second,
		10*time.Millisecond, "the standby takes over; the old leader notices its lost session")
	require.Eventually(t, func() bool { return counter.n.Load() == 3 }, 20*time.Second, 10*time.Millisecond,
		"the old leader queues for the lock again")
	require.False(t, leader.IsLeader())
}

// TestDeadStandbyLeavesTheLockQueue: a standby whose process dies while it
// waits for the leader lock must not stay queued for the lock. A backend
// blocked in a lock wait does not read from its client, so without a
// client connection check it would linger (and be granted the lock) until
// its socket is next written to. Here the standby reaches PostgreSQL
// through a proxy that is cut as a dying process's sockets are.
func TestDeadStandbyLeavesTheLockQueue(t *testing.T) {
	db := testdb.New(t)
	cc, err := pgx.ParseConfig(db.URLWithSchema())
	require.NoError(t, err)
	var b [8]byte
	_, _ = rand.Read(b[:])
	key := int64(binary.LittleEndian.Uint64(b[:]) >> 1) // private to this test
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	holder, err := pgx.Connect(ctx, db.URL)
	require.NoError(t, err)
	defer holder.Close(context.WithoutCancel(ctx))
	_, err = holder.Exec(ctx, `SELECT pg_advisory_lock($1)`, key)
	require.NoError(t, err)

	p := startCutProxy(t, fmt.Sprintf("%s:%d", cc.Host, cc.Port))
	viaProxy := cc.Copy()
	viaProxy.Host, viaProxy.Port = "127.0.0.1", p.port()
	standby := newLeader(viaProxy, key, time.Hour, slog.New(slog.DiscardHandler))
	require.NoError(t, standby.Start(ctx))
	defer func() { require.NoError(t, standby.Stop(ctx)) }()

	waiting := func() (pid int) {
		_ = holder.QueryRow(ctx, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND classid = $1 AND objid = $2 AND objsubid = 1`,
			uint32(uint64(key)>>32), uint32(uint64(key))).Scan(&pid)
		return pid
	}
	var pid int
	require.Eventually(t, func() bool { pid = waiting(); return pid != 0 }, 20*time.Second, 10*time.Millisecond,
		"the standby queues for the lock")

	p.cut() // the standby's process is gone: its sockets close
	require.Eventually(t, func() bool {
		n := -1
		_ = holder.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&n)
		return n == 0
	}, 15*time.Second, 20*time.Millisecond, "the dead standby's backend %d stays queued for the lock", pid)
	require.False(t, standby.IsLeader())
}

// cutProxy forwards TCP connections to a server until cut, which closes
// every connection at once and refuses new ones.
type cutProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{ln: ln}
	t.Cleanup(p.cut)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			var d net.Dialer
			s, err := d.DialContext(context.Background(), "tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); _ = s.Close() }()
			go func() { _, _ = io.Copy(c, s); _ = c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) port() uint16 { return uint16(p.ln.Addr().(*net.TCPAddr).Port) } //nolint:gosec // a TCP port fits

func (p *cutProxy) cut() {
	_ = p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}
