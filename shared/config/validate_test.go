package config

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestValidateReportsKeysFromTheRoot(t *testing.T) {
	cfg := Default(ContextWorker)
	cfg.Database.Pool.MaxConnections = 0
	cfg.Worker.Namespaces = []string{"ok", "not-ok", "ok"}
	cfg.Worker.Web.BindAddress = ":70000"
	cfg.Worker.Completion.FlushInterval = -time.Second
	cfg.Backoff.JitterMaxFraction = 1
	cfg.Backoff.RetryAfterCap = -time.Second

	var ps Problems
	require.True(t, errors.As(cfg.Validate(), &ps))
	require.Equal(t, Problems{
		{Key: "database.pool.max_connections", Message: "must be between 1 and 10000, got 0"},
		{Key: "backoff.jitter_max_fraction", Message: "must be at least 0 and below 1, got 1"},
		{Key: "backoff.retry_after_cap", Message: "must not be negative, got -1s"},
		{Key: "worker.namespaces", Message: `invalid namespace "not-ok": want 1-34 letters, digits or underscores, not starting with a digit`},
		{Key: "worker.namespaces", Message: `namespace "ok" is listed twice`},
		{Key: "worker.web.bind_address", Message: `invalid port "70000" in listen address ":70000": want 0-65535`},
		{Key: "worker.completion.flush_interval", Message: "must not be negative, got -1s"},
	}, ps)
	require.Equal(t, "backoff.jitter_max_fraction: must be at least 0 and below 1, got 1", ps[1].Error())
}

func TestValidateContextSections(t *testing.T) {
	cfg := Default(ContextShared)
	cfg.Context = ContextWorker
	require.ErrorContains(t, cfg.Validate(), "worker: missing for the worker context")

	cfg = Default(ContextOrchestration)
	cfg.Context = ContextShared
	require.ErrorContains(t, cfg.Validate(), `orchestration: set, but the context is "shared"`)
}

func TestValidateURLs(t *testing.T) {
	cfg := Default(ContextShared)
	cfg.Database.URL = "mysql://u:secret@h/db"
	cfg.Queues.RabbitMQ.URL = "http://mq"
	err := cfg.Validate()
	require.ErrorContains(t, err, `database.url: scheme "mysql": want postgres:// or postgresql://`)
	require.ErrorContains(t, err, `queues.rabbitmq.url: scheme "http": want amqp:// or amqps://`)

	cfg.Database.URL = "postgres://u:secret@h:port/db"
	err = cfg.Validate()
	require.ErrorContains(t, err, "database.url: not a valid URL")
	require.NotContains(t, err.Error(), "secret", "problems never show passwords")

	cfg = Default(ContextShared)
	cfg.Database.URL = "host=db user=app dbname=tasker"
	require.NoError(t, cfg.Validate(), "key=value connection strings are accepted")
	cfg.Database.URL = "just words"
	require.ErrorContains(t, cfg.Validate(), "database.url: not a postgres:// URL or a key=value connection string")
}

func TestProblemError(t *testing.T) {
	require.Equal(t, "f.toml: a.b: bad", Problem{Source: "f.toml", Key: "a.b", Message: "bad"}.Error())
	require.Equal(t, "a.b: bad", Problem{Key: "a.b", Message: "bad"}.Error())
	require.Equal(t, `f.toml: unknown key "a.b"`, Problem{Source: "f.toml", Key: "a.b", Message: `unknown key "a.b"`, Unknown: true}.Error())
	require.Equal(t, "one\ntwo", Problems{{Message: "one"}, {Message: "two"}}.Error())
	require.NoError(t, Problems(nil).Err())
}

func TestValidateTelemetry(t *testing.T) {
	cfg := Default(ContextWorker)
	require.False(t, cfg.Telemetry.Enabled, "tracing is off by default")
	require.Equal(t, ProtocolGRPC, cfg.Telemetry.Protocol)
	cfg.Telemetry.Protocol = "http/json"
	cfg.Telemetry.Endpoint = "otel-collector:4317"
	var ps Problems
	require.True(t, errors.As(cfg.Validate(), &ps))
	require.Equal(t, Problems{
		{Key: "telemetry.protocol", Message: `unknown value "http/json": want one of "grpc" or "http/protobuf"`},
		{Key: "telemetry.endpoint", Message: `must be an http:// or https:// URL such as "http://otel-collector:4317", got "otel-collector:4317"`},
	}, ps)
	cfg.Telemetry.Protocol = ProtocolHTTPProtobuf
	cfg.Telemetry.Endpoint = "https://collector.example:4318"
	require.NoError(t, cfg.Validate())

	// The section loads from TOML and TASKER__ variables like any other.
	loaded, err := Load(LoadOptions{Context: ContextOrchestration, Environ: []string{
		"TASKER__TELEMETRY__ENABLED=true", "TASKER__TELEMETRY__PROTOCOL=http/protobuf"}})
	require.NoError(t, err)
	require.True(t, loaded.Telemetry.Enabled)
	require.Equal(t, ProtocolHTTPProtobuf, loaded.Telemetry.Protocol)
}

func TestValidateRabbitMQ(t *testing.T) {
	cfg := Default(ContextShared)
	r := &cfg.Queues.RabbitMQ
	r.Heartbeat = 500 * time.Millisecond
	r.ConfirmTimeout = 0
	r.ReconnectMin = 2 * time.Second
	r.ReconnectMax = time.Second
	r.MaxDeliveries = -1
	r.DelayPrefix = "tasker-delay"
	r.OutboxBatchSize = 0
	r.OutboxPollInterval = time.Millisecond
	var ps Problems
	require.True(t, errors.As(cfg.Validate(), &ps))
	require.Equal(t, Problems{
		{Key: "queues.rabbitmq.heartbeat", Message: "must be at least 1s, got 500ms"},
		{Key: "queues.rabbitmq.confirm_timeout", Message: "must be at least 10ms, got 0s"},
		{Key: "queues.rabbitmq.reconnect_max", Message: "must be at least reconnect_min (2s), got 1s"},
		{Key: "queues.rabbitmq.max_deliveries", Message: "must be at least 0, got -1"},
		{Key: "queues.rabbitmq.delay_prefix", Message: `"tasker-delay": use 1-28 letters, digits or underscores, starting with a letter or underscore`},
		{Key: "queues.rabbitmq.outbox_batch_size", Message: "must be between 1 and 10000, got 0"},
		{Key: "queues.rabbitmq.outbox_poll_interval", Message: "must be at least 10ms, got 1ms"},
	}, ps)
	r.DelayPrefix = "p234567890123456789012345678" // 28: the longest accepted
	r.Heartbeat, r.ConfirmTimeout, r.ReconnectMin, r.MaxDeliveries, r.OutboxBatchSize, r.OutboxPollInterval = time.Second, time.Second, time.Second, 0, 1, time.Second
	require.NoError(t, cfg.Validate())
	r.DelayPrefix += "9"
	require.ErrorContains(t, cfg.Validate(), "queues.rabbitmq.delay_prefix")
}
