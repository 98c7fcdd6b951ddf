package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/testdb"
)

// readReport reads a --json report.
func readReport(t *testing.T, path string) benchReport {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var rep benchReport
	require.NoError(t, json.Unmarshal(b, &rep))
	return rep
}

// TestBenchEmbedded runs a tiny embedded benchmark: every scenario is
// measured and written to the JSON report, and its schema is dropped.
func TestBenchEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a system")
	}
	db := benchDatabase(t)
	out := filepath.Join(t.TempDir(), "bench.json")
	text, err := runCmd(t, "bench", "--embedded", "--latency-n", "2", "--warmup", "1", "--throughput-tasks", "12",
		"--concurrency", "3", "--pgbench=false", "--json", out)
	require.NoError(t, err, text)
	require.Contains(t, text, "linear4")
	require.Contains(t, text, "steps/s")

	rep := readReport(t, out)
	require.Equal(t, "embedded", rep.Config["mode"])
	for name, steps := range map[string]int{"linear4": 4, "diamond4": 4, "dag7": 7, "tree8": 8} {
		l := rep.Latency[name]
		require.NotNil(t, l, name)
		require.Equal(t, steps, l.Steps, name)
		require.Equal(t, 2, l.ClientMS.N, name)
		require.Positive(t, l.ClientMS.P50, name)
		require.Positive(t, l.ServerMS.P50, name)
	}
	require.Equal(t, 8, rep.Creation.N, "one creation per measured latency task")
	require.Equal(t, 48, rep.Throughput.Steps)
	require.Positive(t, rep.Throughput.StepsPerSec)
	require.NotNil(t, rep.Throughput.DBXactsPerStep, "the database figures come from the same database")
	steps := rep.Throughput.Updates["workflow_steps"]
	require.Positive(t, steps.Updates, "the HOT share of the step updates is reported")
	require.LessOrEqual(t, steps.HOT, steps.Updates)
	require.Positive(t, rep.Throughput.PeakRSSMB)
	require.NotNil(t, rep.Throughput.PeakRSSAnonMB, "embedded: the peak is split into anonymous and file-backed memory")
	require.NotNil(t, rep.Throughput.PeakRSSFileMB)
	require.Positive(t, *rep.Throughput.PeakRSSAnonMB)
	require.Positive(t, *rep.Throughput.PeakRSSFileMB)
	require.Contains(t, rep.Throughput.RSSNote, "VmHWM since the throughput scenario began")
	cpu := rep.Throughput.CPU
	require.NotNil(t, cpu, "the throughput run reports its CPU time per step")
	require.Positive(t, cpu.ProcessUS)
	require.NotNil(t, cpu.ClientUS, "embedded: the bench client's share is split out")
	require.InDelta(t, cpu.ProcessUS, *cpu.ClientUS+*cpu.TaskerUS, 0.2)
	require.NotNil(t, cpu.PostgresUS, "the test server is local: %s", cpu.PostgresNote)
	require.Positive(t, *cpu.PostgresUS)
	require.Positive(t, *cpu.SessionsUS, "Tasker's sessions did the run's statements")
	require.NotNil(t, cpu.WALBytes)
	require.Positive(t, *cpu.WALBytes, "the run's writes are logged")
	require.Contains(t, text, "CPU per step")
	require.Positive(t, rep.Machine.Cores)
	require.NotEmpty(t, rep.Machine.PostgresVersion)
	require.NotEmpty(t, rep.TargetChecks)
	require.Contains(t, text, "against the design targets")

	var left int
	require.NoError(t, db.Pool(t, 1).QueryRow(t.Context(),
		`SELECT count(*) FROM pg_namespace WHERE nspname = $1`, rep.Config["schema"]).Scan(&left))
	require.Zero(t, left, "the benchmark schema is dropped")
}

// TestBenchURL measures a running system through its URL; peak RSS comes
// from the /metrics of the server and of the worker given with --worker-url.
func TestBenchURL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a system")
	}
	sys := systest.Start(t, systest.Options{})
	target, err := url.Parse(sys.URL)
	require.NoError(t, err)
	metrics := func(mb int) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %d\n", mb<<20)
		}
	}
	// The in-process system has no process collector: stand in for its
	// /metrics, pass everything else through.
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics(42))
	mux.Handle("/", httputil.NewSingleHostReverseProxy(target))
	api := httptest.NewServer(mux)
	defer api.Close()
	wrk := httptest.NewServer(metrics(17))
	defer wrk.Close()

	out := filepath.Join(t.TempDir(), "bench.json")
	text, err := runCmd(t, "bench", "--url", api.URL, "--worker-url", wrk.URL, "--only", "throughput",
		"--throughput-tasks", "8", "--concurrency", "2", "--pgbench=false", "--json", out)
	require.NoError(t, err, text)
	require.Contains(t, text, "peak RSS: orchestration 42.0 MB, worker 17.0 MB")
	require.NotContains(t, text, "task creation", "no latency runs, no creation figures")
	rep := readReport(t, out)
	require.Equal(t, "url", rep.Config["mode"])
	require.Equal(t, 32, rep.Throughput.Steps)
	require.Equal(t, 42.0, rep.Throughput.PeakRSSMB)
	require.NotNil(t, rep.Throughput.WorkerPeakRSSMB)
	require.Equal(t, 17.0, *rep.Throughput.WorkerPeakRSSMB)
	require.Nil(t, rep.Throughput.DBXactsPerStep, "no --database-url: no database figures")
}

// benchDatabase gives a bench test an empty database of its own, named
// by DATABASE_URL, with no configuration from the environment.
func benchDatabase(t *testing.T) testdb.DB {
	t.Helper()
	db := testdb.Empty(t)
	cleanConfigEnv(t)
	t.Setenv("DATABASE_URL", db.URL)
	return db
}
