package e2e

import (
	"testing"
	"time"

	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/testdb"
)

// queueBackend is a queue backend the e2e suite runs on: every test body
// that takes one runs once per backend, with the same assertions unless a
// test says why a backend differs.
type queueBackend struct {
	// name is the configuration value (queues.backend) and the subtest name.
	name config.Backend
	// brokerURL is the private virtual host of this test on the rabbitmq
	// backend, empty on postgres.
	brokerURL string
}

// onBroker reports whether the queues are on RabbitMQ.
func (b queueBackend) onBroker() bool { return b.name == config.BackendRabbitMQ }

// options puts a systest system on this backend.
func (b queueBackend) options(o systest.Options) systest.Options {
	o.RabbitMQURL = b.brokerURL
	return o
}

// env is the environment that puts a tasker or tasker-worker process on
// this backend (nothing on postgres, the default).
func (b queueBackend) env() []string {
	if !b.onBroker() {
		return nil
	}
	return []string{"TASKER__QUEUES__BACKEND=" + string(config.BackendRabbitMQ), "TASKER__QUEUES__RABBITMQ__URL=" + b.brokerURL}
}

// configure puts an in-process configuration on this backend.
func (b queueBackend) configure(cfg *config.Config) {
	if !b.onBroker() {
		return
	}
	cfg.Queues.Backend = config.BackendRabbitMQ
	cfg.Queues.RabbitMQ.URL = b.brokerURL
	cfg.Queues.RabbitMQ.OutboxPollInterval = cfg.Queues.PollInterval
	// As the processes' test environment: a broker that comes back is
	// found within a second.
	cfg.Queues.RabbitMQ.ReconnectMax = time.Second
}

// processEnv is processEnv on this backend: a fresh migrated schema, and
// the broker's private virtual host on rabbitmq.
func (b queueBackend) processEnv(t *testing.T, extra ...string) []string {
	_, env := b.schemaEnv(t, extra...)
	return env
}

// schemaEnv is schemaEnv on this backend. The backend's settings come
// last and win over extra's (the broker's poll interval).
func (b queueBackend) schemaEnv(t *testing.T, extra ...string) (testdb.DB, []string) {
	return schemaEnv(t, append(extra[:len(extra):len(extra)], b.env()...)...)
}

// onBackends runs body once per queue backend, as subtests named
// "postgres" and "rabbitmq" that run in parallel with each other, so a
// test takes as long as its slower variant, not the sum. On rabbitmq each
// subtest gets a private virtual host (systest.BrokerVHost: skipped when
// no broker is reachable, failed instead when TASKER_REQUIRE_RABBITMQ is
// set).
func onBackends(t *testing.T, body func(t *testing.T, b queueBackend)) {
	t.Helper()
	for _, name := range []config.Backend{config.BackendPostgres, config.BackendRabbitMQ} {
		t.Run(string(name), func(t *testing.T) {
			t.Parallel()
			b := queueBackend{name: name}
			if b.onBroker() {
				b.brokerURL = systest.BrokerVHost(t)
			}
			body(t, b)
		})
	}
}
