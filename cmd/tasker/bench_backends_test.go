package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/brokervhost"
	"github.com/tasker-go/tasker/shared/config"
)

// requireLocalBroker skips the test when the local RabbitMQ or rabbitmqctl
// is missing, unless TASKER_REQUIRE_RABBITMQ is set (then it fails).
func requireLocalBroker(t *testing.T) {
	t.Helper()
	why := ""
	if err := brokervhost.Reachable(t.Context(), "amqp://guest:guest@127.0.0.1:5672/"); err != nil {
		why = err.Error()
	} else if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		why = "rabbitmqctl not found"
	}
	if why == "" {
		return
	}
	if os.Getenv("TASKER_REQUIRE_RABBITMQ") != "" {
		t.Fatalf("%s and TASKER_REQUIRE_RABBITMQ is set", why)
	}
	t.Skip(why)
}

func TestParseBackends(t *testing.T) {
	got, err := parseBackends(" postgres, RabbitMQ ", config.BackendPostgres)
	require.NoError(t, err)
	require.Equal(t, []string{"postgres", "rabbitmq"}, got)
	got, err = parseBackends("", config.BackendRabbitMQ)
	require.NoError(t, err)
	require.Equal(t, []string{"rabbitmq"}, got, "the configured backend by default")
	got, err = parseBackends("", "")
	require.NoError(t, err)
	require.Equal(t, []string{"postgres"}, got)
	_, err = parseBackends("postgres,kafka", config.BackendPostgres)
	require.EqualError(t, err, `--backend: unknown queue backend "kafka" (choose from postgres, rabbitmq)`)
	_, err = parseBackends("rabbitmq,rabbitmq", config.BackendPostgres)
	require.EqualError(t, err, `--backend: "rabbitmq" is listed twice`)
}

// TestBenchBackendFlags: the flags that cannot work together are refused
// before anything starts.
func TestBenchBackendFlags(t *testing.T) {
	cleanConfigEnv(t)
	_, err := runCmd(t, "bench", "--url", "http://127.0.0.1:1", "--backend", "rabbitmq")
	require.ErrorContains(t, err, "--backend and --rabbitmq-url: only with --embedded")
	_, err = runCmd(t, "bench", "--embedded", "--backend", "postgres,rabbitmq", "--handlers", "go,ruby")
	require.ErrorContains(t, err, "give --handlers one language")
	_, err = runCmd(t, "bench", "--embedded", "--backend", "postgres,rabbitmq", "--history", "10")
	require.ErrorContains(t, err, "--history measures one backend")
	_, err = runCmd(t, "bench", "--embedded", "--backend", "nats")
	require.ErrorContains(t, err, `unknown queue backend "nats"`)
}

// TestBenchRabbitMQUnreachable: a broker that does not answer is named in
// the error, before any system starts.
func TestBenchRabbitMQUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("opens the database")
	}
	benchDatabase(t)
	text, err := runCmd(t, "bench", "--embedded", "--backend", "rabbitmq", "--rabbitmq-url", "amqp://guest:secret@127.0.0.1:1/",
		"--latency-n", "1", "--warmup", "0", "--only", "latency", "--pgbench=false")
	require.Error(t, err)
	require.Contains(t, err.Error(), "RabbitMQ not reachable at 127.0.0.1:1")
	require.Contains(t, err.Error(), "amqp://guest:***@127.0.0.1:1/")
	require.NotContains(t, err.Error(), "secret", "the password is not printed")
	// The broker is checked before the system's schema is created (the
	// database is shared with other tests: the output tells).
	require.NotContains(t, text, "benchmark system:", "no system was started")
}

// TestBenchBackendsSideBySide runs a tiny embedded benchmark on both queue
// backends in one invocation: each is measured on its own system (the
// rabbitmq one on a private virtual host of the real broker), labelled in
// the report and the JSON, and both schemas and the virtual host are gone
// afterwards.
func TestBenchBackendsSideBySide(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two systems")
	}
	requireLocalBroker(t)
	db := benchDatabase(t)
	out := filepath.Join(t.TempDir(), "bench.json")
	text, err := runCmd(t, "bench", "--embedded", "--backend", "postgres,rabbitmq", "--latency-n", "2", "--warmup", "1",
		"--throughput-tasks", "8", "--concurrency", "2", "--only", "latency,throughput", "--pgbench=false", "--json", out)
	require.NoError(t, err, text)
	require.Contains(t, text, "queue backend: postgres (the figures below; postgres, rabbitmq side by side at the end)")
	require.Contains(t, text, "queue backends side by side (go worker")
	require.Contains(t, text, "private virtual host tasker_bench_")
	require.Contains(t, text, "rabbitmq backend: where linear 4's time goes")

	rep := readReport(t, out)
	require.Equal(t, []string{"postgres", "rabbitmq"}, rep.Backends)
	require.Equal(t, "postgres,rabbitmq", rep.Config["backend"])
	for _, b := range rep.Backends {
		run := rep.ByBackend[b]
		require.NotNil(t, run, b)
		l := run.Latency["linear4"]
		require.NotNil(t, l, b)
		require.Equal(t, 2, l.ClientMS.N, b)
		require.Positive(t, l.ServerMS.P50, b)
		require.Equal(t, 32, run.Throughput.Steps, b)
		require.Positive(t, run.Throughput.StepsPerSec, b)
		require.NotNil(t, run.Throughput.DBXactsPerStep, b)
	}
	require.Equal(t, rep.ByBackend["postgres"].Throughput.Steps, rep.Throughput.Steps, "the top-level figures are the first backend's")

	schemas, ok := rep.Config["schemas"].(map[string]any)
	require.True(t, ok, "each backend's schema is reported")
	require.Len(t, schemas, 2)
	for _, s := range schemas {
		var left int
		require.NoError(t, db.Pool(t, 1).QueryRow(t.Context(),
			`SELECT count(*) FROM pg_namespace WHERE nspname = $1`, s).Scan(&left))
		require.Zero(t, left, "schema %s is dropped", s)
	}
	vhostURL, _ := rep.Config["rabbitmq_url"].(string)
	vhost := vhostURL[strings.LastIndex(vhostURL, "/")+1:]
	require.True(t, strings.HasPrefix(vhost, "tasker_bench_"), vhostURL)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	list, err := exec.CommandContext(ctx, "rabbitmqctl", "list_vhosts").CombinedOutput()
	require.NoError(t, err, string(list))
	require.NotContains(t, string(list), vhost, "the virtual host is deleted")
}
