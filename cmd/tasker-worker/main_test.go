package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/internal/testlog"
	"github.com/tasker-go/tasker/shared/testdb"
)

// runWorkerEnv, when set to 1 in the environment, makes the test binary
// run the worker (run, as main does) instead of the tests: the
// two-process trace test starts the worker as an OS process of its own
// this way, without building the binary first.
const runWorkerEnv = "TASKER_WORKER_TEST_RUN_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(runWorkerEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, nil, os.Environ(), os.Stderr)
		stop()
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}

func TestFlagsAndConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		args, environ []string
		code          int
		says          string
	}{
		{args: []string{"--bogus"}, code: 2, says: "flag provided but not defined"},
		{args: []string{"extra"}, code: 2, says: `unexpected argument "extra"`},
		{args: []string{"--help"}, code: 0, says: "-config-root"},
		{args: []string{"--env", "staging"}, code: 1, says: `unknown environment "staging"`},
		{environ: []string{"TASKER__WORKER__CLAIMS__BATCH_SIZE=0"}, code: 1, says: "batch_size"},
		{args: []string{"--config-root", "/does/not/exist"}, code: 1, says: "config root"},
		{args: []string{"--wasm-modules", "/does/not/exist"}, code: 1, says: "wasm: ModulePaths: stat /does/not/exist"},
		{environ: []string{"TASKER_WASM_MODULES=/nope"}, code: 1, says: "wasm: ModulePaths: stat /nope"},
		{args: []string{"--wasm-map", "X"}, code: 2, says: `want CALLABLE=module/function, got "X"`},
		{args: []string{"--wasm-map", "A=m/f"}, code: 1, says: "worker.wasm.callables: mappings need module_paths"},
		{args: []string{"--wasm-modules", "/tmp", "--wasm-memory-mib", "9999"}, code: 1, says: "worker.wasm.memory_limit_mib: must be between 1 and 4096"},
		{args: []string{"--wasm-modules", "/tmp", "--wasm-map", "A=m"}, code: 1, says: `worker.wasm.callables: "A=m": the handler "m" is not module/function`},
		{environ: []string{"TASKER__WORKER__WASM__MODULE_PATHS=/from/config"}, code: 1, says: "wasm: ModulePaths: stat /from/config"},
		{environ: []string{"TASKER__WORKER__WASM__MODULE_PATHS=/from/config"}, args: []string{"--wasm-modules", "/from/flag"}, code: 1,
			says: "wasm: ModulePaths: stat /from/flag"},
	} {
		var out testlog.Buffer
		require.Equal(t, tc.code, run(context.Background(), tc.args, tc.environ, &out), "%v %v", tc.args, tc.environ)
		require.Contains(t, out.String(), tc.says)
	}
}

// The worker honours TASKER_CONFIG_ROOT as the tasker commands do, and
// --config-root wins over it.
func TestConfigRootFromEnvironment(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out testlog.Buffer
	// A database nobody answers on: if the root were ignored, the worker
	// would fail to connect rather than run against a real one.
	environ := []string{"TASKER_CONFIG_ROOT=/does/not/exist", "DATABASE_URL=postgres://nobody@127.0.0.1:1/x?connect_timeout=2"}
	require.Equal(t, 1, run(ctx, nil, environ, &out))
	require.Contains(t, out.String(), "/does/not/exist: config root")

	root := t.TempDir()
	for _, dir := range []string{"shared", "orchestration", "worker"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, dir), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, dir, "base.toml"), nil, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "worker", "base.toml"), []byte("[worker.claims]\nbatch_size = 0\n"), 0o644))
	out = testlog.Buffer{}
	require.Equal(t, 1, run(ctx, []string{"--config-root", root}, environ, &out))
	require.Contains(t, out.String(), filepath.Join(root, "worker", "base.toml")+": worker.claims.batch_size: must be between 1 and 10000")
}

// Against a schema that was never migrated the worker says what to do, as
// tasker server does, instead of failing on a missing table.
func TestUnmigratedSchemaIsExplained(t *testing.T) {
	db := testdb.Empty(t)
	environ := []string{
		"DATABASE_URL=" + db.URL,
		"TASKER_ENV=test",
		"TASKER__DATABASE__SCHEMA=" + db.Schema,
		"TASKER__WORKER__WEB__BIND_ADDRESS=127.0.0.1:0",
		"TASKER_TEMPLATE_PATH=" + t.TempDir(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out testlog.Buffer
	require.Equal(t, 1, run(ctx, nil, environ, &out))
	require.Contains(t, out.String(), `tasker-worker: schema "`+db.Schema+`": the database has no Tasker schema: run `+"`tasker migrate up`"+` first`)
	require.NotContains(t, out.String(), "does not exist")
}

// TestServesUntilCancelled starts the real worker binary's wiring against a
// migrated schema, waits until it registered its built-in templates, then
// stops it as SIGTERM would.
func TestServesUntilCancelled(t *testing.T) {
	db := testdb.New(t)
	pool := db.Pool(t, 2)
	environ := []string{
		"DATABASE_URL=" + db.URL,
		"TASKER_ENV=test",
		"TASKER__DATABASE__SCHEMA=" + db.Schema,
		"TASKER__WORKER__WEB__BIND_ADDRESS=127.0.0.1:0",
		"TASKER_TEMPLATE_PATH=" + t.TempDir(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out testlog.Buffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, nil, environ, &out) }()
	require.Eventually(t, func() bool {
		var n int
		err := pool.QueryRow(context.Background(), `SELECT count(*) FROM named_tasks`).Scan(&n)
		return err == nil && n > 0
	}, 30*time.Second, 20*time.Millisecond, "the worker registers its templates; log:\n%s", &out)
	require.Eventually(t, func() bool { return bytes.Contains([]byte(out.String()), []byte("tasker-worker started")) },
		10*time.Second, 10*time.Millisecond)
	cancel()
	select {
	case c := <-code:
		require.Zero(t, c, out.String())
	case <-time.After(10 * time.Second):
		t.Fatal("the worker did not stop")
	}
	require.Contains(t, out.String(), "worker stopped")
}

// TestBusyPortIsExplained: a worker whose API port is taken stops and says
// which port and how to choose another, instead of a bare "address already
// in use".
func TestBusyPortIsExplained(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	addr := busy.Addr().String()
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)

	db := testdb.New(t)
	environ := []string{
		"DATABASE_URL=" + db.URL,
		"TASKER_ENV=test",
		"TASKER__DATABASE__SCHEMA=" + db.Schema,
		"TASKER__WORKER__WEB__BIND_ADDRESS=" + addr,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out testlog.Buffer
	require.Equal(t, 1, run(ctx, nil, environ, &out))
	require.Contains(t, out.String(), "tasker-worker: worker: web server: port "+port+" is already in use (worker.web.bind_address = \""+addr+"\")")
	require.Contains(t, out.String(), "choose another address with worker.web.bind_address or TASKER__WORKER__WEB__BIND_ADDRESS=127.0.0.1:")
	require.Contains(t, out.String(), "port 0 picks a free port")
}

// TestProbeFlag: --probe checks a health endpoint and exits without
// loading any configuration (the image's health check relies on it).
func TestProbeFlag(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health/ready" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	var out testlog.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"--probe", srv.URL + "/health/ready"}, nil, &out), out.String())
	require.Equal(t, 1, run(context.Background(), []string{"--probe", srv.URL + "/health/other"}, nil, &out))
	require.Contains(t, out.String(), "HTTP 503")
}
