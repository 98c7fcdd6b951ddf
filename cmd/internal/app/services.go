// Package app assembles the orchestration service of the tasker commands
// (tasker server, tasker dev, tasker bench) on the infrastructure of
// package shared/infra. Workers are assembled by worker.Open.
package app

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/orchestration/web"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/infra"
)

// Orchestration builds the orchestration core and its REST API from an
// orchestration-context configuration (neither is started).
func Orchestration(in *infra.Infra, cfg *config.Config, registry *prometheus.Registry, version string, log *slog.Logger) (*orchestration.Core, *web.Server, error) {
	if cfg.Orchestration == nil {
		return nil, nil, fmt.Errorf("configuration has no [orchestration] section (context %q)", cfg.Context)
	}
	core, err := orchestration.New(orchestration.Options{
		Store: in.Store, Queue: in.Queue, ConnConfig: in.ConnConfig, Config: *cfg.Orchestration,
		Backoff: cfg.Backoff, Queues: cfg.Queues, Logger: log, Registerer: registry, Listener: in.Listener,
	})
	if err != nil {
		return nil, nil, err
	}
	srv, err := web.New(web.Options{
		Core: core, Listener: in.Listener, Schema: cfg.Database.Schema, Config: cfg.Orchestration.Web,
		Staleness: cfg.Orchestration.Staleness, Queues: cfg.Queues, Registry: registry, Logger: log, Version: version,
	})
	if err != nil {
		return nil, nil, err
	}
	return core, srv, nil
}
