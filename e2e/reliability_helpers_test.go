package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/messaging/pgqueue"
	"github.com/tasker-go/tasker/shared/pgnotify"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/testdb"
	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/workers/native"
)

// schemaEnv is processEnv that also returns the schema, for tests that
// inspect it or run an in-process worker on it.
func schemaEnv(t *testing.T, extra ...string) (testdb.DB, []string) {
	db := testdb.New(t)
	return db, append([]string{"DATABASE_URL=" + db.URL, "TASKER__DATABASE__SCHEMA=" + db.Schema, "TASKER_ENV=test",
		"TASKER__WORKER__WEB__ENABLED=false", "TASKER_TEMPLATE_PATH="}, extra...)
}

// executionsTable counts handler executions: one row per call.
const executionsTable = `CREATE TABLE e2e_executions (step_uuid uuid NOT NULL, attempt int NOT NULL,
	worker text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`

// startCountingWorker runs a native Go worker inside the test process on
// db's schema, whose handlers each insert a row into e2e_executions before
// they run (the tasker-worker binary cannot count its executions). It
// registers the example templates and is stopped when the test ends.
func startCountingWorker(t *testing.T, db testdb.DB, pool *pgxpool.Pool, id string) *worker.Core {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	connCfg, err := pgx.ParseConfig(db.URLWithSchema())
	require.NoError(t, err)
	l, err := pgnotify.New(pgnotify.Config{ConnConfig: connCfg, Logger: log})
	require.NoError(t, err)
	require.NoError(t, l.Start(context.Background()))
	t.Cleanup(l.Stop)
	q, err := pgqueue.New(pgqueue.Config{Pool: pool, Schema: db.Schema, Listener: l})
	require.NoError(t, err)
	st, err := store.New(store.Config{Pool: pool, Queue: q, ProcessorID: id, Schema: db.Schema, Logger: log})
	require.NoError(t, err)

	inner := worker.NewRegistry()
	require.NoError(t, native.Register(inner))
	reg := worker.NewRegistry()
	for _, c := range inner.Callables() {
		h, _ := inner.Lookup(c)
		reg.MustRegister(c, worker.HandlerFunc(func(ctx context.Context, step *worker.StepContext) worker.Result {
			_, err := pool.Exec(ctx, `INSERT INTO e2e_executions (step_uuid, attempt, worker) VALUES ($1, $2, $3)`,
				step.StepUUID(), step.Attempt(), id)
			if err != nil {
				return worker.Failure("counting execution: "+err.Error(), "RetryableError", true)
			}
			return h.Handle(ctx, step)
		}))
	}
	examples, err := native.Templates()
	require.NoError(t, err)
	wcfg := *config.Default(config.ContextWorker).Worker
	wcfg.WorkerID = id
	wcfg.Web.Enabled = false
	wcfg.Claims.PollInterval = 200 * time.Millisecond
	w, err := worker.New(worker.Options{Config: wcfg, ExtraTemplates: examples, Store: st, Queue: q, Registry: reg, Logger: log})
	require.NoError(t, err)
	require.NoError(t, w.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = w.Stop(ctx)
	})
	return w
}

