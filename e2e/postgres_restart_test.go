package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/shared/store/migrations"
	"github.com/tasker-go/tasker/shared/testdb"
)

var workerWebLine = regexp.MustCompile(`worker web server listening.*addr=(\S+)`)

// slowTaskBy is slowTask with an initiator.
func slowTaskBy(t *testing.T, ctx context.Context, c *client.Client, sleepMS int, initiator string) uuid.UUID {
	task, err := c.CreateTask(ctx, client.TaskRequest{Namespace: "examples_slow", Name: "slow_step", Version: "1.0.0",
		Context: json.RawMessage(fmt.Sprintf(`{"sleep_ms":%d}`, sleepMS)), Initiator: initiator})
	require.NoError(t, err)
	return task.TaskUUID
}

// TestPostgresRestart: a `tasker server` and a `tasker-worker` run against a
// private PostgreSQL cluster, with slow steps in flight and quick tasks
// queued; the cluster is stopped (fast: every session is cut), left down for
// two seconds, and started again on the same port. Both processes must
// report the outage on /health/ready, recover on their own, finish every
// task submitted before the restart, and take new tasks after it; every
// step has exactly one recorded result.
func TestPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and processes")
	}
	pg := startPrivatePostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const schema = "e2e_restart"
	require.NoError(t, migrations.Migrate(ctx, pg.URL(), schema))
	pool := testdb.DB{URL: pg.URL(), Schema: schema}.Pool(t, 4)
	env := []string{"DATABASE_URL=" + pg.URL(), "TASKER__DATABASE__SCHEMA=" + schema, "TASKER_ENV=test",
		"TASKER_TEMPLATE_PATH=", "TASKER__WORKER__WEB__ENABLED=true", "TASKER__WORKER__WEB__BIND_ADDRESS=127.0.0.1:0",
		"TASKER__WORKER__HANDLERS__MIN_CONCURRENT=8", "TASKER__WORKER__HANDLERS__MAX_CONCURRENT=8"}

	srv := start(t, env, "tasker", "server", "--bind", "127.0.0.1:0")
	srvURL := srv.waitLine(t, apiLine)[1]
	c, err := client.New(srvURL)
	require.NoError(t, err)
	wk := start(t, env, "tasker-worker")
	wkURL := "http://" + wk.waitLine(t, workerWebLine)[1]
	wk.waitLine(t, regexp.MustCompile(`tasker-worker started`))

	// Before: slow steps running on the worker, quick tasks behind them.
	demos := reliabilityDemos(t)
	var slow []uuid.UUID
	for range 3 {
		slow = append(slow, slowTaskBy(t, ctx, c, 4000, "pg-before"))
	}
	for _, id := range slow {
		waitStep(t, ctx, c, id, "in_progress")
	}
	wantComplete, wantError, _ := submit(t, ctx, c, demos, 40, "pg-before")
	wantComplete += len(slow)

	began := time.Now()
	require.NoError(t, pg.Stop(ctx))
	stopped := time.Since(began)
	// While the database is down both processes say so.
	require.Eventually(t, func() bool {
		return getStatus(ctx, srvURL+"/health/ready") == http.StatusServiceUnavailable &&
			getStatus(ctx, wkURL+"/health/ready") == http.StatusServiceUnavailable
	}, 10*time.Second, 100*time.Millisecond, "/health/ready did not report the outage")
	<-time.After(2 * time.Second)
	require.NoError(t, pg.Start(ctx))
	t.Logf("PostgreSQL stopped in %v, back %v after the stop began", stopped.Round(time.Millisecond),
		time.Since(began).Round(time.Millisecond))

	// Both processes recover without help.
	require.Eventually(t, func() bool {
		return getStatus(ctx, srvURL+"/health/ready") == http.StatusOK && getStatus(ctx, wkURL+"/health/ready") == http.StatusOK
	}, 30*time.Second, 100*time.Millisecond, "/health/ready never recovered")
	t.Logf("both processes ready %v after the stop began", time.Since(began).Round(time.Millisecond))
	require.Equal(t, http.StatusOK, getStatus(ctx, srvURL+"/health"), "server /health")
	require.Equal(t, http.StatusOK, getStatus(ctx, wkURL+"/health"), "worker /health")
	// The server reports the waiting steps as unserved until the worker has
	// taken its liveness lock back (it claims nothing before), then healthy.
	var h *client.DetailedHealth
	require.Eventually(t, func() bool {
		var err error
		h, err = c.DetailedHealth(ctx)
		return err == nil && h.Status == "healthy"
	}, 30*time.Second, 100*time.Millisecond, "server /health/detailed never healthy again")
	wc, err := client.New(wkURL)
	require.NoError(t, err)
	wh, err := wc.WorkerHealth(ctx)
	require.NoError(t, err)
	require.Equal(t, "healthy", wh.Status, "worker /health/detailed: %+v", wh.Database)

	// After: new tasks are accepted at once and everything finishes.
	afterComplete, afterError, _ := submit(t, ctx, c, demos, 40, "pg-after")
	slowAfter := slowTaskBy(t, ctx, c, 300, "pg-after")
	afterComplete++
	waitTerminal(t, ctx, c, pool, "pg-before", wantComplete, wantError, 60*time.Second)
	waitTerminal(t, ctx, c, pool, "pg-after", afterComplete, afterError, 60*time.Second)
	t.Logf("every task finished %v after the stop began", time.Since(began).Round(time.Millisecond))
	for _, id := range append(slow, slowAfter) {
		steps, err := c.Steps(ctx, id)
		require.NoError(t, err)
		t.Logf("slow task %s: step %s after %d attempt(s)", id, steps[0].CurrentState, steps[0].Attempts)
	}
	// However the outage cut the workers' and orchestration's transactions,
	// no step has a result recorded twice (or none).
	var steps int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM workflow_steps`).Scan(&steps))
	results, withOneResult := countResults(t, ctx, pool)
	require.Equal(t, steps, withOneResult, "steps with exactly one recorded result")
	require.Equal(t, steps, results)
	require.Eventually(t, func() bool {
		h, err := c.DetailedHealth(ctx)
		return err == nil && h.Leader
	}, 10*time.Second, 100*time.Millisecond, "the server never took leadership back")
	for name, p := range map[string]*proc{"tasker server": srv, "tasker-worker": wk} {
		select {
		case <-p.exited:
			t.Fatalf("%s exited: %v", name, p.err)
		default:
		}
		require.NotContains(t, strings.ToLower(p.output()), "panic", name)
	}
}
