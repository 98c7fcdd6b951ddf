package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tasker-go/tasker/shared/httpcheck"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// HTTPHandler is the worker's HTTP API (Start serves it on worker.web when
// enabled):
//
//	GET /health            basic status
//	GET /health/live       the process answers
//	GET /health/ready      running and the database answers (else 503)
//	GET /health/detailed   namespaces, in-flight steps, concurrency, pool, queue depths
//	GET /metrics           Prometheus metrics
//	GET /v1/templates      the templates this worker registered
//	GET /v1/templates/{namespace}/{name}/{version}
//
// Errors are {"error": {"code": "...", "message": "..."}}, with "details"
// naming each bad parameter on a 400. With worker.web.auth enabled every
// request first needs a credential granting its route's permission (see
// routePermissions and package auth): 401 UNAUTHORIZED without a valid one,
// 403 FORBIDDEN without the permission; health and metrics stay open as
// worker.web.auth.public_endpoints says. Every request then passes the edge
// rule of package httpcheck: 431 when its request line and headers are too
// large, 400 when a path or query parameter is not valid UTF-8 or holds a
// NUL character.
func (c *Core) HTTPHandler() http.Handler { return c.api }

// readyTimeout bounds the database check of /health/ready.
const readyTimeout = 2 * time.Second

func (c *Core) newRouter() http.Handler {
	r := chi.NewRouter()
	r.Use(c.authn.Middleware(r, routePermissions, func(w http.ResponseWriter, status int, code, message string) {
		writeError(w, status, code, message)
	}), checkRequest(r))
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no such endpoint")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "method not allowed")
	})
	r.Get("/health", c.handleHealth)
	r.Get("/health/live", c.handleLive)
	r.Get("/health/ready", c.handleReady)
	r.Get("/health/detailed", c.handleDetailed)
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(c.opts.Gatherer, promhttp.HandlerOpts{}))
	r.Get("/v1/templates", c.handleTemplates)
	r.Get("/v1/templates/{namespace}/{name}/{version}", c.handleTemplate)
	return r
}

func (c *Core) stateName() string {
	switch c.state.Load() {
	case stateNew:
		return "starting"
	case stateRunning:
		return "running"
	case stateStopping:
		return "stopping"
	default:
		return "stopped"
	}
}

type healthBody struct {
	Status    string    `json:"status"`
	WorkerID  string    `json:"worker_id"`
	State     string    `json:"state"`
	Timestamp time.Time `json:"timestamp"`
}

