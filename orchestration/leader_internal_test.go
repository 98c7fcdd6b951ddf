package orchestration

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"log/slog"
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
