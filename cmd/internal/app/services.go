package app

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/orchestration/web"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/worker"
)

// NewRegistry returns a Prometheus registry with the Go runtime and process
// collectors.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Orchestration builds the orchestration core and its REST API from an
// orchestration-context configuration (neither is started).
func Orchestration(infra *Infra, cfg *config.Config, registry *prometheus.Registry, version string, log *slog.Logger) (*orchestration.Core, *web.Server, error) {
	if cfg.Orchestration == nil {
		return nil, nil, fmt.Errorf("configuration has no [orchestration] section (context %q)", cfg.Context)
	}
	core, err := orchestration.New(orchestration.Options{
		Store: infra.Store, Queue: infra.Queue, ConnConfig: infra.ConnConfig, Config: *cfg.Orchestration,
		Backoff: cfg.Backoff, Queues: cfg.Queues, Logger: log, Registerer: registry, Listener: infra.Listener,
	})
	if err != nil {
		return nil, nil, err
	}
	srv, err := web.New(web.Options{
		Core: core, Listener: infra.Listener, Schema: cfg.Database.Schema, Config: cfg.Orchestration.Web,
		Staleness: cfg.Orchestration.Staleness, Queues: cfg.Queues, Registry: registry, Logger: log, Version: version,
	})
	if err != nil {
		return nil, nil, err
	}
	return core, srv, nil
}

// Worker builds a worker core from a worker-context configuration (not
// started). registry holds its Go handlers; extra templates are registered
// with those found on the configured search paths.
func Worker(infra *Infra, cfg *config.Config, handlers *worker.Registry, extra []*template.Template,
	registry *prometheus.Registry, log *slog.Logger) (*worker.Core, error) {
	if cfg.Worker == nil {
		return nil, fmt.Errorf("configuration has no [worker] section (context %q)", cfg.Context)
	}
	return worker.New(worker.Options{
		Config: *cfg.Worker, Templates: cfg.Templates, Environment: cfg.Env, ExtraTemplates: extra,
		Store: infra.Store, Queue: infra.Queue, Registry: handlers, Logger: log, Registerer: registry,
	})
}
