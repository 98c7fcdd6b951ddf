package worker

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tasker-go/tasker/shared/httpcheck"
)

// HTTPHandler is the worker's HTTP API (Start serves it on worker.web when
// enabled):
//
//	GET  /health            basic status
//	GET  /health/live       the process answers
//	GET  /health/ready      running and the database answers (else 503)
//	GET  /health/detailed   checks, namespaces, in-flight steps, concurrency, pool, queue depths
//	GET  /metrics           Prometheus metrics
//	GET  /metrics/worker    the same metrics as JSON
//	GET  /metrics/events    domain event statistics
//	GET  /config            the configuration, secrets redacted
//	GET  /v1/templates      the templates this worker registered
//	GET  /v1/templates/{namespace}/{name}/{version}
//	POST /v1/templates/{namespace}/{name}/{version}/validate
//
// The bodies are the types of package api (WorkerHealthResponse and the
// others), a superset of tasker-core's worker API.
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
	r.Get("/metrics/worker", c.handleWorkerMetrics)
	r.Get("/metrics/events", c.handleEventStats)
	r.Get("/config", c.handleConfig)
	r.Get("/v1/templates", c.handleTemplates)
	r.Get("/v1/templates/{namespace}/{name}/{version}", c.handleTemplate)
	r.Post("/v1/templates/{namespace}/{name}/{version}/validate", c.handleValidateTemplate)
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
