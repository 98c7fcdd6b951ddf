package systest_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/config"
)

// statementCounter is a pgx tracer that counts the statements sent on every
// connection it is installed on, by SQL text.
type statementCounter struct {
	mu    sync.Mutex
	total int
	last  time.Time
	bySQL map[string]int
}

func newStatementCounter() *statementCounter {
	return &statementCounter{bySQL: map[string]int{}, last: time.Now()}
}

func (c *statementCounter) record(sql string) {
	sql = strings.Join(strings.Fields(sql), " ")
	if len(sql) > 90 {
		sql = sql[:90] + "…"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	c.last = time.Now()
	c.bySQL[sql]++
}

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.record(d.SQL)
	return ctx
}

func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *statementCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (c *statementCounter) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	c.record(d.SQL)
}

func (c *statementCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// snapshot returns the count so far and how long ago the last statement was.
func (c *statementCounter) snapshot() (int, time.Duration, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total, time.Since(c.last), maps.Clone(c.bySQL)
}

// TestIdleSystemIsQuiet: two orchestrators and a worker consuming the eight
// example namespaces, with their default intervals and nothing to do, send
// next to no statements: claim loops and consumers wait for NOTIFY, the
// fallback poll covers every queue in one statement every
// queues.poll_interval, leader election costs nothing while the lock is
// held, and the leader's loops back off while they find nothing. Before
// that redesign this system sent about 18 statements a second.
func TestIdleSystemIsQuiet(t *testing.T) {
	counter := newStatementCounter()
	defaults := config.Default(config.ContextOrchestration)
	s := systest.Start(t, systest.Options{
		Tracer:        counter,
		PollInterval:  defaults.Queues.PollInterval,
		Orchestrators: 2, // a leader and a standby
	})
	require.Len(t, s.Workers, 1)
	require.Greater(t, len(s.Workers[0].Namespaces()), 5, "the worker consumes many queues")
	require.Eventually(t, func() bool { return s.Cores[0].IsLeader() != s.Cores[1].IsLeader() },
		30*time.Second, 10*time.Millisecond)

	// Let start-up settle (each consumer looks at its queue once when it
	// starts): wait for a second without statements, or give up after
	// 15 s and measure anyway (the count then says what kept talking).
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, quiet, _ := counter.snapshot()
		if quiet >= time.Second || time.Now().After(deadline) {
			break
		}
		<-time.After(50 * time.Millisecond)
	}

	// The idle window: a measurement period, not a wait for a condition.
	const window = 5 * time.Second
	before, _, beforeBySQL := counter.snapshot()
	<-time.After(window)
	after, _, afterBySQL := counter.snapshot()

	n := after - before
	// One statement a second for the whole system is the design's bound
	// for one process; this system idles far below it.
	const bound = 5
	t.Logf("idle system: %d statements in %s", n, window)
	if n > bound {
		var lines []string
		for sql, k := range afterBySQL {
			if d := k - beforeBySQL[sql]; d > 0 {
				lines = append(lines, fmt.Sprintf("%5d  %s", d, sql))
			}
		}
		slices.Sort(lines)
		t.Fatalf("an idle system sent %d statements in %s (bound %d):\n%s", n, window, bound, strings.Join(lines, "\n"))
	}
}
