package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Backend names a message queue implementation.
type Backend string

// The queue backends.
const (
	// BackendPostgres keeps queues in PostgreSQL tables (pgmq semantics,
	// LISTEN/NOTIFY wake-ups). No extra infrastructure.
	BackendPostgres Backend = "postgres"
	// BackendRabbitMQ selects RabbitMQ (AMQP 0.9.1). The configuration
	// accepts it so tasker-core configurations load, but the backend is not
	// implemented yet: services refuse to start with it.
	BackendRabbitMQ Backend = "rabbitmq"
)

// Queues is the [queues] section: the backend that carries step, result and
// request messages between the services, and its tuning.
type Queues struct {
	// Backend is "postgres" or "rabbitmq". Default
	// "${TASKER_MESSAGING_BACKEND:-postgres}", so the
	// TASKER_MESSAGING_BACKEND environment variable wins when set.
	Backend Backend `toml:"backend"`
	// VisibilityTimeout is how long a claimed message stays invisible to
	// other consumers before it reappears, for consumers that set no
	// timeout of their own. Default 30s.
	VisibilityTimeout time.Duration `toml:"visibility_timeout"`
	// PollInterval is the fallback poll for lost notifications: every
	// interval one statement checks every queue the process consumes (all
	// its worker namespaces and orchestration queues together) and wakes the
	// consumers of the queues that hold visible messages. Consumers wake on
	// NOTIFY otherwise, so this bounds only the delay after a lost one.
	// Default 10s (test 250ms).
	PollInterval time.Duration `toml:"poll_interval"`
	// MaxMessageAge is the age past which a message still in a queue is
	// reported as stuck in health checks and metrics. Default 24h.
	MaxMessageAge time.Duration `toml:"max_message_age"`
	// RabbitMQ configures the rabbitmq backend; ignored by postgres.
	RabbitMQ RabbitMQ `toml:"rabbitmq"`
	// DepthThresholds are the queue-depth tiers reported by health checks
	// and metrics.
	DepthThresholds DepthThresholds `toml:"depth_thresholds"`
}

// RabbitMQ is the [queues.rabbitmq] section.
type RabbitMQ struct {
	// URL is the AMQP URL of the broker. Default
	// "${RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672/}", so the
	// RABBITMQ_URL environment variable wins when set.
	URL string `toml:"url"`
	// Prefetch is the most unacknowledged messages the broker delivers to
	// one consumer at a time (AMQP basic.qos). Default 100 (test 10).
	Prefetch int `toml:"prefetch"`
	// Heartbeat is the AMQP heartbeat interval: a silent connection is
	// taken for dead after about two. Default 10s.
	Heartbeat time.Duration `toml:"heartbeat"`
	// ConfirmTimeout bounds the wait for the broker to confirm a publish;
	// past it the publish fails and is retried (the message may then arrive
	// twice). Default 5s.
	ConfirmTimeout time.Duration `toml:"confirm_timeout"`
	// ConnectTimeout bounds one connection attempt. Default 5s.
	ConnectTimeout time.Duration `toml:"connect_timeout"`
	// ReconnectMin is the first wait before reconnecting after the
	// connection is lost; it doubles with each failed attempt. Default
	// 100ms.
	ReconnectMin time.Duration `toml:"reconnect_min"`
	// ReconnectMax caps the wait between connection attempts. Default 10s
	// (test 1s).
	ReconnectMax time.Duration `toml:"reconnect_max"`
	// MaxDeliveries moves a message delivered more often than this to its
	// queue's dead-letter queue (<queue>_dlq) instead of delivering it
	// again; 0 means no limit. Default 10.
	MaxDeliveries int `toml:"max_deliveries"`
	// DelayPrefix names the exchange and queues that carry delayed
	// messages ({prefix}_delay, {prefix}_delay_<ms>ms). Default "tasker".
	DelayPrefix string `toml:"delay_prefix"`
	// OutboxBatchSize is the most outbox rows the relay publishes per
	// transaction. Default 100.
	OutboxBatchSize int `toml:"outbox_batch_size"`
	// OutboxPollInterval is the relay's fallback check for outbox rows when
	// no notification woke it. Default 5s (test 250ms).
	OutboxPollInterval time.Duration `toml:"outbox_poll_interval"`
}

// DepthThresholds is the [queues.depth_thresholds] section: message counts
// at which a queue is reported as warning, critical and overflowing.
// Admission control of new tasks is set separately, by
// orchestration.web.backpressure.
type DepthThresholds struct {
	// Warning depth: logged and shown as degraded. Default 2000 (test 250).
	Warning int `toml:"warning"`
	// Critical depth: health reports the queue as critical. Default 5000
	// (test 500).
	Critical int `toml:"critical"`
	// Overflow depth: health reports the queue as overflowing. Default
	// 10000 (test 1000).
	Overflow int `toml:"overflow"`
}

