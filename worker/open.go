package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/telemetry"
	"github.com/tasker-go/tasker/shared/template"
)

// OpenOptions say how Open assembles a worker. The zero value works: the
// configuration is the worker context of the configuration tree in
// $TASKER_CONFIG_ROOT (else the copy built into the binary), layered with
// the process environment (TASKER_ENV, DATABASE_URL, TASKER_TEMPLATE_PATH,
// TASKER__SECTION__KEY), exactly as tasker-worker loads it.
//
// The configuration is built in this order, each step winning over the
// ones before: built-in defaults, the TOML files of ConfigRoot for
// Environment, the environment variables of Environ, Overrides,
// DatabaseURL, then TemplatePaths, Namespaces and WorkerID, then
// Configure; the result is validated once.
type OpenOptions struct {
	// Registry holds the Go handlers. Nil means an empty registry: every
	// step goes to Fallback (or fails with handler_not_found).
	Registry *Registry
	// Fallback runs the steps whose callable is not in Registry, for
	// example a ChannelExecutor serving handlers in another language.
	Fallback Executor
	// FallbackFromConfig, when set, builds Fallback from the loaded
	// configuration, before Open connects to the database: wasm.FromConfig
	// runs the WASM handlers the [worker.wasm] section configures. A nil
	// Executor means none. An executor with a Close(context.Context) error
	// method is closed by Stop (and by Open when it fails later). It
	// excludes Fallback.
	FallbackFromConfig func(ctx context.Context, cfg *config.Config, log *slog.Logger) (Executor, error)

	// ConfigRoot is the directory holding the shared/ and worker/ TOML
	// trees. Empty means $TASKER_CONFIG_ROOT (from Environ), else the copy
	// built into the binary.
	ConfigRoot string
	// Environment is test, development or production. Empty means
	// $TASKER_ENV (from Environ), else development.
	Environment string
	// Environ is the environment the configuration reads, in os.Environ
	// form. Nil means os.Environ(); an empty, non-nil slice means none.
	Environ []string
	// Overrides are settings applied after the environment, as nested
	// tables keyed like the TOML files, for example
	// {"worker": {"handlers": {"max_concurrent": 8}}}. Problems name
	// OverridesSource (default "overrides").
	Overrides       map[string]any
	OverridesSource string
	// DatabaseURL, when set, replaces database.url from every other source
	// (as tasker's --database-url flag does).
	DatabaseURL string
	// TemplatePaths are directories of task template YAML searched in
	// addition to templates.search_paths.
	TemplatePaths []string
	// Namespaces, when set, replaces worker.namespaces: the worker serves
	// only these namespaces.
	Namespaces []string
	// WorkerID, when set, replaces worker.worker_id. When neither sets one
	// the worker is named Name-<hostname>-<pid>.
	WorkerID string
	// Configure, when set, changes the loaded configuration in code (typed
	// overrides). It runs last; the configuration is validated after it.
	Configure func(*config.Config)
	// Config, when set, is the worker-context configuration to use as it
	// is: nothing is loaded, and ConfigRoot, Environment, Environ,
	// Overrides and DatabaseURL must be empty. TemplatePaths, Namespaces,
	// WorkerID and Configure still apply (to a copy).
	Config *config.Config

	// Templates are registered with those found on the search paths (for
	// example templates embedded in the binary).
	Templates []*template.Template
	// Name is the prefix of a generated worker id (Name-<hostname>-<pid>).
	// Default "tasker-worker". The worker id is also the PostgreSQL
	// application_name of the connections Open opens.
	Name string
	// Hostname is reported in step results; default os.Hostname().
	Hostname string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics receives the worker's Prometheus metrics and serves
	// /metrics. Nil means a new registry with the Go runtime and process
	// collectors.
	Metrics *prometheus.Registry
	// Infra, when set, is the infrastructure (pool, LISTEN connection,
	// queue, store) to run on instead of connecting to the configured
	// database; Stop leaves it open. Programs that run orchestration and a
	// worker in one process share one this way.
	Infra *infra.Infra
	// Tracer, when set, records the worker's spans instead of the tracer
	// built from the [telemetry] section (tests use one with an in-memory
	// exporter).
	Tracer *telemetry.Tracer
}

