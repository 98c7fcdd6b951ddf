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
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/messaging/pgqueue"
	"github.com/tasker-go/tasker/shared/messaging/rabbitmq"
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
	// Broker is the RabbitMQ connection when queues.backend is rabbitmq
	// (nil otherwise); its health is Broker.Status().
	Broker *rabbitmq.Client

	// broker holds what the rabbitmq backend runs beside the store.
	broker *brokerParts
}

// brokerParts are the rabbitmq backend's pieces: the driver, and the outbox
// relay every process runs (the store's units of work write outbox rows in
// every process; relays share the rows, each row published by one).
type brokerParts struct {
	client *rabbitmq.Client
	driver *rabbitmq.Driver
	relay  *rabbitmq.Relay
	wake   *pgnotify.Subscription
}

// close stops the relay, closes the driver (the broker requeues what it
// held claimed) and closes the connection.
func (b *brokerParts) close(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if b.relay != nil {
		if err := b.relay.Stop(ctx); err != nil {
			log.Warn("stopping the outbox relay", "err", err)
		}
	}
	if b.wake != nil {
		b.wake.Close()
	}
	if b.driver != nil {
		if err := b.driver.Close(); err != nil {
			log.Warn("closing the rabbitmq driver", "err", err)
		}
	}
	if err := b.client.Stop(ctx); err != nil {
		log.Warn("closing the rabbitmq connection", "err", err)
	}
}

// connectBroker starts the rabbitmq backend: the connection (waiting for
// it up to the configured connect timeout), the driver and, once the store
// exists (see startRelay), the relay.
func connectBroker(ctx context.Context, cfg *config.Config, pool *pgxpool.Pool, l *pgnotify.Listener, name string, log *slog.Logger) (*brokerParts, error) {
	settings := rabbitmq.FromConfig(cfg.Queues.RabbitMQ, name, log)
	c, err := rabbitmq.New(settings.Conn)
	if err != nil {
		return nil, err
	}
	if err := c.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, err
	}
	b := &brokerParts{client: c}
	waitCtx, cancel := context.WithTimeout(ctx, max(c.Config().DialTimeout, time.Second))
	defer cancel()
	if err := c.WaitConnected(waitCtx); err != nil {
		b.close(log)
		return nil, fmt.Errorf("connecting to rabbitmq at %s: %w", config.RedactSecrets(cfg.Queues.RabbitMQ.URL), err)
	}
	b.driver, err = c.NewDriver(rabbitmq.DriverConfig{Pool: pool, Schema: cfg.Database.Schema, Listener: l,
		PollInterval: cfg.Queues.PollInterval, MaxDeliveries: settings.MaxDeliveries, Logger: log})
	if err != nil {
		b.close(log)
		return nil, err
	}
	return b, nil
}

// startRelay starts the process's outbox relay, woken by the outbox's
// NOTIFY on l.
func (b *brokerParts) startRelay(ctx context.Context, st *store.Store, l *pgnotify.Listener, schema string, rc rabbitmq.RelayConfig) error {
	b.wake = l.SubscribeWake(st.OutboxChannel(), "")
	rc.Wake = b.wake.Wake()
	rc.Announce = store.BrokerWakeChannel(schema)
	r, err := b.client.NewRelay(st, rc)
	if err != nil {
		return err
	}
	if err := r.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	b.relay = r
	b.driver.SetRelay(r)
	return nil
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
	var broker *brokerParts
	switch cfg.Queues.Backend {
	case config.BackendPostgres, "":
		q, err = pgqueue.New(pgqueue.Config{Pool: pool, Schema: db.Schema, Listener: l,
			PollInterval: cfg.Queues.PollInterval})
	case config.BackendRabbitMQ:
		broker, err = connectBroker(ctx, cfg, pool, l, name, log)
		if err == nil {
			q = broker.driver
		}
	default:
		err = fmt.Errorf("unknown queue backend %q: set queues.backend to %q or %q",
			cfg.Queues.Backend, config.BackendPostgres, config.BackendRabbitMQ)
	}
	if err != nil {
		l.Stop()
		pool.Close()
		return nil, err
	}
	fail := func(err error) (*Infra, error) {
		if broker != nil {
			broker.close(log)
		}
		l.Stop()
		pool.Close()
		return nil, err
	}
	st, err := store.New(store.Config{Pool: pool, Queue: q, ProcessorID: name, Schema: db.Schema, Logger: log})
	if err != nil {
		return fail(err)
	}
	in := &Infra{Config: cfg, Pool: pool, ConnConfig: connCfg, Listener: l, Queue: q, Store: st, Logger: log, broker: broker}
	if broker != nil {
		if err := broker.startRelay(ctx, st, l, db.Schema, rabbitmq.FromConfig(cfg.Queues.RabbitMQ, name, log).Relay); err != nil {
			return fail(err)
		}
		in.Broker = broker.client
	}
	return in, nil
}

// Close stops the broker's pieces (when the backend is rabbitmq) and the
// listener, and closes the pool.
func (i *Infra) Close() {
	if i == nil {
		return
	}
	if i.broker != nil {
		i.broker.close(i.Logger)
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
