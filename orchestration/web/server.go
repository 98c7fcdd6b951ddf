package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/shared/auth"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/httpcheck"
	"github.com/tasker-go/tasker/shared/listen"
	"github.com/tasker-go/tasker/shared/pgnotify"
	"github.com/tasker-go/tasker/shared/store"
)

// Options configure a Server.
type Options struct {
	// Core is the orchestration service the API fronts. Required.
	Core *orchestration.Core
	// Listener is the process's shared LISTEN connection; it drives the
	// task event streams. Without it GET /v1/tasks/{uuid}/events answers
	// 503.
	Listener *pgnotify.Listener
	// Schema is the Tasker schema; it names the task events channel.
	// Required with Listener.
	Schema string
	// Config is the [orchestration.web] section. Zero durations and sizes
	// take the built-in defaults; with Enabled false, Start listens on
	// nothing (Handler still serves).
	Config config.OrchestrationWeb
	// Staleness supplies the thresholds of GET /v1/dlq/staleness (zero
	// values take the defaults).
	Staleness config.Staleness
	// Queues supplies the depth thresholds and maximum message age that
	// /health/detailed reports queues against (zero: not classified).
	Queues config.Queues
	// Registry is where the Core's metrics were registered; /metrics serves
	// it together with this package's own collectors. Optional.
	Registry *prometheus.Registry
	// Settings is the whole effective configuration: GET /config shows it
	// (redacted) and health responses name its environment. Optional.
	Settings *config.Config
	// Version is shown in the OpenAPI document and health responses.
	Version string
	// Heartbeat is the interval of comment lines on event streams
	// (default 15s).
	Heartbeat time.Duration
	Logger    *slog.Logger
}

// Server is the orchestration REST API.
type Server struct {
	core       *orchestration.Core
	store      *store.Store
	cfg        config.OrchestrationWeb
	thresholds store.StalenessThresholds
	queues     config.Queues
	settings   *config.Config
	version    string
	heartbeat  time.Duration
	log        *slog.Logger
	startedAt  time.Time

	handler http.Handler
	router  chi.Router
	api     huma.API
	metrics *serverMetrics
	authn   *auth.Authenticator
	events  *eventHub

	overviews overviewCache

	stopOnce sync.Once
	stopping chan struct{}

	mu        sync.Mutex
	srv       *http.Server
	ln        net.Listener
	serveDone chan struct{}
}

