// Package systest starts a complete Tasker system inside a test process:
// orchestration with its REST API on a loopback port and one or more native
// Go workers, on a private, freshly migrated schema. Client, CLI and
// end-to-end tests use it so that they exercise the real code paths.
package systest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/orchestration/web"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/messaging/pgqueue"
	"github.com/tasker-go/tasker/shared/pgnotify"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/shared/testdb"
	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/workers/native"
)

// Options shape a test system.
type Options struct {
	// Workers is how many worker cores to start (default 1; -1 for none).
	Workers int
	// Orchestrators is how many orchestration cores run (default 1); the
	// REST API fronts the first.
	Orchestrators int
	// Templates are registered by the first worker in addition to the
	// native example templates.
	Templates []*template.Template
	// Registry, when set, replaces the native handlers.
	Registry func() *worker.Registry
	// Orchestration and Worker adjust the configuration.
	Orchestration func(*config.Orchestration)
	Worker        func(*config.Worker)
	// PoolSize per process (default 8).
	PoolSize int32
	// PollInterval is the queues' fallback poll (default 200ms).
	PollInterval time.Duration
	// Tracer, when set, sees every statement of the system's connections
	// (pool, LISTEN and leader-election connections).
	Tracer pgx.QueryTracer
}

// System is a running test system.
type System struct {
	T     testing.TB
	Ctx   context.Context
	DB    testdb.DB
	URL   string
	Store *store.Store
	Core  *orchestration.Core
	// Cores are every orchestration core, Core first.
	Cores   []*orchestration.Core
	Web     *web.Server
	Workers []*worker.Core
	queue   *pgqueue.Queue
}

// Start starts a system; it is stopped when the test ends.
func Start(t testing.TB, opts Options) *System {
	t.Helper()
	if opts.Workers == 0 {
		opts.Workers = 1
	}
	if opts.PoolSize == 0 {
		opts.PoolSize = 8
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 200 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	s := &System{T: t, Ctx: ctx, DB: testdb.New(t)}
	log := slog.New(slog.DiscardHandler)

	connCfg, err := pgx.ParseConfig(s.DB.URLWithSchema())
	require.NoError(t, err)
	var pool *pgxpool.Pool
	if opts.Tracer != nil {
		pool = tracedPool(t, s.DB, opts.PoolSize, opts.Tracer)
		connCfg.Tracer = opts.Tracer
	} else {
		pool = s.DB.Pool(t, opts.PoolSize)
	}
	l, err := pgnotify.New(pgnotify.Config{ConnConfig: connCfg, Logger: log})
	require.NoError(t, err)
	require.NoError(t, l.Start(ctx))
	t.Cleanup(l.Stop)
	s.queue, err = pgqueue.New(pgqueue.Config{Pool: pool, Schema: s.DB.Schema, Listener: l, PollInterval: opts.PollInterval})
	require.NoError(t, err)
	s.Store, err = store.New(store.Config{Pool: pool, Queue: s.queue, ProcessorID: "systest", Schema: s.DB.Schema, Logger: log})
	require.NoError(t, err)

	shared := config.Default(config.ContextShared)
	shared.Queues.PollInterval = opts.PollInterval
	ocfg := *config.Default(config.ContextOrchestration).Orchestration
	ocfg.Web.BindAddress = "127.0.0.1:0"
	ocfg.Leader.RenewInterval = 200 * time.Millisecond
	if opts.Orchestration != nil {
		opts.Orchestration(&ocfg)
	}
	s.Core, err = orchestration.New(orchestration.Options{
		Store: s.Store, Queue: s.queue, ConnConfig: connCfg, Config: ocfg, Backoff: shared.Backoff,
		Queues: shared.Queues, Logger: log,
	})
	require.NoError(t, err)
	s.Web, err = web.New(web.Options{Core: s.Core, Listener: l, Schema: s.DB.Schema, Config: ocfg.Web,
		Staleness: ocfg.Staleness, Queues: shared.Queues, Logger: log, Heartbeat: time.Second})
	require.NoError(t, err)
	require.NoError(t, s.Core.Start(ctx))
	s.Cores = []*orchestration.Core{s.Core}
	for i := 1; i < opts.Orchestrators; i++ {
		c, err := orchestration.New(orchestration.Options{
			Store: s.Store, Queue: s.queue, ConnConfig: connCfg, Config: ocfg, Backoff: shared.Backoff,
			Queues: shared.Queues, Logger: log,
		})
		require.NoError(t, err)
		require.NoError(t, c.Start(ctx))
		s.Cores = append(s.Cores, c)
	}
	srv := httptest.NewServer(s.Web.Handler())
	s.URL = srv.URL
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, w := range s.Workers {
			_ = w.Stop(stopCtx)
		}
		_ = s.Web.Stop(stopCtx)
		srv.CloseClientConnections()
		srv.Close()
		for _, c := range s.Cores {
			_ = c.Stop(stopCtx)
		}
	})

	examples, err := native.Templates()
	require.NoError(t, err)
	_, err = s.Store.RegisterTemplates(ctx, append(examples, opts.Templates...))
	require.NoError(t, err)
	for i := 0; i < opts.Workers; i++ {
		s.StartWorker(fmt.Sprintf("systest-worker-%d", i), opts, append(examples, opts.Templates...))
	}
	return s
}

// StartWorker starts one more worker core.
func (s *System) StartWorker(id string, opts Options, tpls []*template.Template) *worker.Core {
	t := s.T
	wcfg := *config.Default(config.ContextWorker).Worker
	wcfg.WorkerID = id
	wcfg.Web.Enabled = false
	if opts.Worker != nil {
		opts.Worker(&wcfg)
	}
	reg := worker.NewRegistry()
	if opts.Registry != nil {
		reg = opts.Registry()
	} else {
		require.NoError(t, native.Register(reg))
	}
	w, err := worker.New(worker.Options{
		Config: wcfg, Templates: config.Templates{}, ExtraTemplates: tpls, Store: s.Store, Queue: s.queue,
		Registry: reg, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	require.NoError(t, w.Start(s.Ctx))
	s.Workers = append(s.Workers, w)
	return w
}

// tracedPool is testdb's pool with a tracer on every connection.
func tracedPool(t testing.TB, db testdb.DB, maxConns int32, tr pgx.QueryTracer) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(db.URL)
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["search_path"] = db.Schema
	cfg.ConnConfig.Tracer = tr
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}
