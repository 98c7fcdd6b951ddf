package rabbitmq

import (
	"log/slog"

	"github.com/tasker-go/tasker/shared/config"
)

// Settings is what the [queues.rabbitmq] section configures, split for the
// pieces of this package.
type Settings struct {
	// Conn configures the Client.
	Conn Config
	// Relay configures the outbox relay (its Wake is left to the caller).
	Relay RelayConfig
	// Prefetch and MaxDeliveries are the consumers' defaults.
	Prefetch      int
	MaxDeliveries int
}

// FromConfig maps a validated [queues.rabbitmq] section onto this package's
// configuration. connectionName names the connection on the broker (say,
// the process's instance id).
func FromConfig(r config.RabbitMQ, connectionName string, log *slog.Logger) Settings {
	return Settings{
		Conn: Config{
			URL: r.URL, ConnectionName: connectionName, Heartbeat: r.Heartbeat, ConfirmTimeout: r.ConfirmTimeout,
			DialTimeout: r.ConnectTimeout, ReconnectMin: r.ReconnectMin, ReconnectMax: r.ReconnectMax,
			DelayPrefix: r.DelayPrefix, Logger: log,
		},
		Relay:         RelayConfig{BatchSize: r.OutboxBatchSize, PollInterval: r.OutboxPollInterval, Logger: log},
		Prefetch:      r.Prefetch,
		MaxDeliveries: r.MaxDeliveries,
	}
}