// New builds the server and its routes. Nothing listens until Start; the
// routes are usable at once through Handler.
func New(opts Options) (*Server, error) {
	if opts.Core == nil {
		return nil, errors.New("web: Core is required")
	}
	if opts.Listener != nil && opts.Schema == "" {
		return nil, errors.New("web: Schema is required with Listener")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	defaults := config.Default(config.ContextOrchestration).Orchestration
	cfg := opts.Config
	if cfg.BindAddress == "" {
		cfg.BindAddress = defaults.Web.BindAddress
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaults.Web.RequestTimeout
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = defaults.Web.MaxBodyBytes
	}
	if cfg.Backpressure.RetryAfter <= 0 {
		cfg.Backpressure.RetryAfter = defaults.Web.Backpressure.RetryAfter
	}
	if cfg.Auth.APIKeyHeader == "" {
		cfg.Auth.APIKeyHeader = defaults.Web.Auth.APIKeyHeader
	}
	if cfg.Auth.PublicEndpoints == nil {
		cfg.Auth.PublicEndpoints = defaults.Web.Auth.PublicEndpoints
	}
	if cfg.Auth.QueryTokenEndpoints == nil {
		cfg.Auth.QueryTokenEndpoints = defaults.Web.Auth.QueryTokenEndpoints
	}
	st := opts.Staleness
	th := store.StalenessThresholds{
		WaitingForDependencies: orDefault(st.WaitingForDependencies, defaults.Staleness.WaitingForDependencies),
		WaitingForRetry:        orDefault(st.WaitingForRetry, defaults.Staleness.WaitingForRetry),
		StepsInProcess:         orDefault(st.StepsInProcess, defaults.Staleness.StepsInProcess),
		MaxLifetime:            orDefault(st.TaskMaxLifetime, defaults.Staleness.TaskMaxLifetime),
	}
	s := &Server{
		core: opts.Core, store: opts.Core.Store(), cfg: cfg, thresholds: th, queues: opts.Queues, settings: opts.Settings,
		version: opts.Version, heartbeat: orDefault(opts.Heartbeat, 15*time.Second), log: opts.Logger,
		startedAt: time.Now(), stopping: make(chan struct{}),
	}
	if s.version == "" {
		s.version = "dev"
	}
	s.metrics = newServerMetrics(s, opts.Registry)
	authn, err := auth.New(auth.Options{Config: cfg.Auth, Logger: s.log, OnFailure: s.metrics.authFailure,
		AllowNoSource: !cfg.Enabled})
	if err != nil {
		return nil, fmt.Errorf("web: orchestration.web.auth: %w", err)
	}
	s.authn = authn
	if opts.Listener != nil {
		s.events = newEventHub(opts.Listener, store.TaskEventsChannel(opts.Schema), s.log)
	}
	s.handler = s.routes()
	return s, nil
}

func orDefault(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// Handler serves every route (for httptest and for processes that serve it
// on a listener of their own).
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on the configured bind address and serves until Stop. A
// disabled server (web.enabled = false) starts nothing.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("web: already started")
	}
	if s.isStopping() {
		return errors.New("web: a stopped server cannot be restarted")
	}
	if !s.cfg.Enabled {
		s.log.Info("REST API disabled (orchestration.web.enabled = false)")
		return nil
	}
	ln, err := listen.TCP(ctx, s.cfg.BindAddress, "orchestration.web.bind_address")
	if err != nil {
		return fmt.Errorf("web: %w", err)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// Above checkRequest's own limit, so oversized headers get the JSON
		// envelope unless they are larger still.
		MaxHeaderBytes: httpcheck.ServerMaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	s.serveDone = done
	srv := s.srv
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("REST API stopped serving", "err", err)
		}
	}()
	s.log.Info("REST API listening", "addr", ln.Addr().String(), "dashboard", DashboardPath)
	return nil
}

// Addr is the address the server listens on after Start ("" before, or
// when disabled); with bind address ":0" it carries the chosen port.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop ends open event streams at once, stops accepting connections and
// waits for in-flight requests until ctx ends, then closes whatever is
// left. Safe to call more than once, and without Start (it then releases
// the event stream machinery Handler may have used).
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopping) })
	if s.events != nil {
		s.events.stop()
	}
	s.authn.Close()
	s.mu.Lock()
	srv, done := s.srv, s.serveDone
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("web: draining requests: %w", err)
	}
	<-done
	s.log.Info("REST API stopped")
	return err
}

func (s *Server) isStopping() bool {
	select {
	case <-s.stopping:
		return true
	default:
		return false
	}
}

// routes builds the router: chi for transport, huma for the operations (and
// the OpenAPI document they generate).
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	s.router = r
	// Authentication comes before the edge rule: nothing of a request
	// without a valid credential is read beyond its headers.
	r.Use(s.markRequest, s.recoverPanics, s.traceContext, s.instrument, s.authn.Middleware(r, routePermissions, writeAuthError),
		s.checkRequest(r))
	hc := huma.DefaultConfig("Tasker orchestration API", s.version)
	hc.CreateHooks = nil // no $schema links in responses
	hc.OpenAPIPath = "/api-docs/openapi"
	hc.DocsPath = "/api-docs/ui"
	hc.SchemasPath = ""
	hc.Info.Description = "Create and inspect tasks, fix steps, follow task events, browse templates and " +
		"the dead letter queue. Every error is {\"error\": {\"code\", \"message\"}}. " + securityDescription
	hc.Components.SecuritySchemes = s.securitySchemes()
	s.api = humachi.New(r, hc)
	s.taskRoutes()
	s.stepRoutes()
	s.eventRoutes()
	s.domainEventRoutes()
	s.templateRoutes()
	s.dlqRoutes()
	s.healthRoutes()
	s.summaryRoutes()
	s.analyticsRoutes()
	s.overviewRoutes()
	s.configRoutes()
	s.dashboardRoutes()
	// huma registers its own error model while documenting operations;
	// every operation here documents APIError instead.
	schemas := s.api.OpenAPI().Components.Schemas.Map()
	delete(schemas, "ErrorModel")
	delete(schemas, "ErrorDetail")
	r.Get("/metrics", s.serveMetrics)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, newError(http.StatusNotFound, CodeNotFound, "no route for %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, newError(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
			"%s is not allowed on %s", r.Method, r.URL.Path))
	})
	return r
}

