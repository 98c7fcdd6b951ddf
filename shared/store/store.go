// Package store is Tasker's one seam to PostgreSQL: every SQL statement the
// engine runs lives here (queue tables excepted: they belong to the Postgres
// queue backend). Callers get domain types and sentinel errors, never pgx rows:
// a database failure comes back tagged ErrUnavailable (connection-class:
// retry later), ErrStatementTimeout or ErrDatabase, so callers test it with
// errors.Is and never need the driver's error types (which stay reachable
// through errors.As, and whose message is kept).
//
// Every state change is a compare-and-swap on the entity's state column plus a
// history row written in the same statement, and work is batched: one
// transaction moves many steps. Messages that announce state changes are sent
// through the queue driver's part of the same transaction (messaging.Work:
// a transactional outbox), so a worker never sees a message for a step that
// is not enqueued, and the messages that caused a change are acked only
// with its commit. The store is the only caller of messaging.Work: it runs
// one claim path and one result path whatever the driver, and the
// PostgreSQL driver's single-statement claims and one-round-trip units are
// its own statements folded into the store's batches.
//
// The store decides nothing itself: what becomes ready, where a task goes
// and when a step may run again are the rules of package dag, applied here
// between the reads and writes of one transaction; what a reported step
// leads to is the caller's Decider. Rows are scanned by column name into
// structs whose db tags name the columns (pgx.RowToStructByName); the few
// reads that scan by position on the hot path say why.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/store/migrations"
)

// Sentinel errors. The REST layers map them to HTTP status codes in one place.
var (
	// ErrNotFound: the row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a uniqueness rule (task identity, pending DLQ entry) was
	// violated.
	ErrConflict = errors.New("conflict")
	// ErrInvalidState: the entity is in a state that does not allow the
	// operation (cancelling a finished task, resetting a step not in error).
	ErrInvalidState = errors.New("invalid state")
	// ErrInvalidInput: the caller passed something the store cannot accept.
	ErrInvalidInput = errors.New("invalid input")
	// ErrUnavailable: the database cannot be reached or is going away (a
	// refused or lost connection, a server shutting down or starting up, a
	// closed pool, no connection free before the deadline). Retrying later
	// may succeed. The error keeps the driver's message.
	ErrUnavailable = errors.New("database unavailable")
	// ErrStatementTimeout: the database cancelled a statement
	// (statement_timeout, or a cancel request).
	ErrStatementTimeout = errors.New("statement cancelled by the database")
	// ErrDatabase: the database rejected a statement for any other reason.
	ErrDatabase = errors.New("database error")
)

// Config configures a Store.
type Config struct {
	// Pool is the connection pool; its connections use the Tasker schema as
	// search_path (see Connect). Required.
	Pool *pgxpool.Pool
	// Queue is the queue driver: it sends, claims and acks messages inside
	// store transactions. Required.
	Queue messaging.Driver
	// ProcessorID is written into task history rows this process makes.
	ProcessorID string
	// Schema names the task events channel (see TaskEventsChannel); empty
	// disables task event notifications.
	Schema string
	Logger *slog.Logger
}

// Store runs Tasker's SQL.
type Store struct {
	pool          dbPool
	queue         messaging.Driver
	processorID   string
	eventsChannel string
	log           *slog.Logger
	// tables is the driver's queues as tables of our schema (nil when its
	// messages live elsewhere), for the reads over messages that recovery
	// composes (claims in flight, messages still queued for a step); without
	// them claims in flight are found through the open tasks.
	tables messaging.Tables
	// workerTables caches the worker queue tables (claim recovery).
	workerTables queueTableCache
	// graphs are the task graphs this store's completions left, for the
	// next completion of the same task to plan from (prediction.go).
	graphs *graphCache
}

