package infra

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
)

// TestLoadConfigReadsTaskerCoreEnvironment: TASKER_CONFIG_PATH layers a
// tasker-core file over the configuration, flags still win, and
// TASKER_MESSAGING_BACKEND=pgmq selects the postgres backend.
func TestLoadConfigReadsTaskerCoreEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orchestration-production.toml")
	require.NoError(t, os.WriteFile(path, []byte(`
[common.queues]
backend = "${TASKER_MESSAGING_BACKEND:-pgmq}"
[common.database.pool]
max_connections = 42
[orchestration.web]
bind_address = "0.0.0.0:9999"
`), 0o600))
	cfg, err := LoadConfig(ConfigOptions{Context: config.ContextOrchestration,
		Environ:   []string{ConfigPathEnv + "=" + path, MessagingBackendEnv + "=pgmq"},
		Overrides: map[string]any{"orchestration": map[string]any{"web": map[string]any{"bind_address": ":7000"}}}})
	require.NoError(t, err)
	require.Equal(t, 42, cfg.Database.Pool.MaxConnections)
	require.Equal(t, config.BackendPostgres, cfg.Queues.Backend)
	require.Equal(t, ":7000", cfg.Orchestration.Web.BindAddress, "overrides win over the tasker-core file")

	cfg, err = LoadConfig(ConfigOptions{Context: config.ContextWorker, Environ: []string{MessagingBackendEnv + "=pgmq"}})
	require.NoError(t, err)
	require.Equal(t, config.BackendPostgres, cfg.Queues.Backend, "pgmq without a tasker-core file")

	_, err = LoadConfig(ConfigOptions{Context: config.ContextWorker, Environ: []string{ConfigPathEnv + "=/nonexistent.toml"}})
	require.ErrorContains(t, err, "reading the tasker-core configuration")

	require.NoError(t, os.WriteFile(path, []byte("[orchestration.web.auth]\nenabled = true\n"), 0o600))
	_, err = LoadConfig(ConfigOptions{Context: config.ContextOrchestration, Environ: []string{ConfigPathEnv + "=" + path}})
	require.ErrorContains(t, err, "authentication is not available")
}
