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
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/orchestration/server"
	"github.com/tasker-go/tasker/orchestration/web"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/messaging/rabbitmq"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/telemetry"
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
	// Fallback runs the steps whose callable is not in the registry (for
	// example WASM handlers).
	Fallback worker.Executor
	// Orchestration and Worker adjust the configuration.
	Orchestration func(*config.Orchestration)
	Worker        func(*config.Worker)
	// PoolSize per process (default 8).
	PoolSize int32
	// PollInterval is the queues' fallback poll (default 200ms).
	PollInterval time.Duration
	// Timeout bounds the system's context (default 5 minutes): a test
	// whose work takes longer fails instead of hanging.
	Timeout time.Duration
	// RabbitMQURL, when set, runs the system on the rabbitmq queue backend
	// with this broker URL (see BrokerVHost for a private one).
	RabbitMQURL string
	// Tracer, when set, sees every statement of the system's connections
	// (pool, LISTEN, leader-election and liveness connections).
	Tracer pgx.QueryTracer
	// OrchestrationTracer and WorkerTracer, when set, record the spans of
	// the orchestration cores and of the workers (two tracer providers
	// stand for two processes).
	OrchestrationTracer *telemetry.Tracer
	WorkerTracer        *telemetry.Tracer
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
	infra   *infra.Infra
}

// Start starts a system; it is stopped when the test ends. The services
// are assembled by the public constructors (server.Open, worker.Open) on one
// shared infrastructure, as tasker dev assembles them.
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
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
	t.Cleanup(cancel)
	s := &System{T: t, Ctx: ctx, DB: testdb.New(t)}
	log := slog.New(slog.DiscardHandler)

	cfg := config.Default(config.ContextOrchestration)
	cfg.Database.URL, cfg.Database.Schema = s.DB.URL, s.DB.Schema
	cfg.Database.Pool.MaxConnections, cfg.Database.Pool.MinConnections = int(opts.PoolSize), 0
	cfg.Queues.PollInterval = opts.PollInterval
	if opts.RabbitMQURL != "" {
		cfg.Queues.Backend = config.BackendRabbitMQ
		cfg.Queues.RabbitMQ.URL = opts.RabbitMQURL
		cfg.Queues.RabbitMQ.OutboxPollInterval = opts.PollInterval
	}
	ocfg := cfg.Orchestration
	ocfg.Web.Enabled = false // served over httptest below
	ocfg.Web.BindAddress = "127.0.0.1:0"
	ocfg.Leader.RenewInterval = 200 * time.Millisecond
	if opts.Orchestration != nil {
		opts.Orchestration(ocfg)
	}
	var err error
	s.infra, err = infra.ConnectWith(ctx, cfg, infra.ConnectOptions{Name: "systest", Logger: log, Tracer: opts.Tracer})
	require.NoError(t, err)
	t.Cleanup(s.infra.Close)
	s.Store = s.infra.Store

	var services []*server.Service
	for i := 0; i < max(opts.Orchestrators, 1); i++ {
		svc, err := server.Open(ctx, server.OpenOptions{Config: cfg, Infra: s.infra, Logger: log,
			InstanceID: fmt.Sprintf("systest-orchestrator-%d", i), EventHeartbeat: time.Second,
			Tracer: opts.OrchestrationTracer})
		require.NoError(t, err)
		require.NoError(t, svc.Start(ctx))
		services = append(services, svc)
		s.Cores = append(s.Cores, svc.Core())
	}
	s.Core, s.Web = s.Cores[0], services[0].API()
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
		for _, svc := range services {
			_ = svc.Stop(stopCtx)
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
	cfg := config.Default(config.ContextWorker)
	cfg.Database = s.infra.Config.Database
	cfg.Queues = s.infra.Config.Queues
	wcfg := cfg.Worker
	wcfg.WorkerID = id
	wcfg.Web.Enabled = false
	if opts.Worker != nil {
		opts.Worker(wcfg)
	}
	reg := worker.NewRegistry()
	if opts.Registry != nil {
		reg = opts.Registry()
	} else {
		require.NoError(t, native.Register(reg))
	}
	svc, err := worker.Open(s.Ctx, worker.OpenOptions{Config: cfg, Infra: s.infra, Registry: reg, Fallback: opts.Fallback,
		Templates: tpls, Logger: slog.New(slog.DiscardHandler), Tracer: opts.WorkerTracer})
	require.NoError(t, err)
	w := svc.Core()
	require.NoError(t, w.Start(s.Ctx))
	s.Workers = append(s.Workers, w)
	return w
}

// Broker is the system's RabbitMQ connection (nil on the postgres
// backend).
func (s *System) Broker() *rabbitmq.Client { return s.infra.Broker }
