package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/orchestration/web"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/domainevent"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/telemetry"
)

// Service is the orchestration service assembled by Open: its
// infrastructure, the orchestration Core and the REST API in front of it.
// Run serves until a context ends; Start and Stop do the same in two calls.
type Service struct {
	core     *orchestration.Core
	api      *web.Server
	cfg      *config.Config
	infra    *infra.Infra
	ownInfra bool
	closed   sync.Once
	metrics  *prometheus.Registry
	log      *slog.Logger
	bus      *domainevent.Bus
	ownBus   bool
	tracing  *telemetry.Provider
}

// stopTracing flushes and stops the tracing pipeline Open started, if any.
func (s *Service) stopTracing() {
	if s.tracing == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.tracing.Shutdown(ctx); err != nil {
		s.log.Warn("flushing the last spans failed", "error", err)
	}
}

// Events is the in-process bus that receives the fast domain events of the
// results this instance commits (docs/events.md):
//
//	srv.Events().Subscribe("payment.*", func(ctx context.Context, e domainevent.Event) error { ... })
func (s *Service) Events() *domainevent.Bus { return s.bus }

// Core is the orchestration core, for what Service does not wrap: creating
// tasks in-process, operator actions, leadership, maintenance runs.
func (s *Service) Core() *orchestration.Core { return s.core }

// API is the REST API server. Its Handler serves the routes without
// listening (for httptest, or a listener of the program's own).
func (s *Service) API() *web.Server { return s.api }

// Handler serves every route of the REST API (API().Handler()).
func (s *Service) Handler() http.Handler { return s.api.Handler() }

// Addr is the address the REST API listens on after Start: with bind
// address port 0 it carries the chosen port. It is "" before Start and when
// orchestration.web.enabled is false.
func (s *Service) Addr() string { return s.api.Addr() }

// Config is the configuration the service runs with.
func (s *Service) Config() *config.Config { return s.cfg }

// InstanceID is the instance's name: orchestration.instance_id, or the one
// Open generated.
func (s *Service) InstanceID() string { return s.cfg.Orchestration.InstanceID }

// Infra is the infrastructure the service runs on.
func (s *Service) Infra() *infra.Infra { return s.infra }

// Metrics is the registry the service's metrics are registered in.
func (s *Service) Metrics() *prometheus.Registry { return s.metrics }

// Logger is the service's logger.
func (s *Service) Logger() *slog.Logger { return s.log }

// Start starts the core (queue consumers, leader election, loops), then the
// REST API listens (unless orchestration.web.enabled is false). When the
// API cannot listen the core is stopped again and the error wraps the
// listener's (a *listen.InUseError for a busy port). ctx bounds start-up
// only.
func (s *Service) Start(ctx context.Context) error {
	if err := s.core.Start(ctx); err != nil {
		return fmt.Errorf("starting orchestration: %w", err)
	}
	if err := s.api.Start(ctx); err != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Orchestration.ShutdownTimeout)
		defer cancel()
		_ = s.core.Stop(sctx)
		return err
	}
	return nil
}

// Stop shuts the service down gracefully within ctx: the REST API first
// (open event streams end, in-flight requests drain), so that no new task
// arrives while the core finishes its in-flight batches and stops its
// loops; then it closes the infrastructure Open connected. Work not
// committed in time is redone by another instance. It may be called whether
// or not the service started, and again.
func (s *Service) Stop(ctx context.Context) error {
	var errs []error
	if err := s.api.Stop(ctx); err != nil {
		errs = append(errs, fmt.Errorf("the REST API did not drain in time: %w", err))
	}
	if err := s.core.Stop(ctx); err != nil {
		errs = append(errs, fmt.Errorf("orchestration did not stop cleanly (another instance redoes its unfinished work): %w", err))
	}
	s.closeInfra()
	s.stopTracing()
	return errors.Join(errs...)
}

// Run starts the service (logging "orchestration serving" with the REST
// API's address), serves until ctx ends, then stops it gracefully within
// orchestration.shutdown_timeout.
func (s *Service) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		_ = s.Stop(context.WithoutCancel(ctx))
		return err
	}
	s.log.Info("orchestration serving", "instance_id", s.InstanceID(), "addr", s.Addr(), "schema", s.cfg.Database.Schema)
	<-ctx.Done()
	s.log.Info("shutting down", "timeout", s.cfg.Orchestration.ShutdownTimeout)
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Orchestration.ShutdownTimeout)
	defer cancel()
	return s.Stop(stopCtx)
}

func (s *Service) closeInfra() {
	if s.ownBus {
		s.bus.Close() // delivers what is buffered; idempotent
	}
	if s.ownInfra {
		s.closed.Do(s.infra.Close)
	}
}
