package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func databaseURL() string {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// requirePostgres skips the test when PostgreSQL cannot be reached.
func requirePostgres(t *testing.T) string {
	t.Helper()
	url := databaseURL()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Skipf("PostgreSQL not reachable at %s: %v", url, err)
	}
	require.NoError(t, conn.Close(ctx))
	return url
}

func TestQuickRunWritesFilledJSON(t *testing.T) {
	url := requirePostgres(t)
	schema := fmt.Sprintf("river_baseline_test_%d", time.Now().UnixNano()%1_000_000_000)
	jsonPath := filepath.Join(t.TempDir(), "river.json")

	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{
		"--database-url", url, "--schema", schema, "--quick",
		"--latency-n", "10", "--warmup", "2", "--throughput-tasks", "100", "--jitter", "0",
		"--json", jsonPath,
	}, &stdout, &stderr)
	require.Equal(t, 0, code, "stderr:\n%s", stderr.String())
	require.Contains(t, stdout.String(), "linear4:")
	require.Contains(t, stdout.String(), "throughput:")

	raw, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))

	require.Equal(t, "river", doc["system"])
	require.Regexp(t, `^v\d+\.\d+\.\d+`, doc["version"])
	machine := doc["machine"].(map[string]any)
	require.Greater(t, machine["cores"], 0.0)
	require.Regexp(t, `^go1\.`, machine["go"])
	require.NotEmpty(t, machine["postgres"])
	config := doc["config"].(map[string]any)
	require.Equal(t, schema, config["schema"])
	require.Equal(t, 100.0, config["throughput_tasks"])

	linear := doc["linear4"].(map[string]any)
	require.Equal(t, 10.0, linear["n"])
	for _, key := range []string{"client_ms", "server_ms"} {
		p := linear[key].(map[string]any)
		for _, q := range []string{"p50", "p95", "p99", "max"} {
			require.Greater(t, p[q], 0.0, "%s.%s", key, q)
		}
		require.LessOrEqual(t, p["p50"], p["p95"], key)
		require.LessOrEqual(t, p["p95"], p["p99"], key)
		require.LessOrEqual(t, p["p99"], p["max"], key)
	}

	tp := doc["throughput"].(map[string]any)
	require.Equal(t, 100.0, tp["tasks"])
	require.Equal(t, 400.0, tp["steps"])
	for _, key := range []string{"seconds", "steps_per_sec", "db_xacts_per_step", "peak_rss_mb", "peak_rss_anon_mb", "peak_rss_file_mb"} {
		require.Greater(t, tp[key], 0.0, key)
	}
	require.Contains(t, tp, "db_statements_per_step") // null without pg_stat_statements
	if v := tp["db_statements_per_step"]; v != nil {
		require.Greater(t, v, 0.0)
	}

	// The schema is dropped at the end (no --keep).
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer func() { require.NoError(t, conn.Close(ctx)) }()
	var exists bool
	require.NoError(t, conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists))
	require.False(t, exists, "schema %s should have been dropped", schema)
}

func TestFlags(t *testing.T) {
	t.Run("QuickSetsSmallSizesUnlessExplicit", func(t *testing.T) {
		cfg, _, err := parseFlags([]string{"--quick", "--warmup", "7"}, &bytes.Buffer{})
		require.NoError(t, err)
		require.Equal(t, 30, cfg.LatencyN)
		require.Equal(t, 7, cfg.Warmup)
		require.Equal(t, 200, cfg.ThroughputTasks)
	})
	t.Run("DefaultsMatchTheBrief", func(t *testing.T) {
		cfg, path, err := parseFlags(nil, &bytes.Buffer{})
		require.NoError(t, err)
		require.Empty(t, path)
		require.Equal(t, 200, cfg.LatencyN)
		require.Equal(t, 20, cfg.Warmup)
		require.Equal(t, 2000, cfg.ThroughputTasks)
		require.Equal(t, 50, cfg.Concurrency)
		require.Equal(t, 100, cfg.Workers)
	})
	for name, args := range map[string][]string{
		"BadSchema":      {"--schema", "Robert'); DROP"},
		"PublicSchema":   {"--schema", "public"},
		"ZeroWorkers":    {"--workers", "0"},
		"TinyCooldown":   {"--fetch-cooldown", "10us"},
		"StrayArgument":  {"extra"},
		"UnknownFlag":    {"--nope"},
		"NegativeWarmup": {"--warmup", "-1"},
	} {
		t.Run("Rejects"+name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(t.Context(), args, &bytes.Buffer{}, &stderr)
			require.Equal(t, 2, code)
			require.NotEmpty(t, stderr.String())
		})
	}
}