func (c *Core) health(status string) healthBody {
	return healthBody{Status: status, WorkerID: c.cfg.WorkerID, State: c.stateName(), Timestamp: time.Now().UTC()}
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

func (c *Core) handleReady(w http.ResponseWriter, r *http.Request) {
	if c.state.Load() != stateRunning {
		writeError(w, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "worker is "+c.stateName())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := c.store.Ping(ctx); err != nil {
		msg := "the database check failed: "
		if errors.Is(store.Classify(err), store.ErrUnavailable) {
			msg = "the database is unavailable: "
		}
		writeError(w, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", msg+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, c.health("ready"))
}

type detailedBody struct {
	healthBody
	Hostname      string            `json:"hostname"`
	UptimeSeconds float64           `json:"uptime_seconds"`
	Namespaces    []string          `json:"namespaces"`
	Stats         Stats             `json:"stats"`
	Concurrency   concurrencyBody   `json:"concurrency"`
	Database      databaseBody      `json:"database"`
	Queues        []messaging.Stats `json:"queues"`
}

type concurrencyBody struct {
	Limit    int  `json:"limit"`
	InUse    int  `json:"in_use"`
	Min      int  `json:"min"`
	Max      int  `json:"max"`
	Adaptive bool `json:"adaptive"`
}

type databaseBody struct {
	Status string    `json:"status"`
	Error  string    `json:"error,omitempty"`
	Pool   *poolBody `json:"pool,omitempty"`
}

type poolBody struct {
	MaxConns      int32 `json:"max_conns"`
	TotalConns    int32 `json:"total_conns"`
	IdleConns     int32 `json:"idle_conns"`
	AcquiredConns int32 `json:"acquired_conns"`
	AcquireCount  int64 `json:"acquire_count"`
}

func (c *Core) handleDetailed(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	st := c.Stats()
	body := detailedBody{
		healthBody: c.health("healthy"),
		Hostname:   c.opts.Hostname,
		Namespaces: c.Namespaces(),
		Stats:      st,
		Concurrency: concurrencyBody{Limit: st.ConcurrencyLimit, InUse: st.ConcurrencyInUse,
			Min: c.cfg.Handlers.MinConcurrent, Max: c.cfg.Handlers.MaxConcurrent, Adaptive: c.cfg.Handlers.Adaptive},
		Database: databaseBody{Status: "ok"},
		Queues:   []messaging.Stats{},
	}
	if c.state.Load() == stateRunning {
		body.UptimeSeconds = time.Since(c.startedAt).Seconds()
	} else {
		body.Status = c.stateName()
	}
	if p := c.opts.Store.Pool(); p != nil {
		ps := p.Stat()
		body.Database.Pool = &poolBody{MaxConns: ps.MaxConns(), TotalConns: ps.TotalConns(), IdleConns: ps.IdleConns(),
			AcquiredConns: ps.AcquiredConns(), AcquireCount: ps.AcquireCount()}
	}
	if err := c.store.Ping(ctx); err != nil {
		body.Status, body.Database.Status, body.Database.Error = "degraded", "unavailable", err.Error()
	} else {
		for _, q := range queuesOf(body.Namespaces) {
			qs, err := c.queue.Stats(ctx, q)
			if err != nil {
				continue
			}
			body.Queues = append(body.Queues, qs)
		}
	}
	writeJSON(w, http.StatusOK, body)
}

type templateSummary struct {
	Namespace   string   `json:"namespace"`
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Description string   `json:"description,omitempty"`
	StepCount   int      `json:"step_count"`
	Steps       []string `json:"steps"`
	Handlers    []string `json:"handlers"`
}

type templatesBody struct {
	Templates  []templateSummary `json:"templates"`
	Namespaces []string          `json:"namespaces"`
	TotalCount int               `json:"total_count"`
}

func (c *Core) handleTemplates(w http.ResponseWriter, r *http.Request) {
	ns := r.URL.Query().Get("namespace")
	tpls := c.registered().templates
	body := templatesBody{Templates: []templateSummary{}, Namespaces: namespacesOf(nil, tpls)}
	if body.Namespaces == nil {
		body.Namespaces = []string{}
	}
	for _, t := range tpls {
		if ns != "" && t.NamespaceName != ns {
			continue
		}
		s := templateSummary{Namespace: t.NamespaceName, Name: t.Name, Version: t.Version,
			Description: t.Description, StepCount: len(t.Steps), Steps: []string{}, Handlers: []string{}}
		for _, st := range t.Steps {
			s.Steps = append(s.Steps, st.Name)
			s.Handlers = append(s.Handlers, st.Handler.Callable)
		}
		body.Templates = append(body.Templates, s)
	}
	body.TotalCount = len(body.Templates)
	writeJSON(w, http.StatusOK, body)
}

func (c *Core) handleTemplate(w http.ResponseWriter, r *http.Request) {
	key := chi.URLParam(r, "namespace") + "/" + chi.URLParam(r, "name") + "/" + chi.URLParam(r, "version")
	var found *template.Template
	for _, t := range c.registered().templates {
		if t.Key() == key {
			found = t
			break
		}
	}
	if found == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "template "+key+" is not registered by this worker")
		return
	}
	writeJSON(w, http.StatusOK, found)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"INTERNAL_ERROR","message":"encoding the response failed"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

type errorBody struct {
	Error struct {
		Code    string        `json:"code"`
		Message string        `json:"message"`
		Details []errorDetail `json:"details,omitempty"`
	} `json:"error"`
}

// errorDetail names one bad path or query parameter.
type errorDetail struct {
	Parameter string `json:"parameter"`
	Message   string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, message string, details ...errorDetail) {
	var b errorBody
	b.Error.Code, b.Error.Message, b.Error.Details = code, message, details
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, status, b)
}

// checkRequest applies the edge rule (package httpcheck) before routing.
func checkRequest(routes chi.Routes) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n := httpcheck.HeaderBytes(r); n > httpcheck.MaxHeaderBytes {
				writeError(w, http.StatusRequestHeaderFieldsTooLarge, "HEADERS_TOO_LARGE",
					fmt.Sprintf("the request line and headers are %d bytes; at most %d are accepted", n, httpcheck.MaxHeaderBytes))
				return
			}
			if problems := httpcheck.Params(r, routes); len(problems) > 0 {
				details := make([]errorDetail, len(problems))
				for i, p := range problems {
					details[i] = errorDetail{Parameter: p.Parameter, Message: p.Message}
				}
				msg := "invalid parameter " + details[0].Parameter + ": " + details[0].Message
				if len(details) > 1 {
					msg = fmt.Sprintf("%s (and %d more problems)", msg, len(details)-1)
				}
				writeError(w, http.StatusBadRequest, "BAD_REQUEST", msg, details...)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
