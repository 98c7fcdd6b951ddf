// Package server assembles what `tasker server` runs, so that a Go program
// can embed orchestration in a few lines: the orchestration core with its
// queue consumers and cluster-wide loops, and the REST API in front of it,
// built from the layered configuration and the process environment on the
// infrastructure of package shared/infra.
//
//	srv, err := server.Open(ctx, server.OpenOptions{})
//	if err != nil {
//		return err
//	}
//	return srv.Run(ctx) // until ctx ends, then a graceful stop
//
// It is the orchestration counterpart of worker.Open; `tasker server`,
// `tasker dev` and `tasker bench` are built on it. It lives beside package
// orchestration rather than in it because it includes the REST API
// (orchestration/web), which itself imports orchestration.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/orchestration/web"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/domainevent"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/telemetry"
)

// OpenOptions say how Open assembles the service. The zero value works: the
// configuration is the orchestration context of the configuration tree in
// $TASKER_CONFIG_ROOT (else the copy built into the binary), layered with
// the process environment (TASKER_ENV, DATABASE_URL, TASKER__SECTION__KEY),
// exactly as `tasker server` loads it.
//
// The configuration is built in this order, each step winning over the
// ones before: built-in defaults, the TOML files of ConfigRoot for
// Environment, the environment variables of Environ, Overrides,
// DatabaseURL and Schema, then BindAddress and InstanceID, then Configure;
// the result is validated once.
type OpenOptions struct {
	// ConfigRoot is the directory holding the shared/ and orchestration/
	// TOML trees. Empty means $TASKER_CONFIG_ROOT (from Environ), else the
	// copy built into the binary.
	ConfigRoot string
	// Environment is test, development or production. Empty means
	// $TASKER_ENV (from Environ), else development.
	Environment string
	// Environ is the environment the configuration reads, in os.Environ
	// form. Nil means os.Environ(); an empty, non-nil slice means none.
	Environ []string
	// Overrides are settings applied after the environment, as nested
	// tables keyed like the TOML files, for example
	// {"orchestration": {"web": {"enabled": false}}}. Problems name
	// OverridesSource (default "overrides").
	Overrides       map[string]any
	OverridesSource string
	// DatabaseURL and Schema, when set, replace database.url and
	// database.schema from every other source (as tasker server's
	// --database-url and --schema flags do).
	DatabaseURL string
	Schema      string
	// BindAddress, when set, replaces orchestration.web.bind_address: the
	// host:port the REST API listens on (port 0 picks a free port; Addr
	// tells which).
	BindAddress string
	// InstanceID, when set, replaces orchestration.instance_id. When
	// neither sets one the instance is named Name-<hostname>-<pid>.
	InstanceID string
	// Configure, when set, changes the loaded configuration in code (typed
	// overrides). It runs last; the configuration is validated after it.
	Configure func(*config.Config)
	// Config, when set, is the orchestration-context configuration to use
	// as it is: nothing is loaded, and ConfigRoot, Environment, Environ,
	// Overrides, DatabaseURL and Schema must be empty. BindAddress,
	// InstanceID and Configure still apply (to a copy).
	Config *config.Config

	// Name is the prefix of a generated instance id (Name-<hostname>-<pid>).
	// Default "orchestration". The instance id is also the PostgreSQL
	// application_name of the connections Open opens and the processor id
	// of the transitions they write.
	Name string
	// Version is shown in the OpenAPI document and the health responses.
	// Default "dev".
	Version string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics receives the service's Prometheus metrics, which the REST API
	// serves on /metrics. Nil means a new registry with the Go runtime and
	// process collectors.
	Metrics *prometheus.Registry
	// Infra, when set, is the infrastructure (pool, LISTEN connection,
	// queue, store) to run on instead of connecting to the configured
	// database; Stop leaves it open. Programs that run orchestration and a
	// worker in one process share one this way.
	Infra *infra.Infra
	// EventBus, when set, receives the fast domain events of the results
	// the service commits; Stop leaves it open. Nil: the service makes its
	// own (Service.Events) and closes it on Stop.
	EventBus *domainevent.Bus
	// EventHeartbeat is the interval of the comment lines the task event
	// streams send while nothing happens. Default 15s.
	EventHeartbeat time.Duration
	// Tracer, when set, records the service's spans instead of the tracer
	// built from the [telemetry] section (tests use one with an in-memory
	// exporter).
	Tracer *telemetry.Tracer
}

