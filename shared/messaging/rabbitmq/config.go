package rabbitmq

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/tasker-go/tasker/shared/messaging"
)

// Config configures a Client.
type Config struct {
	// URL is the broker's AMQP URL (amqp:// or amqps://). Required.
	URL string
	// ConnectionName is shown by the broker (rabbitmqctl list_connections
	// client_properties). Default "tasker".
	ConnectionName string
	// Heartbeat is the AMQP heartbeat interval: a silent peer is taken for
	// dead after about two of them. Default 10s.
	Heartbeat time.Duration
	// ConfirmTimeout bounds the wait for the broker's confirm of a publish;
	// past it the publish fails (the message may still have arrived: callers
	// that retry can publish it twice). Default 5s.
	ConfirmTimeout time.Duration
	// DialTimeout bounds one connection attempt. Default 5s.
	DialTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the wait between connection
	// attempts: it starts at ReconnectMin after a loss, doubles after each
	// failed attempt up to ReconnectMax, and is jittered. Defaults 100ms
	// and 10s.
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// DelayPrefix names the objects the delays use: the exchange
	// {prefix}_delay and the bucket queues {prefix}_delay_{ms}ms. Default
	// "tasker". Letters, digits and underscores.
	DelayPrefix string
	// Logger receives connection events. Default slog.Default().
	Logger *slog.Logger
	// Dial, when set, opens the TCP connection (tests use it to cut the
	// connection under the client).
	Dial func(network, addr string) (net.Conn, error)
}

// Defaults.
const (
	DefaultHeartbeat      = 10 * time.Second
	DefaultConfirmTimeout = 5 * time.Second
	DefaultDialTimeout    = 5 * time.Second
	DefaultReconnectMin   = 100 * time.Millisecond
	DefaultReconnectMax   = 10 * time.Second
	DefaultDelayPrefix    = "tasker"
)

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("invalid rabbitmq configuration")

func (c *Config) setDefaults() {
	if c.ConnectionName == "" {
		c.ConnectionName = "tasker"
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.ConfirmTimeout == 0 {
		c.ConfirmTimeout = DefaultConfirmTimeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.ReconnectMin == 0 {
		c.ReconnectMin = DefaultReconnectMin
	}
	if c.ReconnectMax == 0 {
		c.ReconnectMax = DefaultReconnectMax
	}
	if c.DelayPrefix == "" {
		c.DelayPrefix = DefaultDelayPrefix
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func (c *Config) validate() error {
	var problems []string
	if u, err := url.Parse(c.URL); c.URL == "" {
		problems = append(problems, "URL is required")
	} else if err != nil {
		problems = append(problems, "URL is not a valid URL")
	} else if u.Scheme != "amqp" && u.Scheme != "amqps" {
		problems = append(problems, fmt.Sprintf("URL scheme %q: want amqp or amqps", u.Scheme))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Heartbeat", c.Heartbeat}, {"ConfirmTimeout", c.ConfirmTimeout}, {"DialTimeout", c.DialTimeout},
		{"ReconnectMin", c.ReconnectMin}, {"ReconnectMax", c.ReconnectMax}} {
		if d.v < 0 {
			problems = append(problems, fmt.Sprintf("%s must not be negative, got %s", d.name, d.v))
		}
	}
	if c.ReconnectMax < c.ReconnectMin {
		problems = append(problems, fmt.Sprintf("ReconnectMax (%s) must be at least ReconnectMin (%s)", c.ReconnectMax, c.ReconnectMin))
	}
	// The longest derived name is {prefix}_delay_{ms}ms with a 10-digit ms.
	if err := messaging.ValidateQueueName(c.DelayPrefix + "_delay_0000000000ms"); err != nil {
		problems = append(problems, fmt.Sprintf("DelayPrefix %q: use a short name of letters, digits and underscores", c.DelayPrefix))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(problems, "; "))
	}
	return nil
}
