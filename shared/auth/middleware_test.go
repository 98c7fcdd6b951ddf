package auth

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/config"
)

// guarded is a router with four routes behind the middleware: a
// permission route, a public health route, a stream route that takes
// query tokens, and one route missing from the table.
type guarded struct {
	h        http.Handler
	logs     *bytes.Buffer
	mu       sync.Mutex
	failures []string
}

var testRoutes = Routes{
	RouteKey(http.MethodPost, "/v1/tasks"):              {Permission: api.PermTasksCreate},
	RouteKey(http.MethodGet, "/health"):                 {Permission: api.PermSystemRead, Public: config.EndpointsHealth},
	RouteKey(http.MethodGet, "/metrics"):                {Permission: api.PermSystemRead, Public: config.EndpointsMetrics},
	RouteKey(http.MethodGet, "/v1/tasks/{uuid}/events"): {Permission: api.PermTasksRead, QueryToken: config.EndpointsEvents},
}

func newGuarded(t *testing.T, cfg config.WebAuth) *guarded {
	t.Helper()
	g := &guarded{logs: &bytes.Buffer{}}
	var logMu sync.Mutex
	a, err := New(Options{Config: cfg, Now: func() time.Time { return testNow },
		Logger: slog.New(slog.NewTextHandler(lockedWriter{&logMu, g.logs}, nil)),
		OnFailure: func(route, reason string) {
			g.mu.Lock()
			g.failures = append(g.failures, route+" "+reason)
			g.mu.Unlock()
		}})
	require.NoError(t, err)
	t.Cleanup(a.Close)
	r := chi.NewRouter()
	ok := func(w http.ResponseWriter, r *http.Request) {
		p := FromContext(r.Context())
		if p != nil {
			_, _ = fmt.Fprint(w, p.Kind+":"+p.Subject)
		}
	}
	r.Use(a.Middleware(r, testRoutes, func(w http.ResponseWriter, status int, code, message string) {
		w.WriteHeader(status)
		_, _ = fmt.Fprint(w, code+": "+message)
	}))
	r.Post("/v1/tasks", ok)
	r.Get("/health", ok)
	r.Get("/metrics", ok)
	r.Get("/v1/tasks/{uuid}/events", ok)
	r.Get("/v1/undeclared", ok)
	require.Equal(t, []string{"GET /v1/undeclared"}, Undeclared(r, testRoutes))
	g.h = r
	return g
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (g *guarded) do(method, target string, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	g.h.ServeHTTP(w, r)
	return w
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	key := rsaKeys()[0]
	cfg := enabledConfig()
	cfg.JWTPublicKey = pemOf(t, key.Public())
	cfg.PublicEndpoints = []string{config.EndpointsHealth}
	cfg.APIKeys = []config.APIKey{{Name: "ci", KeyHash: HashKey("sekret-key"), Permissions: []string{api.PermTasksCreate}}}
	g := newGuarded(t, cfg)
	creator := sign(t, key, spec(api.PermTasksCreate))
	reader := sign(t, key, spec(api.PermTasksRead))
	admin := sign(t, key, spec("tasks:*", "system:*"))

	for _, c := range []struct {
		name, method, target string
		headers              []string
		status               int
		body                 string
	}{
		{"no credential", "POST", "/v1/tasks", nil, 401, "UNAUTHORIZED: " + Unauthenticated},
		{"bad token", "POST", "/v1/tasks", []string{"Authorization", "Bearer " + creator + "x"}, 401, "UNAUTHORIZED: " + Unauthenticated},
		{"wrong key", "POST", "/v1/tasks", []string{"X-API-Key", "sekret-kez"}, 401, "UNAUTHORIZED: " + Unauthenticated},
		{"lacks the permission", "POST", "/v1/tasks", []string{"Authorization", "Bearer " + reader}, 403,
			"FORBIDDEN: the credential does not grant the permission this route requires (tasks:create)"},
		{"token", "POST", "/v1/tasks", []string{"Authorization", "Bearer " + creator}, 200, "bearer:alice"},
		{"wildcard", "POST", "/v1/tasks", []string{"Authorization", "Bearer " + admin}, 200, "bearer:alice"},
		{"api key", "POST", "/v1/tasks", []string{"X-API-Key", "sekret-key"}, 200, "api_key:ci"},
		{"public group", "GET", "/health", nil, 200, ""},
		{"public group ignores a bad credential", "GET", "/health", []string{"Authorization", "Bearer nope"}, 200, ""},
		{"closed group", "GET", "/metrics", nil, 401, "UNAUTHORIZED: " + Unauthenticated},
		{"closed group with system:read", "GET", "/metrics", []string{"Authorization", "Bearer " + admin}, 200, "bearer:alice"},
		{"query token on the stream", "GET", "/v1/tasks/1/events?access_token=" + reader, nil, 200, "query_token:alice"},
		{"query token elsewhere", "POST", "/v1/tasks?access_token=" + creator, nil, 401, "UNAUTHORIZED: " + Unauthenticated},
		{"api key in the query", "GET", "/v1/tasks/1/events?access_token=sekret-key", nil, 401, "UNAUTHORIZED: " + Unauthenticated},
		{"undeclared route", "GET", "/v1/undeclared", []string{"Authorization", "Bearer " + admin}, 403,
			"FORBIDDEN: this route is not open to any credential"},
		{"undeclared route, no credential", "GET", "/v1/undeclared", nil, 401, "UNAUTHORIZED: " + Unauthenticated},
		{"no route, no credential", "GET", "/v2/nothing", nil, 401, "UNAUTHORIZED: " + Unauthenticated},
		{"no route, a credential", "GET", "/v2/nothing", []string{"Authorization", "Bearer " + reader}, 404, ""},
	} {
		res := g.do(c.method, c.target, c.headers...)
		require.Equal(t, c.status, res.Code, c.name)
		if c.body != "" {
			require.Contains(t, res.Body.String(), c.body, c.name)
		}
		if c.status == 401 {
			require.Equal(t, `Bearer realm="tasker"`, res.Header().Get("WWW-Authenticate"), c.name)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	require.Contains(t, g.failures, "/v1/tasks missing_credentials")
	require.Contains(t, g.failures, "/v1/tasks invalid_token")
	require.Contains(t, g.failures, "/v1/tasks unknown_api_key")
	require.Contains(t, g.failures, "/v1/tasks permission_denied")
	require.Contains(t, g.failures, "/v1/undeclared undeclared_route")
	require.Contains(t, g.failures, "unmatched missing_credentials")
	logs := g.logs.String()
	for _, secret := range []string{creator, reader, admin, "sekret-key", "sekret-kez", "access_token"} {
		require.NotContains(t, logs, secret, "the logs never hold a credential")
	}
	require.Contains(t, logs, "reason=permission_denied")
	require.Contains(t, logs, "subject=alice")
}

func TestMiddlewareDisabledPassesEverything(t *testing.T) {
	t.Parallel()
	g := newGuarded(t, config.Default(config.ContextOrchestration).Orchestration.Web.Auth)
	for _, target := range []string{"/v1/undeclared", "/metrics", "/v1/tasks/1/events"} {
		require.Equal(t, http.StatusOK, g.do(http.MethodGet, target).Code)
	}
	require.Equal(t, http.StatusOK, g.do(http.MethodPost, "/v1/tasks").Code)
	require.Empty(t, g.failures)
}