// streamMeta marks operations that must not get the request timeout.
const streamMeta = "tasker-stream"

// register adds an operation: it documents its security (from
// routePermissions) and error responses, applies the request timeout
// (except to streams), and passes every handler error through errorFor.
func register[I, O any](s *Server, op huma.Operation, errs []int, h func(context.Context, *I) (*O, error)) {
	errs = append(slices.Clone(errs), s.secure(&op)...)
	errSchema := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[api.ErrorResponse](), true, "ErrorResponse")
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	for _, code := range slices.Concat(errs, []int{http.StatusInternalServerError}) {
		op.Responses[strconv.Itoa(code)] = &huma.Response{
			Description: http.StatusText(code),
			Content:     map[string]*huma.MediaType{"application/json": {Schema: errSchema}},
		}
	}
	if op.Metadata[streamMeta] == nil {
		op.Middlewares = append(op.Middlewares, s.withTimeout)
	}
	huma.Register(s.api, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		if err != nil {
			return nil, s.errorFor(ctx, err)
		}
		return out, nil
	})
}

// documentBody replaces the binary request body huma documents for a
// RawBody input with the JSON schema of what the handler decodes.
func documentBody[T any](s *Server, method, path, name string) {
	item := s.api.OpenAPI().Paths[path]
	if item == nil {
		return
	}
	var op *huma.Operation
	switch method {
	case http.MethodPost:
		op = item.Post
	case http.MethodPatch:
		op = item.Patch
	}
	if op == nil || op.RequestBody == nil {
		return
	}
	schema := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[T](), true, name)
	op.RequestBody.Content = map[string]*huma.MediaType{"application/json": {Schema: schema}}
}

// bodyOp sets what every operation with a JSON body needs.
func (s *Server) bodyOp(op huma.Operation) huma.Operation {
	op.MaxBodyBytes = s.cfg.MaxBodyBytes + 1 // huma refuses a body that reaches the limit
	op.BodyReadTimeout = -1                  // checkRequest has read the body (within request_timeout)
	op.RequestBody = &huma.RequestBody{Required: true}
	op.SkipValidateBody = true // handlers decode and validate (see decodeObject)
	return op
}

func (s *Server) withTimeout(ctx huma.Context, next func(huma.Context)) {
	c, cancel := context.WithTimeout(ctx.Context(), s.cfg.RequestTimeout)
	defer cancel()
	next(huma.WithContext(ctx, c))
}

// markRequest tags the request as ours for the huma error hook.
func (s *Server) markRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestMarker{}, true)))
	})
}

func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
				panic(rec)
			}
			s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", rec)
			writeError(w, newError(http.StatusInternalServerError, CodeInternalError, "an internal error occurred"))
		}()
		next.ServeHTTP(w, r)
	})
}

// statusWriter records the status for metrics; Unwrap keeps Flush and
// deadlines reachable through http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		s.metrics.observeRequest(r.Method, route, status, time.Since(start))
		switch {
		case status >= 500 && errors.Is(r.Context().Err(), context.Canceled):
			s.log.Info("client error: the client went away before the answer", "method", r.Method, "path", r.URL.Path,
				"status", status)
		case status >= 500:
			s.log.Warn("request failed", "method", r.Method, "path", r.URL.Path, "status", status)
		}
	})
}
