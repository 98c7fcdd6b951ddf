package config

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The overrides layer wins over files and the environment, and takes values
// as encoding/json and Go code write them.
func TestOverridesLayer(t *testing.T) {
	var fromJSON map[string]any
	require.NoError(t, json.Unmarshal([]byte(`{
		"database": {"pool": {"max_connections": 7}},
		"backoff": {"jitter_max_fraction": 0.5, "jitter": false},
		"templates": {"search_paths": ["/json"]},
		"worker": {"handlers": {"max_concurrent": 8, "default_timeout": "9s"}, "namespaces": ["a", "b"]}
	}`), &fromJSON))
	cfg, err := Load(LoadOptions{Context: ContextWorker, Env: EnvTest, Overrides: fromJSON, Environ: []string{
		"TASKER__WORKER__HANDLERS__MAX_CONCURRENT=3",
		"TASKER__WORKER__CLAIMS__BATCH_SIZE=4",
	}})
	require.NoError(t, err)
	require.Equal(t, 7, cfg.Database.Pool.MaxConnections)
	require.InDelta(t, 0.5, cfg.Backoff.JitterMaxFraction, 0)
	require.False(t, cfg.Backoff.Jitter)
	require.Equal(t, []string{"/json"}, cfg.Templates.SearchPaths)
	require.Equal(t, 8, cfg.Worker.Handlers.MaxConcurrent, "the layer wins over the environment")
	require.Equal(t, 4, cfg.Worker.Claims.BatchSize, "the environment still applies")
	require.Equal(t, 9*time.Second, cfg.Worker.Handlers.DefaultTimeout)
	require.Equal(t, []string{"a", "b"}, cfg.Worker.Namespaces)
	require.Equal(t, 2, cfg.Worker.Handlers.MinConcurrent, "test.toml still applies")

	cfg, err = Load(LoadOptions{Context: ContextWorker, Overrides: map[string]any{
		"worker": map[string]any{
			"shutdown_grace": 1500 * time.Millisecond,
			"namespaces":     []string{"go"},
			"claims":         map[string]any{"batch_size": 5, "poll_interval": "50ms"},
		},
	}})
	require.NoError(t, err)
	require.Equal(t, 1500*time.Millisecond, cfg.Worker.ShutdownGrace)
	require.Equal(t, []string{"go"}, cfg.Worker.Namespaces)
	require.Equal(t, 5, cfg.Worker.Claims.BatchSize)
	require.Equal(t, 50*time.Millisecond, cfg.Worker.Claims.PollInterval)
}

// Every problem of the layer is reported, each naming the layer and the key.
func TestOverridesLayerProblems(t *testing.T) {
	_, err := Load(LoadOptions{Context: ContextWorker, OverridesSource: "bootstrap overrides", Overrides: map[string]any{
		"worker": map[string]any{
			"handlers": map[string]any{"max_concurrent": 2.5, "min_concurent": 1},
			"claims":   map[string]any{"batch_size": 0},
			"web":      "off",
		},
		"orchestration": map[string]any{},
		"database":      map[string]any{"pool": map[string]any{"max_connections": "many"}},
	}})
	var ps Problems
	require.True(t, errors.As(err, &ps), "%v", err)
	msg := err.Error()
	for _, want := range []string{
		`bootstrap overrides: worker.handlers.max_concurrent: expected an integer, got float 2.5`,
		`bootstrap overrides: unknown key "worker.handlers.min_concurent" (did you mean "worker.handlers.min_concurrent"?)`,
		`bootstrap overrides: worker.web: expected a table, got string "off"`,
		`bootstrap overrides: unknown key "orchestration": the [orchestration] section belongs in the orchestration files`,
		`bootstrap overrides: database.pool.max_connections: expected an integer, got string "many"`,
		`bootstrap overrides: worker.claims.batch_size: must be between 1 and 10000, got 0`,
	} {
		require.Contains(t, msg, want)
	}
	require.Len(t, ps, 6, msg)

	_, err = Load(LoadOptions{Context: ContextWorker, Overrides: map[string]any{"worker": map[string]any{"bogus": true}}})
	require.ErrorContains(t, err, `overrides: unknown key "worker.bogus"`)
}
