package config

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMarshalTOMLRoundTrips(t *testing.T) {
	for _, ctx := range Contexts {
		for _, env := range Environments {
			want, err := Load(LoadOptions{Context: ctx, Env: env})
			require.NoError(t, err)
			data, err := want.MarshalTOML()
			require.NoError(t, err)

			// The output, used as the only file of a tree, loads back equal.
			files := map[string]string{"shared/base.toml": ""}
			if ctx == ContextShared {
				files["shared/base.toml"] = string(data)
			} else {
				files[ctx+"/base.toml"] = string(data)
			}
			got, err := Load(LoadOptions{Root: writeTree(t, files), Context: ctx, Env: env})
			require.NoError(t, err, "%s/%s output:\n%s", ctx, env, data)
			require.Equal(t, want, got, "%s/%s", ctx, env)
		}
	}
}

func TestMarshalTOMLReadsLikeTheBaseFiles(t *testing.T) {
	data, err := Default(ContextWorker).MarshalTOML()
	require.NoError(t, err)
	text := string(data)
	for _, line := range []string{
		"[database]\n",
		"[database.pool]\nmax_connections = 25\n",
		`idle_timeout = "5m"`,
		"jitter_max_fraction = 0.15\n",
		"search_paths = []\n",
		"[worker.handlers]\n",
		"namespaces = []\n",
		`flush_interval = "0s"`,
	} {
		require.Contains(t, text, line)
	}
	require.NotContains(t, text, "[orchestration")
	// Scalars of a table come before its sub-tables.
	require.Less(t, strings.Index(text, "statement_timeout"), strings.Index(text, "[database.pool]"))

	// A whole-number float stays a float.
	cfg := Default(ContextShared)
	cfg.Backoff.JitterMaxFraction = 0
	data, err = cfg.MarshalTOML()
	require.NoError(t, err)
	require.Contains(t, string(data), "jitter_max_fraction = 0.0\n")
}

func TestMarshalJSON(t *testing.T) {
	cfg := Default(ContextOrchestration)
	data, err := json.Marshal(cfg)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	require.Equal(t, "30s", m["database"].(map[string]any)["statement_timeout"])
	require.InDelta(t, 25, m["database"].(map[string]any)["pool"].(map[string]any)["max_connections"], 0)
	require.Equal(t, ":8080", m["orchestration"].(map[string]any)["web"].(map[string]any)["bind_address"])
	require.NotContains(t, m, "worker")
	// Keys keep declaration order.
	require.True(t, strings.HasPrefix(string(data), `{"database":{"url":`), string(data))
}

func TestFormatDuration(t *testing.T) {
	for in, want := range map[string]string{
		"0s": "0s", "250ms": "250ms", "30s": "30s", "5m": "5m", "1h": "1h",
		"24h": "24h", "90m": "1h30m", "1h0m30s": "1h0m30s", "1m30s": "1m30s",
	} {
		d, err := parseDuration(in)
		require.NoError(t, err)
		require.Equal(t, want, formatDuration(d), in)
	}
}
