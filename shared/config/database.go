package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Database is the [database] section: how to reach PostgreSQL, the source
// of truth for tasks, steps and (with the postgres backend) queues.
type Database struct {
	// URL is the PostgreSQL connection string, as a URL
	// ("postgres://user:pass@host:5432/db?sslmode=disable") or a key=value
	// DSN. Default "postgres://postgres@127.0.0.1:5432/tasker?sslmode=disable".
	// The DATABASE_URL environment variable, when set, replaces the value
	// of every file, and TASKER__DATABASE__URL wins over it.
	URL string `toml:"url"`
	// Schema is the PostgreSQL schema holding Tasker's tables, functions and
	// queue tables; it is created by `tasker migrate`. Lower-case letters,
	// digits and underscores. Default "tasker".
	Schema string `toml:"schema"`
	// Pool sizes and ages the connection pool.
	Pool Pool `toml:"pool"`
	// StatementTimeout is the server-side statement_timeout set on every
	// connection; 0 means no limit. Default 30s (test 10s).
	StatementTimeout time.Duration `toml:"statement_timeout"`
}

// Pool is the [database.pool] section: the process's connection pool. The
// LISTEN connection for wake-ups is held outside it.
type Pool struct {
	// MaxConnections is the most connections the pool opens. Default 25
	// (test 10, production 50).
	MaxConnections int `toml:"max_connections"`
	// MinConnections is how many idle connections the pool keeps open.
	// Default 2 (test 1, production 10).
	MinConnections int `toml:"min_connections"`
	// AcquireTimeout is how long a caller waits for a free connection
	// before failing. Default 10s (test 5s).
	AcquireTimeout time.Duration `toml:"acquire_timeout"`
	// IdleTimeout closes a connection that has been idle this long (down to
	// MinConnections). Default 5m (test 1m).
	IdleTimeout time.Duration `toml:"idle_timeout"`
	// MaxLifetime closes and replaces a connection this old, so load
	// spreads after a failover. Default 30m (production 1h).
	MaxLifetime time.Duration `toml:"max_lifetime"`
}

func defaultDatabase() Database {
	return Database{
		URL:    "postgres://postgres@127.0.0.1:5432/tasker?sslmode=disable",
		Schema: "tasker",
		Pool: Pool{
			MaxConnections: 25,
			MinConnections: 2,
			AcquireTimeout: 10 * time.Second,
			IdleTimeout:    5 * time.Minute,
			MaxLifetime:    30 * time.Minute,
		},
		StatementTimeout: 30 * time.Second,
	}
}

// Validate checks the section; see [Problems].
func (d *Database) Validate() error {
	var ps Problems
	switch {
	case strings.TrimSpace(d.URL) == "":
		ps.add("url", "must not be empty (set it or DATABASE_URL)")
	case strings.Contains(d.URL, "://"):
		u, err := url.Parse(d.URL)
		if err != nil {
			ps.add("url", fmt.Sprintf("not a valid URL: %s", RedactSecrets(err.Error())))
		} else if u.Scheme != "postgres" && u.Scheme != "postgresql" {
			ps.add("url", fmt.Sprintf("scheme %q: want postgres:// or postgresql://", u.Scheme))
		}
	case !strings.Contains(d.URL, "="):
		ps.add("url", "not a postgres:// URL or a key=value connection string")
	}
	if len(d.Schema) > 63 || !identifierRE.MatchString(d.Schema) {
		ps.add("schema", fmt.Sprintf("invalid schema name %q: want 1-63 lower-case letters, digits or underscores, not starting with a digit", d.Schema))
	}
	ps.nest("pool", d.Pool.Validate())
	ps.durationAtLeast("statement_timeout", d.StatementTimeout, 0)
	return ps.Err()
}

// Validate checks the section; see [Problems].
func (p *Pool) Validate() error {
	var ps Problems
	maxOK := ps.intBetween("max_connections", int64(p.MaxConnections), 1, 10000)
	if ps.intAtLeast("min_connections", int64(p.MinConnections), 0) && maxOK && p.MinConnections > p.MaxConnections {
		ps.add("min_connections", fmt.Sprintf("must not exceed max_connections (%d), got %d", p.MaxConnections, p.MinConnections))
	}
	ps.positiveDuration("acquire_timeout", p.AcquireTimeout)
	ps.positiveDuration("idle_timeout", p.IdleTimeout)
	ps.positiveDuration("max_lifetime", p.MaxLifetime)
	return ps.Err()
}