func defaultQueues() Queues {
	return Queues{
		Backend:           "${TASKER_MESSAGING_BACKEND:-postgres}",
		VisibilityTimeout: 30 * time.Second,
		PollInterval:      10 * time.Second,
		MaxMessageAge:     24 * time.Hour,
		// RabbitMQ's well-known local default, overridden in production.
		RabbitMQ: RabbitMQ{ //nolint:gosec // not a secret: the broker's documented guest account
			URL:                "${RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672/}",
			Prefetch:           100,
			Heartbeat:          10 * time.Second,
			ConfirmTimeout:     5 * time.Second,
			ConnectTimeout:     5 * time.Second,
			ReconnectMin:       100 * time.Millisecond,
			ReconnectMax:       10 * time.Second,
			MaxDeliveries:      10,
			DelayPrefix:        "tasker",
			OutboxBatchSize:    100,
			OutboxPollInterval: 5 * time.Second,
		},
		DepthThresholds: DepthThresholds{Warning: 2000, Critical: 5000, Overflow: 10000},
	}
}

// Validate checks the section; see [Problems].
func (q *Queues) Validate() error {
	var ps Problems
	switch q.Backend {
	case BackendPostgres, BackendRabbitMQ:
	case "pgmq":
		ps.add("backend", `unknown value "pgmq": the PostgreSQL backend is called "postgres" here`)
	default:
		ps.oneOf("backend", string(q.Backend), string(BackendPostgres), string(BackendRabbitMQ))
	}
	ps.positiveDuration("visibility_timeout", q.VisibilityTimeout)
	ps.positiveDuration("poll_interval", q.PollInterval)
	ps.positiveDuration("max_message_age", q.MaxMessageAge)
	ps.nest("rabbitmq", q.RabbitMQ.Validate())
	ps.nest("depth_thresholds", q.DepthThresholds.Validate())
	return ps.Err()
}

// maxDelayPrefixLen keeps the longest delay queue name,
// "{prefix}_delay_<10 digits>ms", within the 47-character queue-name limit.
const maxDelayPrefixLen = 47 - len("_delay_0000000000ms")

var delayPrefixRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,` + strconv.Itoa(maxDelayPrefixLen-1) + `}$`)

// Validate checks the section; see [Problems]. The URL is checked even when
// the postgres backend is selected, so a typo shows before a switch.
func (r *RabbitMQ) Validate() error {
	var ps Problems
	if strings.TrimSpace(r.URL) == "" {
		ps.add("url", "must not be empty (set it or RABBITMQ_URL)")
	} else if u, err := url.Parse(r.URL); err != nil {
		ps.add("url", fmt.Sprintf("not a valid URL: %s", RedactSecrets(err.Error())))
	} else if u.Scheme != "amqp" && u.Scheme != "amqps" {
		ps.add("url", fmt.Sprintf("scheme %q: want amqp:// or amqps://", u.Scheme))
	}
	ps.intBetween("prefetch", int64(r.Prefetch), 1, 65535)
	ps.durationAtLeast("heartbeat", r.Heartbeat, time.Second)
	ps.durationAtLeast("confirm_timeout", r.ConfirmTimeout, 10*time.Millisecond)
	ps.durationAtLeast("connect_timeout", r.ConnectTimeout, 10*time.Millisecond)
	okMin := ps.durationAtLeast("reconnect_min", r.ReconnectMin, time.Millisecond)
	if ps.durationAtLeast("reconnect_max", r.ReconnectMax, time.Millisecond) && okMin && r.ReconnectMax < r.ReconnectMin {
		ps.add("reconnect_max", fmt.Sprintf("must be at least reconnect_min (%s), got %s", r.ReconnectMin, r.ReconnectMax))
	}
	ps.intAtLeast("max_deliveries", int64(r.MaxDeliveries), 0)
	if !delayPrefixRE.MatchString(r.DelayPrefix) {
		ps.add("delay_prefix", fmt.Sprintf("%q: use 1-%d letters, digits or underscores, starting with a letter or underscore", r.DelayPrefix, maxDelayPrefixLen))
	}
	ps.intBetween("outbox_batch_size", int64(r.OutboxBatchSize), 1, 10000)
	ps.durationAtLeast("outbox_poll_interval", r.OutboxPollInterval, 10*time.Millisecond)
	return ps.Err()
}

// Validate checks the section; see [Problems]. The tiers must not decrease.
func (d *DepthThresholds) Validate() error {
	var ps Problems
	okW := ps.intAtLeast("warning", int64(d.Warning), 1)
	okC := ps.intAtLeast("critical", int64(d.Critical), 1)
	okO := ps.intAtLeast("overflow", int64(d.Overflow), 1)
	if okW && okC && d.Critical < d.Warning {
		ps.add("critical", fmt.Sprintf("must be at least warning (%d), got %d", d.Warning, d.Critical))
	}
	if okC && okO && d.Overflow < d.Critical {
		ps.add("overflow", fmt.Sprintf("must be at least critical (%d), got %d", d.Critical, d.Overflow))
	}
	return ps.Err()
}