// dumpSchema logs where tasks and steps stand and what the queues hold, to
// explain a test that timed out.
func dumpSchema(t *testing.T, pool *pgxpool.Pool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, q := range []string{
		`SELECT 'task ' || state, count(*) FROM tasks GROUP BY state`,
		`SELECT 'step ' || state || ' attempts=' || attempts, count(*) FROM workflow_steps GROUP BY state, attempts`,
		`SELECT 'queue ' || relname, n_live_tup FROM pg_stat_user_tables WHERE relname LIKE 'mq\_%' AND schemaname = current_schema()`,
	} {
		rows, err := pool.Query(ctx, q)
		if err != nil {
			t.Logf("dump: %v", err)
			continue
		}
		for rows.Next() {
			var k string
			var n int64
			_ = rows.Scan(&k, &n)
			t.Logf("dump: %-60s %d", k, n)
		}
		rows.Close()
	}
	rows, err := pool.Query(ctx, `SELECT t.task_uuid, t.state, s.name, s.state, s.attempts FROM tasks t
		JOIN workflow_steps s USING (task_uuid) WHERE t.state NOT IN ('complete', 'error') ORDER BY t.task_uuid LIMIT 20`)
	if err == nil {
		for rows.Next() {
			var task, ts, name, ss string
			var attempts int
			_ = rows.Scan(&task, &ts, &name, &ss, &attempts)
			t.Logf("dump: unfinished task %s (%s) step %s %s attempts=%d", task, ts, name, ss, attempts)
		}
		rows.Close()
	}
}

// getStatus GETs url and returns the HTTP status (0 when unreachable).
func getStatus(ctx context.Context, url string) int {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// pgCluster is a private PostgreSQL cluster on a fixed port, so it can be
// restarted under running processes (the cmd/internal/devpg package does the
// same for `tasker dev` but is internal to cmd/, and picks a new port on every
// start).
type pgCluster struct {
	dir, bin string
	port     int
	cred     *syscall.Credential // set when running as root
}

// findPGBin locates initdb and pg_ctl like devpg does: on PATH, else the
// newest /usr/lib/postgresql/*/bin. Empty when absent.
func findPGBin() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p)
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dirs[i])), 64)
		vj, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dirs[j])), 64)
		return vi > vj
	})
	for _, d := range dirs {
		_, e1 := os.Stat(filepath.Join(d, "initdb"))
		_, e2 := os.Stat(filepath.Join(d, "pg_ctl"))
		if e1 == nil && e2 == nil {
			return d
		}
	}
	return ""
}

// startPrivatePostgres creates and starts a throw-away cluster; it is
// stopped and deleted when the test ends (after the processes registered
// later are killed). The test is skipped when the server binaries are
// missing.
func startPrivatePostgres(t *testing.T) *pgCluster {
	t.Helper()
	bin := findPGBin()
	if bin == "" {
		t.Skip("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under /usr/lib/postgresql/*/bin: " +
			"this test restarts a private cluster")
	}
	dir, err := os.MkdirTemp("", "tasker-e2e-pg-")
	require.NoError(t, err)
	c := &pgCluster{dir: dir, bin: bin}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		for _, name := range []string{"postgres", "nobody"} {
			u, err := user.Lookup(name)
			if err != nil {
				continue
			}
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
			break
		}
		if c.cred == nil {
			t.Skip("running as root with no postgres or nobody user to run PostgreSQL as")
		}
		require.NoError(t, os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c.port = l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())

	require.NoError(t, c.run("initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"))
	require.NoError(t, c.start())
	t.Cleanup(func() {
		// Immediate: the cluster is thrown away.
		if err := c.run("pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "-t", "30", "stop"); err != nil {
			t.Logf("stopping the private cluster: %v", err)
		}
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(c.dir, "postgres.log")); err == nil {
				t.Logf("private PostgreSQL log:\n%s", b)
			}
		}
	})
	return c
}

func (c *pgCluster) data() string { return filepath.Join(c.dir, "data") }

// URL is the cluster's connection string.
func (c *pgCluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

func (c *pgCluster) run(name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	cmd.Dir = c.dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// start starts the server on c.port and waits until it accepts
// connections.
func (c *pgCluster) start() error {
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='%s' -c max_connections=100",
		c.port, c.dir)
	return c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "postgres.log"), "-o", opts, "-w", "-t", "60", "start")
}

// stop stops the server in fast mode: open sessions are disconnected and
// their transactions rolled back.
func (c *pgCluster) stop() error {
	return c.run("pg_ctl", "-D", c.data(), "-m", "fast", "-w", "-t", "60", "stop")
}