// Service is a worker assembled by Open: its infrastructure and its Core.
// Run serves until a context ends; Start and Stop do the same in two calls.
type Service struct {
	core     *Core
	cfg      *config.Config
	infra    *infra.Infra
	ownInfra bool
	closed   sync.Once
	metrics  *prometheus.Registry
	log      *slog.Logger
	name     string
	tracing  *telemetry.Provider
	// closeFallback closes the executor FallbackFromConfig built.
	closeFallback func(context.Context) error
}

// Open loads the worker configuration, connects to PostgreSQL (pool,
// LISTEN connection, queue, store), checks that the schema was migrated
// and builds the worker core, as tasker-worker does; the worker does not
// run until Start or Run. ctx bounds the connection and the schema check.
//
// A configuration error is a config.Problems listing every problem; a
// database that was never migrated gives an error wrapping
// infra.ErrNoSchema. Nothing is left open when Open fails.
func Open(ctx context.Context, opts OpenOptions) (*Service, error) {
	cfg, err := openConfig(opts)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Service{cfg: cfg, log: log, metrics: opts.Metrics, infra: opts.Infra, name: opts.name()}
	fallback := opts.Fallback
	if opts.FallbackFromConfig != nil {
		if fallback != nil {
			return nil, errors.New("worker: OpenOptions: set Fallback or FallbackFromConfig, not both")
		}
		if fallback, err = opts.FallbackFromConfig(ctx, cfg, log); err != nil {
			return nil, err
		}
		if cl, ok := fallback.(interface{ Close(context.Context) error }); ok {
			s.closeFallback = cl.Close
		}
	}
	tracer := opts.Tracer
	if tracer == nil {
		if s.tracing, err = telemetry.Setup(ctx, cfg.Telemetry, "tasker-worker"); err != nil {
			s.closeInfra()
			return nil, err
		}
		tracer = s.tracing.Tracer
	}
	if tracer != nil {
		log = slog.New(telemetry.NewLogHandler(log.Handler()))
		s.log = log
	}
	if s.metrics == nil {
		s.metrics = infra.NewMetricsRegistry()
	}
	if s.infra == nil {
		// The infrastructure outlives ctx: Stop closes it after the
		// graceful shutdown, which may run after ctx ended.
		s.infra, err = infra.Connect(context.WithoutCancel(ctx), cfg, cfg.Worker.WorkerID, log)
		if err != nil {
			s.closeInfra()
			return nil, errors.New(config.RedactSecrets(err.Error()))
		}
		s.ownInfra = true
	}
	if err := s.infra.CheckSchema(ctx); err != nil {
		s.closeInfra()
		return nil, err
	}
	reg := opts.Registry
	if reg == nil {
		reg = NewRegistry()
	}
	s.core, err = New(Options{
		Config: *cfg.Worker, Templates: cfg.Templates, Environment: cfg.Env, ExtraTemplates: opts.Templates,
		Store: s.infra.Store, Queue: s.infra.Queue, Registry: reg, Fallback: fallback,
		Logger: log, Registerer: s.metrics, Gatherer: s.metrics, Hostname: opts.Hostname, Settings: cfg,
		Tracer: tracer,
	})
	if err != nil {
		s.closeInfra()
		return nil, err
	}
	return s, nil
}

func (o OpenOptions) name() string {
	if o.Name == "" {
		return "tasker-worker"
	}
	return o.Name
}

