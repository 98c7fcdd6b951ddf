// Package riverbench measures River (github.com/riverqueue/river) on the
// scenarios that Tasker's own benchmark uses, so that both systems can be
// printed side by side. See bench/README.md for what is measured and why.
package riverbench

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"
)

// Config holds every knob of a run. Its JSON form (configJSON) is the
// "config" object of the result file.
type Config struct {
	DatabaseURL     string
	Schema          string
	LatencyN        int
	Warmup          int
	ThroughputTasks int
	Concurrency     int
	Workers         int
	MaxConns        int
	FetchCooldown   time.Duration
	FetchPoll       time.Duration
	Timeout         time.Duration
	Jitter          time.Duration
	Quick           bool
	Keep            bool
	Replace         bool

	// Log receives progress lines; nil discards them.
	Log func(format string, args ...any)
}

// Quick sizes, used by --quick.
const (
	QuickLatencyN        = 30
	QuickWarmup          = 5
	QuickThroughputTasks = 200
)

// Defaults returns the configuration used when no flag is given.
func Defaults() Config {
	return Config{
		DatabaseURL:     "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		Schema:          "river_baseline",
		LatencyN:        200,
		Warmup:          20,
		ThroughputTasks: 2000,
		Concurrency:     50,
		Workers:         100,
		MaxConns:        40,
		// River's FetchCooldownDefault is 100ms; at that value a chain whose
		// jobs insert their successor waits for the 1s poll at every hop
		// (see README), so the baseline uses River's minimum.
		FetchCooldown: time.Millisecond,
		FetchPoll:     time.Second, // River's FetchPollIntervalDefault
		Jitter:        250 * time.Millisecond,
		Timeout:       10 * time.Minute,
	}
}

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Validate reports the first invalid setting, naming the flag.
func (c *Config) Validate() error {
	switch {
	case c.DatabaseURL == "":
		return errors.New("--database-url: must not be empty")
	case !schemaName.MatchString(c.Schema):
		return fmt.Errorf("--schema %q: must match %s", c.Schema, schemaName)
	case c.Schema == "public" || c.Schema == "pg_catalog" || c.Schema == "information_schema":
		return fmt.Errorf("--schema %q: refusing a system or shared schema (it is dropped at the end)", c.Schema)
	case c.LatencyN < 1:
		return fmt.Errorf("--latency-n %d: must be at least 1", c.LatencyN)
	case c.Warmup < 0:
		return fmt.Errorf("--warmup %d: must not be negative", c.Warmup)
	case c.ThroughputTasks < 1:
		return fmt.Errorf("--throughput-tasks %d: must be at least 1", c.ThroughputTasks)
	case c.Concurrency < 1:
		return fmt.Errorf("--concurrency %d: must be at least 1", c.Concurrency)
	case c.Workers < 1 || c.Workers > 10000:
		return fmt.Errorf("--workers %d: must be between 1 and 10000 (River's MaxWorkers range)", c.Workers)
	case c.MaxConns < 4:
		return fmt.Errorf("--max-conns %d: must be at least 4 (River holds one for LISTEN)", c.MaxConns)
	case c.FetchCooldown < time.Millisecond:
		return fmt.Errorf("--fetch-cooldown %s: River's minimum is 1ms", c.FetchCooldown)
	case c.FetchPoll < time.Millisecond:
		return fmt.Errorf("--fetch-poll-interval %s: River's minimum is 1ms", c.FetchPoll)
	case c.Jitter < 0:
		return fmt.Errorf("--jitter %s: must not be negative", c.Jitter)
	case c.Timeout <= 0:
		return fmt.Errorf("--timeout %s: must be positive", c.Timeout)
	}
	return nil
}

// configJSON is the shape of Result.Config.
type configJSON struct {
	DatabaseURL       string `json:"database_url"`
	Schema            string `json:"schema"`
	LatencyN          int    `json:"latency_n"`
	Warmup            int    `json:"warmup"`
	ThroughputTasks   int    `json:"throughput_tasks"`
	Concurrency       int    `json:"concurrency"`
	Workers           int    `json:"workers"`
	MaxConns          int    `json:"max_conns"`
	FetchCooldown     string `json:"fetch_cooldown"`
	FetchPollInterval string `json:"fetch_poll_interval"`
	Jitter            string `json:"jitter"`
	Timeout           string `json:"timeout"`
	Quick             bool   `json:"quick"`
	Keep              bool   `json:"keep"`
	Replace           bool   `json:"replace"`
}

func (c *Config) toJSON() configJSON {
	return configJSON{
		DatabaseURL:       redactURL(c.DatabaseURL),
		Schema:            c.Schema,
		LatencyN:          c.LatencyN,
		Warmup:            c.Warmup,
		ThroughputTasks:   c.ThroughputTasks,
		Concurrency:       c.Concurrency,
		Workers:           c.Workers,
		MaxConns:          c.MaxConns,
		FetchCooldown:     c.FetchCooldown.String(),
		FetchPollInterval: c.FetchPoll.String(),
		Jitter:            c.Jitter.String(),
		Timeout:           c.Timeout.String(),
		Quick:             c.Quick,
		Keep:              c.Keep,
		Replace:           c.Replace,
	}
}

// redactURL hides a password in a URL-form connection string; key=value
// strings are reduced to a fixed marker since they may carry one too.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return "(key=value connection string)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

func (c *Config) logf(format string, args ...any) {
	if c.Log != nil {
		c.Log(format, args...)
	}
}
