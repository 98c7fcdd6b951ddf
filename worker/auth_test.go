package worker

import (
	"context"
	"crypto"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/auth"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/template"
)

func TestEveryWorkerRouteDeclaresAPermission(t *testing.T) {
	h := newHarness(t)
	c := h.buildCore(coreSpec{registry: NewRegistry()})
	t.Cleanup(func() { require.NoError(t, c.Stop(context.Background())) })
	router, ok := c.HTTPHandler().(chi.Routes)
	require.True(t, ok)
	require.Empty(t, auth.Undeclared(router, routePermissions), "add these routes to routePermissions (worker/permissions.go)")
	registered := map[string]bool{}
	require.NoError(t, chi.Walk(router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		registered[auth.RouteKey(method, route)] = true
		return nil
	}))
	for key, rule := range routePermissions {
		require.True(t, registered[key], "routePermissions declares %s, which is not a route", key)
		require.True(t, api.IsKnownPermission(rule.Permission), key)
	}
}

// A worker whose API does not listen starts with authentication on and no
// credential source (the production environment without keys); one that
// listens does not.
func TestWorkerAuthWithoutCredentialSource(t *testing.T) {
	h := newHarness(t)
	c := h.buildCore(coreSpec{registry: NewRegistry(), config: func(w *config.Worker) { w.Web.Auth.Enabled = true }})
	t.Cleanup(func() { require.NoError(t, c.Stop(context.Background())) })
	srv := httptest.NewServer(c.HTTPHandler())
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL + "/v1/templates")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	cfg := testConfig()
	cfg.Web.Enabled, cfg.Web.Auth.Enabled = true, true
	_, err = New(Options{Config: cfg, Store: h.infra.Store, Registry: NewRegistry()})
	require.ErrorContains(t, err, "worker.web.auth: authentication is enabled but no credential is configured")
}

// The worker API takes the orchestration API's mechanism: every route
// against every kind of bad credential, a credential without the
// permission, and a good one.
func TestWorkerAPIAuth(t *testing.T) {
	h := newHarness(t)
	key, err := auth.GenerateKey(config.AlgES256, 0)
	require.NoError(t, err)
	other, err := auth.GenerateKey(config.AlgES256, 0)
	require.NoError(t, err)
	pub, err := auth.EncodePublicKeyPEM(key.Public())
	require.NoError(t, err)
	tpl := parseTemplate(t, `name: auth_demo
namespace_name: auth_ns
version: "1.0.0"
steps:
  - {name: one, handler: {callable: auth.one}}
`)
	reg := NewRegistry()
	handle(t, reg, "auth.one", noop)
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg, config: func(w *config.Worker) {
		w.Web.Auth.Enabled = true
		w.Web.Auth.JWTPublicKey = string(pub)
		w.Web.Auth.APIKeys = []config.APIKey{{Name: "probe", KeyHash: auth.HashKey("tsk_probe"),
			Permissions: []string{api.PermWorkerTemplatesRead}}}
	}})
	srv := httptest.NewServer(c.HTTPHandler())
	t.Cleanup(srv.Close)

	sign := func(k crypto.Signer, mod func(*auth.TokenSpec), perms ...string) string {
		t.Helper()
		s := auth.TokenSpec{Issuer: "tasker-core", Subject: "ops", Audience: []string{"worker-api"}, Permissions: perms, TTL: time.Hour}
		if mod != nil {
			mod(&s)
		}
		tok, err := auth.Sign(k, s)
		require.NoError(t, err)
		return tok
	}
	forged := func(method jwt.SigningMethod, k any) string {
		t.Helper()
		now := time.Now()
		tok, err := jwt.NewWithClaims(method, jwt.MapClaims{"iss": "tasker-core", "sub": "mallory", "aud": "worker-api",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "permissions": []string{"worker:*", "system:*"}}).SignedString(k)
		require.NoError(t, err)
		return tok
	}
	do := func(method, path string, hdr ...string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
		require.NoError(t, err)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	all := []string{"worker:*", "system:*"}
	bad := map[string][]string{
		"no credential":            nil,
		"a wrong API key":          {"X-API-Key", "tsk_nope"},
		"a garbage token":          {"Authorization", "Bearer x.y.z"},
		"an expired token":         {"Authorization", "Bearer " + sign(key, func(s *auth.TokenSpec) { s.Now = time.Now().Add(-3 * time.Hour) }, all...)},
		"another issuer's token":   {"Authorization", "Bearer " + sign(key, func(s *auth.TokenSpec) { s.Issuer = "elsewhere" }, all...)},
		"an orchestration token":   {"Authorization", "Bearer " + sign(key, func(s *auth.TokenSpec) { s.Audience = []string{"tasker-api"} }, all...)},
		"a token of another key":   {"Authorization", "Bearer " + sign(other, nil, all...)},
		"an alg none token":        {"Authorization", "Bearer " + forged(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType)},
		"an HS256 confusion token": {"Authorization", "Bearer " + forged(jwt.SigningMethodHS256, pub)},
	}
	for route, rule := range routePermissions {
		method, pattern, _ := strings.Cut(route, " ")
		path := strings.NewReplacer("{namespace}", "auth_ns", "{name}", "auth_demo", "{version}", "1.0.0").Replace(pattern)
		for name, hdr := range bad {
			code, body := do(method, path, hdr...)
			if rule.Public != "" {
				require.Equal(t, http.StatusOK, code, "%s with %s: public", route, name)
				continue
			}
			require.Equal(t, http.StatusUnauthorized, code, "%s with %s", route, name)
			require.JSONEq(t, `{"error":{"code":"UNAUTHORIZED","message":"`+auth.Unauthenticated+`"}}`, body)
		}
		if rule.Public != "" {
			continue
		}
		// A valid token whose permission no worker route asks for.
		code, body := do(method, path, "Authorization", "Bearer "+sign(key, nil, api.PermTasksRead))
		require.Equal(t, http.StatusForbidden, code, route)
		require.Contains(t, body, `"FORBIDDEN"`)
		code, body = do(method, path, "Authorization", "Bearer "+sign(key, nil, rule.Permission))
		require.Equal(t, http.StatusOK, code, "%s: %s", route, body)
	}
	code, _ := do(http.MethodGet, "/v1/templates/auth_ns/auth_demo/1.0.0", "X-API-Key", "tsk_probe")
	require.Equal(t, http.StatusOK, code)
	code, _ = do(http.MethodGet, "/health/detailed", "X-API-Key", "tsk_probe")
	require.Equal(t, http.StatusForbidden, code)

	code, body := do(http.MethodGet, "/metrics")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `tasker_worker_auth_failures_total{reason="wrong_audience",route="/v1/templates",worker_id="`)
	require.Contains(t, body, `tasker_worker_auth_failures_total{reason="permission_denied",route="/health/detailed",worker_id="`)
}
