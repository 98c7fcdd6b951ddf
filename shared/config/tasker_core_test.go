package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A tasker-core merged file in its own layout (keys as its generated
// orchestration-test.toml has them).
const coreFile = `
[common.database]
url = "${DATABASE_URL:-postgresql://localhost:5432/tasker}"
[common.database.pool]
max_connections = 30
acquire_timeout_seconds = 30
slow_acquire_threshold_ms = 500
[common.queues]
backend = "${TASKER_MESSAGING_BACKEND:-pgmq}"
default_visibility_timeout_seconds = 45
naming_pattern = "{namespace}_{name}_queue"
[common.queues.pgmq]
poll_interval_ms = 250
[common.queues.rabbitmq]
heartbeat_seconds = 30
[common.queues.pgmq.queue_depth_thresholds]
critical_threshold = 500
overflow_threshold = 1000
[common.task_templates]
search_paths = ["config/tasks/**/*.{yml,yaml}"]
[common.cache]
enabled = true
[orchestration]
shutdown_timeout_ms = 5000
[orchestration.web]
bind_address = "0.0.0.0:8080"
request_timeout_ms = 30000
[orchestration.web.auth]
enabled = false
api_key = ""
[orchestration.dlq.staleness_detection]
enabled = true
detection_interval_seconds = 60
[orchestration.dlq.staleness_detection.actions]
auto_move_to_dlq = false
auto_transition_to_error = true
[orchestration.dlq.staleness_detection.thresholds]
waiting_for_retry_minutes = 2
task_max_lifetime_hours = 1
[worker]
worker_id = "test-worker-001"
[worker.mpsc_channels.handler_dispatch]
max_concurrent_handlers = 5
`

func TestTranslateTaskerCoreMapsWhatMeansTheSame(t *testing.T) {
	tr, err := TranslateTaskerCore([]byte(coreFile), "core.toml", ContextOrchestration,
		[]string{"DATABASE_URL=postgres://u@db/x"})
	require.NoError(t, err)
	cfg, err := Load(LoadOptions{Context: ContextOrchestration, Overrides: tr.Layer, OverridesSource: "core.toml"})
	require.NoError(t, err)
	require.Equal(t, "postgres://u@db/x", cfg.Database.URL, "${VAR} is expanded from the environment")
	require.Equal(t, 30, cfg.Database.Pool.MaxConnections)
	require.Equal(t, "30s", cfg.Database.Pool.AcquireTimeout.String())
	require.Equal(t, BackendPostgres, cfg.Queues.Backend, "pgmq is the postgres backend")
	require.Equal(t, "45s", cfg.Queues.VisibilityTimeout.String())
	require.Equal(t, "250ms", cfg.Queues.PollInterval.String())
	require.Equal(t, "30s", cfg.Queues.RabbitMQ.Heartbeat.String())
	require.Equal(t, 500, cfg.Queues.DepthThresholds.Critical)
	require.Equal(t, 500, cfg.Queues.DepthThresholds.Warning, "tasker-core has no warning level")
	require.Equal(t, []string{"config/tasks"}, cfg.Templates.SearchPaths)
	require.Equal(t, "5s", cfg.Orchestration.ShutdownTimeout.String())
	require.Equal(t, "0.0.0.0:8080", cfg.Orchestration.Web.BindAddress)
	require.Equal(t, StalenessError, cfg.Orchestration.Staleness.Action)
	require.Equal(t, "1m0s", cfg.Orchestration.Staleness.Interval.String())
	require.Equal(t, "2m0s", cfg.Orchestration.Staleness.WaitingForRetry.String())
	require.Equal(t, "1h0m0s", cfg.Orchestration.Staleness.TaskMaxLifetime.String())
	joined := strings.Join(tr.Ignored, "\n")
	require.Contains(t, joined, "common.cache.enabled: there is no cache")
	require.Contains(t, joined, "common.queues.naming_pattern")
	require.NotContains(t, joined, "worker.", "another context's section is skipped")
	require.Contains(t, strings.Join(tr.Mapped, "\n"), "common.database.pool.max_connections → database.pool.max_connections")

	tr, err = TranslateTaskerCore([]byte(coreFile), "core.toml", ContextWorker, nil)
	require.NoError(t, err)
	cfg, err = Load(LoadOptions{Context: ContextWorker, Overrides: tr.Layer})
	require.NoError(t, err)
	require.Equal(t, "test-worker-001", cfg.Worker.WorkerID)
	require.Equal(t, 5, cfg.Worker.Handlers.MaxConcurrent)
	require.Equal(t, 5, cfg.Worker.Handlers.MinConcurrent)
}

func TestTranslateTaskerCoreRefusesWhatItCannotHonour(t *testing.T) {
	cases := map[string]struct{ file, key, want string }{
		"auth on":         {"[orchestration.web.auth]\nenabled = true\n", "orchestration.web.auth.enabled", "authentication is not available"},
		"queue database":  {"[common.pgmq_database]\nurl = \"postgres://q/db\"\n", "common.pgmq_database.url", "separate queue database"},
		"unknown backend": {"[common.queues]\nbackend = \"kafka\"\n", "common.queues.backend", "not a queue backend"},
		"dlq without error": {"[orchestration.dlq.staleness_detection.actions]\nauto_move_to_dlq = true\nauto_transition_to_error = false\n",
			"orchestration.dlq.staleness_detection.actions", "not supported"},
		"unknown key":  {"[common.database.pool]\nmax_conections = 3\n", "common.database.pool.max_conections", "did you mean common.database.pool.max_connections"},
		"bad duration": {"[common.queues]\ndefault_visibility_timeout_seconds = \"soon\"\n", "common.queues.default_visibility_timeout_seconds", "non-negative number"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := TranslateTaskerCore([]byte(tc.file), "core.toml", ContextOrchestration, nil)
			var ps Problems
			require.ErrorAs(t, err, &ps)
			require.Len(t, ps, 1, "%v", ps)
			require.Equal(t, tc.key, ps[0].Key)
			require.Equal(t, "core.toml", ps[0].Source)
			require.Contains(t, ps[0].Message, tc.want)
		})
	}
}

func TestExplain(t *testing.T) {
	cfg := Default(ContextOrchestration)
	info, ok := cfg.Explain("database.pool.max_connections")
	require.True(t, ok)
	require.EqualValues(t, 25, info.Value)
	require.Equal(t, []string{"common.database.pool.max_connections"}, info.TaskerCore)
	_, ok = cfg.Explain("database.pool")
	require.False(t, ok, "a table is not a key")
	ours, _, ok := ExplainTaskerCore("common.queues.backend")
	require.True(t, ok)
	require.Equal(t, "queues.backend", ours)
	_, why, ok := ExplainTaskerCore("orchestration.grpc.enabled")
	require.True(t, ok)
	require.Contains(t, why, "no gRPC")
	_, _, ok = ExplainTaskerCore("nope.nothing")
	require.False(t, ok)
}