// Open loads the orchestration configuration, connects to PostgreSQL (pool,
// LISTEN connection, queue, store), checks that the schema was migrated and
// builds the orchestration core and its REST API, as `tasker server` does;
// nothing runs until Start or Run. ctx bounds the connection and the schema
// check.
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
	s := &Service{cfg: cfg, log: log, metrics: opts.Metrics, infra: opts.Infra}
	tracer := opts.Tracer
	if tracer == nil {
		if s.tracing, err = telemetry.Setup(ctx, cfg.Telemetry, "tasker-orchestration"); err != nil {
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
		s.infra, err = infra.Connect(context.WithoutCancel(ctx), cfg, cfg.Orchestration.InstanceID, log)
		if err != nil {
			s.stopTracing()
			return nil, errors.New(config.RedactSecrets(err.Error()))
		}
		s.ownInfra = true
	}
	if err := s.infra.CheckSchema(ctx); err != nil {
		s.closeInfra()
		s.stopTracing()
		return nil, err
	}
	s.bus = opts.EventBus
	if s.bus == nil {
		em, err := domainevent.NewMetrics(s.metrics)
		if err != nil {
			s.closeInfra()
			s.stopTracing()
			return nil, err
		}
		s.bus, s.ownBus = domainevent.NewBus(domainevent.BusConfig{Logger: log, Metrics: em}), true
	}
	s.core, err = orchestration.New(orchestration.Options{
		Store: s.infra.Store, Queue: s.infra.Queue, ConnConfig: s.infra.ConnConfig, Config: *cfg.Orchestration,
		Backoff: cfg.Backoff, Queues: cfg.Queues, Logger: log, Registerer: s.metrics, Listener: s.infra.Listener,
		EventBus: s.bus, Tracer: tracer,
	})
	if err != nil {
		s.closeInfra()
		s.stopTracing()
		return nil, err
	}
	s.api, err = web.New(web.Options{
		Core: s.core, Listener: s.infra.Listener, Schema: cfg.Database.Schema, Config: cfg.Orchestration.Web,
		Staleness: cfg.Orchestration.Staleness, Queues: cfg.Queues, Registry: s.metrics, Logger: log,
		Version: opts.Version, Heartbeat: opts.EventHeartbeat, Settings: cfg,
	})
	if err != nil {
		s.closeInfra()
		s.stopTracing()
		return nil, err
	}
	return s, nil
}

func (o OpenOptions) name() string {
	if o.Name == "" {
		return "orchestration"
	}
	return o.Name
}

// openConfig builds the configuration in the order OpenOptions describes.
func openConfig(opts OpenOptions) (*config.Config, error) {
	var cfg *config.Config
	if opts.Config != nil {
		if opts.ConfigRoot != "" || opts.Environment != "" || opts.Environ != nil || opts.Overrides != nil ||
			opts.DatabaseURL != "" || opts.Schema != "" {
			return nil, errors.New("server: OpenOptions.Config excludes ConfigRoot, Environment, Environ, Overrides, DatabaseURL and Schema")
		}
		if opts.Config.Orchestration == nil {
			return nil, fmt.Errorf("server: OpenOptions.Config has no [orchestration] section (context %q)", opts.Config.Context)
		}
		c := *opts.Config
		o := *opts.Config.Orchestration
		c.Orchestration = &o
		c.Templates.SearchPaths = append([]string(nil), c.Templates.SearchPaths...)
		cfg = &c
	} else {
		environ := opts.Environ
		if environ == nil {
			environ = os.Environ()
		}
		var err error
		cfg, err = infra.LoadConfig(infra.ConfigOptions{
			Root: opts.ConfigRoot, Context: config.ContextOrchestration, Env: opts.Environment, Environ: environ,
			Overrides: opts.Overrides, OverridesSource: opts.OverridesSource, DatabaseURL: opts.DatabaseURL,
			Schema: opts.Schema,
		})
		if err != nil {
			return nil, err
		}
	}
	if opts.BindAddress != "" {
		if _, _, err := net.SplitHostPort(opts.BindAddress); err != nil {
			return nil, fmt.Errorf("server: BindAddress %q: want host:port (port 0 picks a free port): %w", opts.BindAddress, err)
		}
		cfg.Orchestration.Web.BindAddress = opts.BindAddress
	}
	if opts.InstanceID != "" {
		cfg.Orchestration.InstanceID = opts.InstanceID
	}
	if opts.Configure != nil {
		opts.Configure(cfg)
	}
	if cfg.Orchestration == nil {
		return nil, errors.New("server: OpenOptions.Configure removed the [orchestration] section")
	}
	if cfg.Orchestration.InstanceID == "" {
		cfg.Orchestration.InstanceID = infra.ProcessName(opts.name(), "")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}
