package worker

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/telemetry"
	"github.com/tasker-go/tasker/shared/template"
)

// Options configures a Core. Store, Registry and Config are required; the
// rest have defaults.
type Options struct {
	// Config is the [worker] section: claims, handlers, completion, web,
	// worker id, namespaces and shutdown grace. Use
	// *config.Default("worker").Worker for the defaults.
	Config config.Worker
	// Templates is the [templates] section: the search paths whose task
	// templates the worker registers at start. A search path that does not
	// exist is skipped with a warning; a template that does not parse or
	// validate fails Start.
	Templates config.Templates
	// Environment selects the templates' environments.<env> overrides
	// (usually the configuration's environment).
	Environment string
	// ExtraTemplates are registered alongside those found on the search
	// paths (for example templates embedded in a worker binary).
	ExtraTemplates []*template.Template

	// Store runs every SQL statement. Required.
	Store *store.Store
	// Queue is the queue driver the worker watches, extends and releases
	// step messages through; default Store.Queue(). Claims and acks go
	// through the store (in its units of work). Wake-ups come from its
	// Subscribe (the PostgreSQL driver takes them from the process's shared
	// pgnotify listener, which the caller starts and stops).
	Queue messaging.Driver

	// Registry holds the Go handlers. Required (it may be empty when
	// Fallback runs every step).
	Registry *Registry
	// Fallback runs the steps whose callable is not in Registry (a
	// ChannelExecutor for Ruby or Python handlers). Nil means such steps
	// fail with handler_not_found.
	Fallback Executor

	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the worker's Prometheus metrics. Nil means a
	// private registry (see Core.Gatherer).
	Registerer prometheus.Registerer
	// Gatherer serves /metrics. Nil means Registerer when it is also a
	// Gatherer (a *prometheus.Registry), else prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// Hostname is reported in step results; default os.Hostname().
	Hostname string
	// Settings is the whole effective configuration, shown (secrets
	// redacted) by the HTTP API's GET /config; without it that endpoint
	// shows the [worker] and [templates] sections. Optional.
	Settings *config.Config
	// Version is reported by the health and config endpoints; default
	// "dev".
	Version string
	// Tracer records a claim span and an execute span per step, children
	// of the trace stored with the step's task. Nil (tracing off) records
	// nothing.
	Tracer *telemetry.Tracer
}

// withDefaults validates o and fills in the defaults.
func (o Options) withDefaults() (Options, error) {
	if o.Store == nil {
		return o, errors.New("worker: Options.Store is required")
	}
	if o.Registry == nil {
		return o, errors.New("worker: Options.Registry is required")
	}
	if err := o.Config.Validate(); err != nil {
		return o, fmt.Errorf("worker: invalid configuration: %w", err)
	}
	if err := o.Templates.Validate(); err != nil {
		return o, fmt.Errorf("worker: invalid template configuration: %w", err)
	}
	if o.Queue == nil {
		o.Queue = o.Store.Queue()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
	}
	if o.Config.WorkerID == "" {
		o.Config.WorkerID = fmt.Sprintf("%s-%d", o.Hostname, os.Getpid())
	}
	o.Config.Namespaces = slices.Clone(o.Config.Namespaces)
	if o.Registerer == nil {
		reg := prometheus.NewRegistry()
		o.Registerer = reg
		if o.Gatherer == nil {
			o.Gatherer = reg
		}
	}
	if o.Gatherer == nil {
		if g, ok := o.Registerer.(prometheus.Gatherer); ok {
			o.Gatherer = g
		} else {
			o.Gatherer = prometheus.DefaultGatherer
		}
	}
	return o, nil
}