// openConfig builds the configuration in the order OpenOptions describes.
func openConfig(opts OpenOptions) (*config.Config, error) {
	var cfg *config.Config
	if opts.Config != nil {
		if opts.ConfigRoot != "" || opts.Environment != "" || opts.Environ != nil || opts.Overrides != nil || opts.DatabaseURL != "" {
			return nil, errors.New("worker: OpenOptions.Config excludes ConfigRoot, Environment, Environ, Overrides and DatabaseURL")
		}
		if opts.Config.Worker == nil {
			return nil, fmt.Errorf("worker: OpenOptions.Config has no [worker] section (context %q)", opts.Config.Context)
		}
		c := *opts.Config
		w := *opts.Config.Worker
		c.Worker = &w
		c.Templates.SearchPaths = append([]string(nil), c.Templates.SearchPaths...)
		cfg = &c
	} else {
		environ := opts.Environ
		if environ == nil {
			environ = os.Environ()
		}
		var err error
		cfg, err = infra.LoadConfig(infra.ConfigOptions{
			Root: opts.ConfigRoot, Context: config.ContextWorker, Env: opts.Environment, Environ: environ,
			Overrides: opts.Overrides, OverridesSource: opts.OverridesSource, DatabaseURL: opts.DatabaseURL,
		})
		if err != nil {
			return nil, err
		}
	}
	cfg.Templates.SearchPaths = append(cfg.Templates.SearchPaths, opts.TemplatePaths...)
	if opts.Namespaces != nil {
		cfg.Worker.Namespaces = append([]string(nil), opts.Namespaces...)
	}
	if opts.WorkerID != "" {
		cfg.Worker.WorkerID = opts.WorkerID
	}
	if opts.Configure != nil {
		opts.Configure(cfg)
	}
	if cfg.Worker == nil {
		return nil, errors.New("worker: OpenOptions.Configure removed the [worker] section")
	}
	if cfg.Worker.WorkerID == "" {
		cfg.Worker.WorkerID = infra.ProcessName(opts.name(), "")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Core is the worker core, for what Service does not wrap: stats, the
// HTTP handler, the registered templates.
func (s *Service) Core() *Core { return s.core }

// Config is the configuration the worker runs with.
func (s *Service) Config() *config.Config { return s.cfg }

// Infra is the infrastructure the worker runs on.
func (s *Service) Infra() *infra.Infra { return s.infra }

// Metrics is the registry the worker's metrics are registered in.
func (s *Service) Metrics() *prometheus.Registry { return s.metrics }

// Logger is the worker's logger.
func (s *Service) Logger() *slog.Logger { return s.log }

// Start registers the templates, ensures the queues and starts claiming
// (Core.Start). ctx bounds start-up only.
func (s *Service) Start(ctx context.Context) error { return s.core.Start(ctx) }

// BeginShutdown stops claiming new steps; the steps already claimed run to
// completion. Stop finishes the shutdown.
func (s *Service) BeginShutdown() { s.core.BeginShutdown() }

// Stop shuts the worker down gracefully (Core.Stop: handlers get up to
// worker.shutdown_grace, bounded by ctx; the rest are released for another
// worker; every result is committed), then closes the infrastructure Open
// connected. It may be called whether or not the worker started, and again.
func (s *Service) Stop(ctx context.Context) error {
	err := s.core.Stop(ctx)
	s.closeInfra()
	return err
}

// Run starts the worker (logging "<Name> started"), serves until ctx
// ends, then stops it gracefully within worker.shutdown_grace plus a second
// for releasing claims and committing results.
func (s *Service) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		_ = s.Stop(context.WithoutCancel(ctx))
		return err
	}
	s.log.Info(s.name+" started", "worker_id", s.core.WorkerID(), "namespaces", s.core.Namespaces())
	<-ctx.Done()
	s.log.Info("shutting down", "worker_id", s.core.WorkerID(), "grace", s.cfg.Worker.ShutdownGrace)
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Worker.ShutdownGrace+time.Second)
	defer cancel()
	return s.Stop(stopCtx)
}

func (s *Service) closeInfra() {
	if s.closeFallback != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.closeFallback(ctx); err != nil {
			s.log.Warn("closing the fallback executor failed", "error", err)
		}
		cancel()
		s.closeFallback = nil
	}
	if s.ownInfra && s.infra != nil {
		s.closed.Do(s.infra.Close)
	}
	if s.tracing != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.tracing.Shutdown(ctx); err != nil {
			s.log.Warn("flushing the last spans failed", "error", err)
		}
		s.tracing = nil
	}
}
