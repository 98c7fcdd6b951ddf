package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/store"
)

// workerType names what runs the handlers, for tasker-core's worker_type.
func (c *Core) workerType() string {
	if c.opts.Fallback != nil {
		return "go+ffi"
	}
	return "go"
}

func (c *Core) version() string {
	if c.opts.Version != "" {
		return c.opts.Version
	}
	return "dev"
}

func (c *Core) health(status string) api.WorkerHealthResponse {
	return api.WorkerHealthResponse{Status: status, WorkerID: c.cfg.WorkerID, State: c.stateName(), Timestamp: time.Now().UTC()}
}

func (c *Core) handleHealth(w http.ResponseWriter, _ *http.Request) {
	status := "healthy"
	if c.state.Load() != stateRunning {
		status = c.stateName()
	}
	writeJSON(w, http.StatusOK, c.health(status))
}

func (c *Core) handleLive(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, c.health("alive"))
}

// check runs fn and reports it as a health check.
func check(fn func() (string, error)) api.WorkerHealthCheck {
	start := time.Now()
	msg, err := fn()
	c := api.WorkerHealthCheck{Status: "healthy", Message: msg, DurationMs: api.DurationMs(time.Since(start)),
		LastChecked: time.Now().UTC()}
	if err != nil {
		c.Status, c.Message = "unhealthy", err.Error()
	}
	return c
}

// databaseCheck pings the database.
func (c *Core) databaseCheck(ctx context.Context) api.WorkerHealthCheck {
	return check(func() (string, error) {
		ctx, cancel := context.WithTimeout(ctx, readyTimeout)
		defer cancel()
		if err := c.store.Ping(ctx); err != nil {
			if errors.Is(store.Classify(err), store.ErrUnavailable) {
				return "", errors.New("the database is unavailable: " + err.Error())
			}
			return "", errors.New("the database check failed: " + err.Error())
		}
		return "the database answers", nil
	})
}

// runningCheck is healthy while the worker runs.
func (c *Core) runningCheck(what string) api.WorkerHealthCheck {
	return check(func() (string, error) {
		if c.state.Load() != stateRunning {
			return "", errors.New("the worker is " + c.stateName())
		}
		return what, nil
	})
}

func (c *Core) systemInfo() api.WorkerSystemInfo {
	info := api.WorkerSystemInfo{Version: c.version(), Environment: c.opts.Environment, WorkerType: c.workerType(),
		CommandProcessorActive: c.state.Load() == stateRunning, SupportedNamespaces: c.Namespaces()}
	if info.Environment == "" {
		info.Environment = "unknown"
	}
	if info.SupportedNamespaces == nil {
		info.SupportedNamespaces = []string{}
	}
	if c.state.Load() == stateRunning {
		info.UptimeSeconds = uint64(time.Since(c.startedAt).Seconds())
	}
	if p := c.opts.Store.Pool(); p != nil {
		info.DatabasePoolSize = uint32(max(p.Stat().MaxConns(), 0))
	}
	return info
}

func (c *Core) handleReady(w http.ResponseWriter, r *http.Request) {
	body := api.WorkerReadinessResponse{WorkerHealthResponse: c.health("ready"), SystemInfo: c.systemInfo()}
	body.Checks = api.WorkerReadinessChecks{
		Database:         c.databaseCheck(r.Context()),
		CommandProcessor: c.runningCheck("claim loops and handler dispatch are running"),
		QueueProcessing:  c.runningCheck("consuming the namespace queues"),
	}
	switch {
	case c.state.Load() != stateRunning:
		writeError(w, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "worker is "+c.stateName())
	case body.Checks.Database.Status != "healthy":
		writeError(w, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", body.Checks.Database.Message)
	default:
		writeJSON(w, http.StatusOK, body)
	}
}

func (c *Core) handleDetailed(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	st := c.Stats()
	body := api.WorkerDetailedHealthResponse{
		WorkerHealthResponse: c.health("healthy"),
		SystemInfo:           c.systemInfo(),
		Hostname:             c.opts.Hostname,
		Namespaces:           c.Namespaces(),
		Stats: api.WorkerStats{WorkerID: st.WorkerID, Namespaces: st.Namespaces, Running: st.Running,
			Completing: st.Completing, ConcurrencyLimit: st.ConcurrencyLimit, ConcurrencyInUse: st.ConcurrencyInUse,
			Claimed: st.Claimed, Recorded: st.Recorded, Stale: st.Stale, Released: st.Released, Lost: st.Lost,
			CompletionBatches: st.CompletionBatches},
		Concurrency: api.WorkerConcurrency{Limit: st.ConcurrencyLimit, InUse: st.ConcurrencyInUse,
			Min: c.cfg.Handlers.MinConcurrent, Max: c.cfg.Handlers.MaxConcurrent, Adaptive: c.cfg.Handlers.Adaptive},
		Database: api.WorkerDatabase{Status: "ok"},
		Queues:   []api.WorkerQueueStats{},
	}
	if body.Namespaces == nil {
		body.Namespaces = []string{}
	}
	if body.Stats.Namespaces == nil {
		body.Stats.Namespaces = []string{}
	}
	if c.state.Load() == stateRunning {
		body.UptimeSeconds = time.Since(c.startedAt).Seconds()
	} else {
		body.Status = c.stateName()
	}
	if p := c.opts.Store.Pool(); p != nil {
		ps := p.Stat()
		body.Database.Pool = &api.WorkerPool{MaxConns: ps.MaxConns(), TotalConns: ps.TotalConns(), IdleConns: ps.IdleConns(),
			AcquiredConns: ps.AcquiredConns(), AcquireCount: ps.AcquireCount()}
	}
	db := c.databaseCheck(ctx)
	queues := check(func() (string, error) {
		if db.Status != "healthy" {
			return "", errors.New("queues not read: the database does not answer")
		}
		for _, q := range queuesOf(body.Namespaces) {
			qs, err := c.queue.Stats(ctx, q)
			if err != nil {
				return "", errors.New("reading queue " + q + ": " + err.Error())
			}
			body.Queues = append(body.Queues, queueStats(qs))
		}
		return "namespace queues readable", nil
	})
	if db.Status != "healthy" {
		body.Status, body.Database.Status, body.Database.Error = "degraded", "unavailable", db.Message
	} else if queues.Status != "healthy" && body.Status == "healthy" {
		body.Status = "degraded"
	}
	body.Checks = api.WorkerDetailedChecks{
		Database:         db,
		CommandProcessor: c.runningCheck("claim loops and handler dispatch are running"),
		QueueProcessing:  queues,
		EventSystem:      c.runningCheck("queue wake-ups subscribed; polling as the fallback"),
		StepProcessing: check(func() (string, error) {
			return fmt.Sprintf("handlers running: %d, results completing: %d", st.Running, st.Completing), nil
		}),
		CircuitBreakers: check(func() (string, error) {
			return "no circuit breakers: claims back off while the database is unavailable", nil
		}),
	}
	writeJSON(w, http.StatusOK, body)
}

func queueStats(s messaging.Stats) api.WorkerQueueStats {
	return api.WorkerQueueStats{Queue: s.Queue, Depth: s.Depth, Visible: s.Visible, OldestAgeSeconds: s.OldestAge.Seconds(),
		OldestAge: int64(s.OldestAge)}
}