// New creates a Store.
func New(cfg Config) (*Store, error) {
	if cfg.Pool == nil {
		return nil, errors.New("store: Pool is required")
	}
	if cfg.Queue == nil {
		return nil, errors.New("store: Queue is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	st := &Store{pool: dbPool{cfg.Pool}, queue: cfg.Queue, processorID: cfg.ProcessorID, log: cfg.Logger,
		graphs: newGraphCache()}
	if cfg.Schema != "" {
		st.eventsChannel = TaskEventsChannel(cfg.Schema)
	}
	st.tables = cfg.Queue.Tables()
	return st, nil
}

// Pool returns the underlying pool (for health checks and stats).
func (s *Store) Pool() *pgxpool.Pool { return s.pool.Pool }

// Queue returns the queue driver the store works through.
func (s *Store) Queue() messaging.Driver { return s.queue }

// PoolConfig describes a connection pool.
type PoolConfig struct {
	URL               string
	Schema            string
	MaxConns          int32
	MinConns          int32
	MaxConnIdleTime   time.Duration
	MaxConnLifetime   time.Duration
	StatementTimeout  time.Duration
	ApplicationName   string
	HealthCheckPeriod time.Duration
	// Tracer, when set, sees every statement of every connection made from
	// this config (pool, LISTEN and lock connections alike).
	Tracer pgx.QueryTracer
}

// ParseConnConfig returns the pgx connection config of a pool config (also
// used by the LISTEN connection).
func ParseConnConfig(pc PoolConfig) (*pgx.ConnConfig, error) {
	if !migrations.ValidSchema(pc.Schema) {
		return nil, fmt.Errorf("%w: schema %q", ErrInvalidInput, pc.Schema)
	}
	cfg, err := pgx.ParseConfig(pc.URL)
	if err != nil {
		return nil, fmt.Errorf("parsing database url: %w", err)
	}
	cfg.RuntimeParams["search_path"] = pc.Schema
	// Statements are prepared once per connection. PostgreSQL's default
	// re-plans a statement on every execution while a custom plan looks
	// cheaper than the generic one, which for the batch statements (array
	// parameters) is always: planning then costs as much CPU as running
	// them. The statements are written to be index-driven under a generic
	// plan, and plans are refreshed when the tables are analyzed (see the
	// orchestration statistics keeper).
	cfg.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	// No JIT: every statement here is short, and a generic plan's cost
	// estimate can cross jit_above_cost on its own (a recursive CTE over
	// the edges of a task with a thousand batch workers was estimated at
	// millions), compiling for seconds a query that runs in milliseconds.
	cfg.RuntimeParams["jit"] = "off"
	if pc.ApplicationName != "" {
		cfg.RuntimeParams["application_name"] = pc.ApplicationName
	}
	if pc.StatementTimeout > 0 {
		cfg.RuntimeParams["statement_timeout"] = fmt.Sprint(pc.StatementTimeout.Milliseconds())
	}
	cfg.Tracer = pc.Tracer
	// pgx gives every connection a statement cache and a description
	// cache, each preallocated for 512 statements (~28 KB apiece). The
	// description cache serves only the cache_describe execution mode,
	// which no statement here uses: under the default mode
	// (cache_statement) it is never read, so it is not made (1.4 MB of
	// live heap over the embedded bench's 50 connections). A URL that
	// chooses another default_query_exec_mode keeps it.
	if cfg.DefaultQueryExecMode == pgx.QueryExecModeCacheStatement {
		cfg.DescriptionCacheCapacity = 0
	}
	return cfg, nil
}

// Connect opens a pool whose connections use pc.Schema.
func Connect(ctx context.Context, pc PoolConfig) (*pgxpool.Pool, error) {
	cc, err := ParseConnConfig(pc)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(pc.URL)
	if err != nil {
		return nil, fmt.Errorf("parsing database url: %w", err)
	}
	cfg.ConnConfig = cc
	if pc.MaxConns > 0 {
		cfg.MaxConns = pc.MaxConns
	}
	if pc.MinConns > 0 {
		cfg.MinConns = min(pc.MinConns, cfg.MaxConns)
	}
	if pc.MaxConnIdleTime > 0 {
		cfg.MaxConnIdleTime = pc.MaxConnIdleTime
	}
	if pc.MaxConnLifetime > 0 {
		cfg.MaxConnLifetime = pc.MaxConnLifetime
	}
	if pc.HealthCheckPeriod > 0 {
		cfg.HealthCheckPeriod = pc.HealthCheckPeriod
	}
	cfg.ShouldPing = shouldPing
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		registerUUID(conn.TypeMap())
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening pool: %w", err)
	}
	return pool, nil
}

// shouldPing replaces the pool's default, which pings (one round trip and,
// on the server, one transaction) every connection idle for more than a
// second before handing it out: on a quiet system that doubled the queries.
// A connection the server closed (a restart, an administrator) has its
// goodbye waiting in the socket, which CheckConn reads without sending
// anything; only such a connection is pinged, which fails, so the pool
// drops it and hands out another. A connection broken silently (a network
// cut) fails the statement that uses it, as a connection can at any time;
// callers retry.
func shouldPing(_ context.Context, p pgxpool.ShouldPingParams) bool {
	if p.IdleDuration <= time.Second {
		return false
	}
	// CheckConn is deprecated in favour of Ping, which is what costs the
	// query; it still catches the common case.
	return p.Conn.PgConn().CheckConn() != nil //nolint:staticcheck // deliberately the query-free check (see above)
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pinging database: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction, committing when fn returns nil. Its error
// is classified (see classify) whatever statement of fn failed.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return Classify(pgx.BeginFunc(ctx, s.pool, fn))
}

// isUniqueViolation reports a unique_violation, optionally on one
// constraint or index.
func isUniqueViolation(err error, constraint string) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23505" {
		return false
	}
	return constraint == "" || pe.ConstraintName == constraint
}

func notFound(what string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}
