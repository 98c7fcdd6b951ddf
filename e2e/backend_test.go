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

// brokerPollInterval is queues.poll_interval on the rabbitmq backend,
// where it paces the claims' sweeps. A sweep reads every known route queue
// and looks up every route not known yet (a channel and a passive declare
// each, for each of the ~90 callables the native workers serve), so a
// claim that sweeps takes seconds on a loaded machine and every message
// behind it waits. Measured on 2 cores at load average 20-30: the 500-task
// scale test completed 194 tasks in 3 minutes at 200 ms and all 500 in
// 16-21 s at 2-5 s; the fixtures took 207 s at 2 s and 31 s at 5 s.
// Announced messages (the relays' wake-ups) do not wait for a sweep.
const brokerPollInterval = 5 * time.Second

// onBroker reports whether the queues are on RabbitMQ.
func (b queueBackend) onBroker() bool { return b.name == config.BackendRabbitMQ }

// options puts a systest system on this backend.
func (b queueBackend) options(o systest.Options) systest.Options {
	o.RabbitMQURL = b.brokerURL
	if b.onBroker() {
		o.PollInterval = brokerPollInterval
	}
	return o
}

// env is the environment that puts a tasker or tasker-worker process on
// this backend (nothing on postgres, the default).
func (b queueBackend) env() []string {
	if !b.onBroker() {
		return nil
	}
	return []string{"TASKER__QUEUES__BACKEND=" + string(config.BackendRabbitMQ), "TASKER__QUEUES__RABBITMQ__URL=" + b.brokerURL,
		"TASKER__QUEUES__POLL_INTERVAL=" + brokerPollInterval.String()}
}

// configure puts an in-process configuration on this backend.
func (b queueBackend) configure(cfg *config.Config) {
	if !b.onBroker() {
		return
	}
	cfg.Queues.Backend = config.BackendRabbitMQ
	cfg.Queues.RabbitMQ.URL = b.brokerURL
	cfg.Queues.RabbitMQ.OutboxPollInterval = cfg.Queues.PollInterval
	cfg.Queues.PollInterval = brokerPollInterval
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
