// Package infra assembles the infrastructure every Tasker process shares,
// from its layered configuration: the connection pool, the one LISTEN
// connection that carries every wake-up, the queue backend and the store.
// It also loads a command's configuration (LoadConfig) the same way for
// every program, names processes (ProcessName) and checks that the
// database was migrated (CheckSchema).
//
// The tasker commands, tasker-worker, worker.Open and server.Open (package
// orchestration/server) all build themselves through it, so they cannot
// drift apart.
package infra

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/messaging/pgqueue"
	"github.com/tasker-go/tasker/shared/pgnotify"
	"github.com/tasker-go/tasker/shared/store"
)

// Infra is the shared infrastructure of one process. Connect builds it;
// Close releases it.
type Infra struct {
	Config     *config.Config
	Pool       *pgxpool.Pool
	ConnConfig *pgx.ConnConfig
	Listener   *pgnotify.Listener
	Queue      messaging.Driver
	Store      *store.Store
	Logger     *slog.Logger
}

// Connect opens the pool, starts the shared LISTEN connection and builds the
// queue backend and the store. name is the process's application_name and
// processor id; log defaults to slog.Default(). Nothing is left open when
// it fails.
func Connect(ctx context.Context, cfg *config.Config, name string, log *slog.Logger) (*Infra, error) {
	return ConnectWith(ctx, cfg, ConnectOptions{Name: name, Logger: log})
}

// ConnectOptions are what ConnectWith takes besides the configuration.
type ConnectOptions struct {
	// Name is the process's application_name and processor id.
	Name string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Tracer, when set, sees every statement of every connection the
	// process opens (pool, LISTEN, leader and liveness locks).
	Tracer pgx.QueryTracer
}

// ConnectWith is Connect with every option.
func ConnectWith(ctx context.Context, cfg *config.Config, opts ConnectOptions) (*Infra, error) {
	log, name := opts.Logger, opts.Name
	if log == nil {
		log = slog.Default()
	}
	db := cfg.Database
	//nolint:gosec // configuration validation bounds both sizes to 0..10000
	pc := store.PoolConfig{
		URL: db.URL, Schema: db.Schema, MaxConns: int32(db.Pool.MaxConnections), MinConns: int32(db.Pool.MinConnections),
		MaxConnIdleTime: db.Pool.IdleTimeout, MaxConnLifetime: db.Pool.MaxLifetime, StatementTimeout: db.StatementTimeout,
		ApplicationName: name, Tracer: opts.Tracer,
	}
	connCfg, err := store.ParseConnConfig(pc)
	if err != nil {
		return nil, err
	}
	pool, err := store.Connect(ctx, pc)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, max(db.Pool.AcquireTimeout, 1))
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL at %s: %w", config.RedactSecrets(db.URL), err)
	}
	l, err := pgnotify.New(pgnotify.Config{ConnConfig: connCfg, Logger: log})
	if err != nil {
		pool.Close()
		return nil, err
	}
	// The LISTEN connection lives until Close, not until ctx ends: callers
	// pass their signal context and still need notifications while they
	// shut down gracefully.
	if err := l.Start(context.WithoutCancel(ctx)); err != nil {
		pool.Close()
		return nil, err
	}
	var q messaging.Driver
	switch cfg.Queues.Backend {
	case config.BackendPostgres, "":
		q, err = pgqueue.New(pgqueue.Config{Pool: pool, Schema: db.Schema, Listener: l,
			PollInterval: cfg.Queues.PollInterval})
	default:
		err = fmt.Errorf("queue backend %q is not implemented yet: set queues.backend to %q (the default; "+
			"TASKER_MESSAGING_BACKEND sets it too)", cfg.Queues.Backend, config.BackendPostgres)
	}
	if err != nil {
		l.Stop()
		pool.Close()
		return nil, err
	}
	st, err := store.New(store.Config{Pool: pool, Queue: q, ProcessorID: name, Schema: db.Schema, Logger: log})
	if err != nil {
		l.Stop()
		pool.Close()
		return nil, err
	}
	return &Infra{Config: cfg, Pool: pool, ConnConfig: connCfg, Listener: l, Queue: q, Store: st, Logger: log}, nil
}

// Close stops the listener and closes the pool.
func (i *Infra) Close() {
	if i == nil {
		return
	}
	i.Listener.Stop()
	i.Pool.Close()
}

// ProcessName returns a readable unique name for this process: the given
// id, else role-hostname-pid.
func ProcessName(role, id string) string {
	if id != "" {
		return id
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return fmt.Sprintf("%s-%s-%d", role, host, os.Getpid())
}

// ErrNoSchema is returned when the database has not been migrated.
var ErrNoSchema = errors.New("the database has no Tasker schema: run `tasker migrate up` first")

// CheckSchema returns an error wrapping ErrNoSchema, naming the schema, when
// the configured schema has no Tasker tables, so that every process says
// what to do instead of failing later on `relation "…" does not exist`.
func (i *Infra) CheckSchema(ctx context.Context) error {
	_, err := i.Store.ListNamespaces(ctx)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000") { // undefined_table, invalid_schema_name
		if i.Config == nil {
			return ErrNoSchema
		}
		return fmt.Errorf("schema %q: %w", i.Config.Database.Schema, ErrNoSchema)
	}
	if err != nil {
		return fmt.Errorf("checking the database schema: %w", err)
	}
	return nil
}

// NewMetricsRegistry returns a Prometheus registry with the Go runtime and
// process collectors, as every Tasker process exposes them.
func NewMetricsRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}
