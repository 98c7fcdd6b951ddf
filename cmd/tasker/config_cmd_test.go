package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// runConfig runs `tasker config ARGS…` in-process and returns its stdout,
// stderr and error.
func runConfig(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newConfigCmd()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(args)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.Execute()
	return stdout.String(), stderr.String(), err
}

// cleanConfigEnv makes the test independent of the environment it runs in.
func cleanConfigEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		upper := strings.ToUpper(name)
		if strings.HasPrefix(upper, "TASKER_") || upper == "DATABASE_URL" || upper == "RABBITMQ_URL" {
			t.Setenv(name, "") // restored after the test
			require.NoError(t, os.Unsetenv(name))
		}
	}
}

func requireExitCode(t *testing.T, err error, code int) {
	t.Helper()
	var ec exitCodeError
	require.True(t, errors.As(err, &ec), "want exitCodeError, got %v", err)
	require.Equal(t, code, ec.code)
}

func TestConfigShowTOMLRedactsSecrets(t *testing.T) {
	cleanConfigEnv(t)
	t.Setenv("DATABASE_URL", "postgres://app:hunter2@db:5432/tasker")
	t.Setenv("TASKER__WORKER__HANDLERS__MAX_CONCURRENT", "7")

	out, _, err := runConfig(t, "show", "--context", "worker", "--env", "test")
	require.NoError(t, err)
	require.Contains(t, out, "# Tasker configuration: context worker, environment test")
	require.Contains(t, out, `url = "postgres://app:***@db:5432/tasker"`)
	require.Contains(t, out, `url = "amqp://guest:***@127.0.0.1:5672/"`)
	require.NotContains(t, out, "hunter2")
	require.Contains(t, out, "[worker.handlers]\nmax_concurrent = 7\n")
	require.Contains(t, out, `poll_interval = "250ms"`, "test environment values")
	require.NotContains(t, out, "[orchestration")
}

func TestConfigShowJSON(t *testing.T) {
	cleanConfigEnv(t)
	out, _, err := runConfig(t, "show", "--context", "orchestration", "--env", "production", "--output", "json")
	require.NoError(t, err)
	var m map[string]map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &m))
	require.InDelta(t, 50, m["database"]["pool"].(map[string]any)["max_connections"], 0)
	require.Equal(t, "10m", m["orchestration"]["staleness"].(map[string]any)["interval"])
	require.NotContains(t, m, "worker")
}

func TestConfigShowFromRootAndEnvVariable(t *testing.T) {
	cleanConfigEnv(t)
	root := writeConfigTree(t, "[database]\nschema = \"from_root\"\n")
	out, _, err := runConfig(t, "show", "--context", "shared", "--root", root)
	require.NoError(t, err)
	require.Contains(t, out, `schema = "from_root"`)
	require.Contains(t, out, "environment development")

	t.Setenv("TASKER_CONFIG_ROOT", root)
	t.Setenv("TASKER_ENV", "production")
	out, _, err = runConfig(t, "show", "--context", "shared")
	require.NoError(t, err)
	require.Contains(t, out, `schema = "from_root"`)
	require.Contains(t, out, "environment production")
}

func TestConfigShowFailures(t *testing.T) {
	cleanConfigEnv(t)
	_, _, err := runConfig(t, "show")
	require.ErrorContains(t, err, `required flag(s) "context" not set`)

	_, _, err = runConfig(t, "show", "--context", "scheduler")
	require.ErrorContains(t, err, `--context "scheduler"`)

	_, _, err = runConfig(t, "show", "--context", "shared", "--output", "yaml")
	require.ErrorContains(t, err, `--output "yaml": want toml or json`)

	t.Setenv("TASKER__DATABASE__POOL__MAX_CONNECTIONS", "lots")
	out, stderr, err := runConfig(t, "show", "--context", "shared")
	requireExitCode(t, err, 1)
	require.Empty(t, out)
	require.Equal(t, "environment variable TASKER__DATABASE__POOL__MAX_CONNECTIONS: database.pool.max_connections: invalid integer \"lots\"\n", stderr)
}

func TestConfigValidate(t *testing.T) {
	cleanConfigEnv(t)
	for _, args := range [][]string{
		{"validate"},
		{"validate", "--context", "worker", "--env", "test"},
		{"validate", "--env", "production"},
	} {
		out, _, err := runConfig(t, args...)
		require.NoError(t, err, args)
		require.Equal(t, "ok\n", out, args)
	}

	root := writeConfigTree(t, "[database.pool]\nmax_conections = 3\n[queues]\nbackend = \"kafka\"\n")
	out, _, err := runConfig(t, "validate", "--root", root, "--env", "test")
	requireExitCode(t, err, 1)
	base := filepath.Join(root, "shared", "base.toml")
	require.Equal(t,
		base+`: unknown key "database.pool.max_conections" (did you mean "database.pool.max_connections"?)`+"\n"+
			base+`: queues.backend: unknown value "kafka": want one of "postgres" or "rabbitmq"`+"\n",
		out, "shared problems are printed once, not once per context")

	_, _, err = runConfig(t, "validate", "--env", "staging")
	requireExitCode(t, err, 1)
}

// writeConfigTree writes a config root whose shared/base.toml is body.
func writeConfigTree(t *testing.T, body string) string {
	t.Helper()
	root := t.TempDir()
	for _, ctx := range []string{"shared", "orchestration", "worker"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, ctx), 0o755))
		content := ""
		if ctx == "shared" {
			content = body
		}
		require.NoError(t, os.WriteFile(filepath.Join(root, ctx, "base.toml"), []byte(content), 0o644))
	}
	return root
}

// TestConfigGenerateAndExplain: generate writes one merged file, from a
// tasker-core file when asked (listing what it ignores); explain answers
// for our keys and tasker-core's.
func TestConfigGenerateAndExplain(t *testing.T) {
	core := filepath.Join(t.TempDir(), "core.toml")
	require.NoError(t, os.WriteFile(core, []byte("[common.database.pool]\nmax_connections = 33\n[common.cache]\nenabled = true\n"), 0o600))
	var stdout, stderr bytes.Buffer
	cmd := newRootCmd()
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"config", "generate", "--context", "worker", "--from-tasker-core", core})
	require.NoError(t, cmd.Execute())
	require.Contains(t, stdout.String(), "max_connections = 33")
	require.Contains(t, stderr.String(), "ignored common.cache.enabled")

	stdout.Reset()
	cmd = newRootCmd()
	cmd.SetOut(&stdout)
	cmd.SetArgs([]string{"config", "explain", "common.database.pool.max_connections"})
	require.NoError(t, cmd.Execute())
	require.Contains(t, stdout.String(), "It maps to database.pool.max_connections here.")
	require.Contains(t, stdout.String(), "type:       an integer")
}
