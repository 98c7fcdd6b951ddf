package web_test

import (
	"context"
	"crypto"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/internal/testlog"
	"github.com/tasker-go/tasker/orchestration/web"
	"github.com/tasker-go/tasker/shared/auth"
	"github.com/tasker-go/tasker/shared/config"
)

// A route added without a permission in routePermissions fails here (and
// is refused to every caller at run time); an entry for a route that no
// longer exists fails too.
func TestEveryRouteDeclaresAPermission(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	router := h.server.Router()
	require.Empty(t, auth.Undeclared(router, web.RoutePermissions()),
		"add these routes to routePermissions (orchestration/web/permissions.go)")
	registered := map[string]bool{}
	require.NoError(t, chi.Walk(router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		registered[auth.RouteKey(method, route)] = true
		return nil
	}))
	for key, rule := range web.RoutePermissions() {
		require.True(t, registered[key], "routePermissions declares %s, which is not a route", key)
		if rule.AnyCredential {
			require.Empty(t, rule.Permission, "%s: open to any credential, so it names no permission", key)
			continue
		}
		require.True(t, api.IsKnownPermission(rule.Permission), "%s: unknown permission %q", key, rule.Permission)
		require.NotContains(t, rule.Permission, "*", key)
	}
}

// authKeys is the signing material of the auth tests.
type authKeys struct {
	key, other crypto.Signer
	pubPEM     string
}

var testAuthKeys = sync.OnceValue(func() authKeys {
	key, err := auth.GenerateKey(config.AlgRS256, 0)
	if err != nil {
		panic(err)
	}
	other, err := auth.GenerateKey(config.AlgRS256, 0)
	if err != nil {
		panic(err)
	}
	pub, err := auth.EncodePublicKeyPEM(key.Public())
	if err != nil {
		panic(err)
	}
	return authKeys{key: key, other: other, pubPEM: string(pub)}
})

// The API key of the auth tests, and its hash in the configuration.
const (
	testAPIKey       = "tsk_test-key-for-every-route"     //nolint:gosec // a test's key
	testNarrowAPIKey = "tsk_test-key-without-permissions" //nolint:gosec // a test's key
)

// withAuth turns authentication on for a harness: the test key pair's
// public key, and two API keys.
func withAuth(mod func(*config.WebAuth)) harnessOptions {
	return harnessOptions{web: func(w *config.OrchestrationWeb) {
		a := &w.Auth
		a.Enabled = true
		a.JWTPublicKey = testAuthKeys().pubPEM
		a.APIKeys = []config.APIKey{
			{Name: "all", KeyHash: auth.HashKey(testAPIKey), Permissions: allResourceWildcards()},
			{Name: "none", KeyHash: auth.HashKey(testNarrowAPIKey), Permissions: []string{}},
		}
		if mod != nil {
			mod(a)
		}
	}}
}

func allResourceWildcards() []string {
	out := make([]string, 0, len(api.PermissionResources))
	for _, r := range api.PermissionResources {
		out = append(out, r+":*")
	}
	return out
}

// allBut is every permission of the vocabulary except perm.
func allBut(perm string) []string {
	var out []string
	for _, p := range api.Permissions {
		if p.Name != perm {
			out = append(out, p.Name)
		}
	}
	return out
}

// token signs a token for the orchestration API's defaults.
func token(t testing.TB, key crypto.Signer, mod func(*auth.TokenSpec), perms ...string) string {
	t.Helper()
	s := auth.TokenSpec{Issuer: "tasker-core", Subject: "route-tester", Audience: []string{"tasker-api"},
		Permissions: perms, TTL: time.Hour}
	if mod != nil {
		mod(&s)
	}
	tok, err := auth.Sign(key, s)
	require.NoError(t, err)
	return tok
}

// forged signs claims with any method, including none and HS256.
func forged(t testing.TB, method jwt.SigningMethod, key any, perms []string) string {
	t.Helper()
	now := time.Now()
	s, err := jwt.NewWithClaims(method, jwt.MapClaims{"iss": "tasker-core", "sub": "mallory", "aud": "tasker-api",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "permissions": perms}).SignedString(key)
	require.NoError(t, err)
	return s
}

// concretePath fills a route pattern's parameters.
func concretePath(pattern string) string {
	r := strings.NewReplacer("{uuid}", uuid.NewString(), "{step_uuid}", uuid.NewString(),
		"{task_uuid}", uuid.NewString(), "{dlq_entry_uuid}", uuid.NewString(),
		"{namespace}", "auth_ns", "{name}", "auth_tpl", "{version}", "1.0.0")
	return r.Replace(pattern)
}

// Every route against every kind of bad credential: each is refused with
// the same 401 envelope; a valid credential without the route's permission
// gets 403; one with it gets through. Public routes (health, metrics,
// docs by default) are open whatever is sent.
func TestEveryRouteAgainstEveryCredential(t *testing.T) {
	t.Parallel()
	var logs testlog.Buffer
	opts := withAuth(nil)
	opts.logger = slog.New(slog.NewTextHandler(&logs, nil))
	h := newHarness(t, opts)
	k := testAuthKeys()
	all := allResourceWildcards()

	bad := map[string][]string{
		"no credential":                            nil,
		"a wrong API key":                          {"X-API-Key", "tsk_not-a-key"},
		"a garbage token":                          {"Authorization", "Bearer not.a.jwt"},
		"a basic credential":                       {"Authorization", "Basic dXNlcjpwYXNz"},
		"an expired token":                         {"Authorization", "Bearer " + token(t, k.key, func(s *auth.TokenSpec) { s.Now = time.Now().Add(-2 * time.Hour) }, all...)},
		"another issuer's token":                   {"Authorization", "Bearer " + token(t, k.key, func(s *auth.TokenSpec) { s.Issuer = "someone-else" }, all...)},
		"another audience's token":                 {"Authorization", "Bearer " + token(t, k.key, func(s *auth.TokenSpec) { s.Audience = []string{"worker-api"} }, all...)},
		"a token of another key":                   {"Authorization", "Bearer " + token(t, k.other, nil, all...)},
		"an alg none token":                        {"Authorization", "Bearer " + forged(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, all)},
		"an HS256 token keyed with the public key": {"Authorization", "Bearer " + forged(t, jwt.SigningMethodHS256, []byte(k.pubPEM), all)},
	}
	var secrets []string
	for _, hdr := range bad {
		if len(hdr) == 2 {
			secrets = append(secrets, strings.TrimPrefix(hdr[1], "Bearer "))
		}
	}

	routes := web.RoutePermissions()
	keys := slices.Sorted(func(yield func(string) bool) {
		for key := range routes {
			if !yield(key) {
				return
			}
		}
	})
	for _, key := range keys {
		rule := routes[key]
		method, pattern, _ := strings.Cut(key, " ")
		path := concretePath(pattern)
		var body any
		if method == http.MethodPost || method == http.MethodPatch {
			body = map[string]any{}
		}
		public := rule.Public != ""
		for name, hdr := range bad {
			res := h.do(method, path, body, hdr...)
			if public {
				require.NotContains(t, []int{401, 403}, res.status, "%s with %s: public", key, name)
				continue
			}
			e := res.requireError(t, http.StatusUnauthorized, api.CodeUnauthorized)
			require.Equal(t, auth.Unauthenticated, e.Error.Message, "%s with %s: no detail", key, name)
			require.Equal(t, `Bearer realm="tasker"`, res.header.Get("WWW-Authenticate"))
		}
		if public {
			continue
		}
		if rule.AnyCredential {
			res := h.do(method, path, body, "X-API-Key", testNarrowAPIKey)
			require.Equal(t, http.StatusOK, res.status, "%s: open to a credential without permissions: %s", key, res.body)
			continue
		}
		lacking := token(t, k.key, nil, allBut(rule.Permission)...)
		res := h.do(method, path, body, "Authorization", "Bearer "+lacking)
		e := res.requireError(t, http.StatusForbidden, api.CodeForbidden)
		require.Contains(t, e.Error.Message, rule.Permission, key)
		res = h.do(method, path, body, "X-API-Key", testNarrowAPIKey)
		res.requireError(t, http.StatusForbidden, api.CodeForbidden)

		granted := token(t, k.key, nil, rule.Permission)
		secrets = append(secrets, lacking, granted)
		for _, hdr := range [][]string{{"Authorization", "Bearer " + granted}, {"X-API-Key", testAPIKey}} {
			res := h.do(method, path, body, hdr...)
			require.NotContains(t, []int{401, 403}, res.status, "%s with %s: %s", key, hdr[0], res.body)
		}
	}

	res := h.do(http.MethodGet, "/metrics", nil)
	require.Equal(t, http.StatusOK, res.status)
	text := string(res.body)
	for _, series := range []string{
		`tasker_auth_failures_total{reason="missing_credentials",route="/v1/tasks"}`,
		`tasker_auth_failures_total{reason="unknown_api_key",route="/v1/dlq/stats"}`,
		`tasker_auth_failures_total{reason="expired",route="/v1/tasks/{uuid}"}`,
		`tasker_auth_failures_total{reason="wrong_issuer",route="/v1/templates"}`,
		`tasker_auth_failures_total{reason="wrong_audience",route="/v1/templates"}`,
		`tasker_auth_failures_total{reason="disallowed_algorithm",route="/v1/dlq"}`,
		`tasker_auth_failures_total{reason="permission_denied",route="/v1/tasks/{uuid}/workflow_steps/{step_uuid}"}`,
		`tasker_http_requests_total{method="GET",route="/v1/dlq/stats",status="401"}`,
		`tasker_http_requests_total{method="PATCH",route="/v1/dlq/entry/{dlq_entry_uuid}",status="403"}`,
	} {
		require.Contains(t, text, series)
	}
	require.Contains(t, logs.String(), "reason=permission_denied")
	for _, s := range append(secrets, testAPIKey, testNarrowAPIKey, "tsk_not-a-key") {
		require.NotContains(t, logs.String(), s, "a credential reached the logs")
	}
}

// With health, metrics and docs closed, they need system:read like the
// rest; liveness stays reachable for a token that has it.
func TestClosedPublicEndpoints(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withAuth(func(a *config.WebAuth) { a.PublicEndpoints = []string{} }))
	k := testAuthKeys()
	for _, path := range []string{"/health", "/health/live", "/health/ready", "/metrics", "/api-docs/openapi.json", "/api-docs/ui"} {
		h.do(http.MethodGet, path, nil).requireError(t, http.StatusUnauthorized, api.CodeUnauthorized)
		h.do(http.MethodGet, path, nil, "Authorization", "Bearer "+token(t, k.key, nil, api.PermTasksRead)).
			requireError(t, http.StatusForbidden, api.CodeForbidden)
		res := h.do(http.MethodGet, path, nil, "Authorization", "Bearer "+token(t, k.key, nil, api.PermSystemRead))
		require.Equal(t, http.StatusOK, res.status, path)
	}
}

// A whole task through the API with a token that grants what it needs,
// the event stream followed with the token in the query string (as a
// browser's EventSource does), and the OpenAPI document's security.
func TestAuthenticatedTaskAndEventStream(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withAuth(nil))
	k := testAuthKeys()
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	tok := token(t, k.key, nil, api.PermTasksCreate, api.PermTasksRead)
	res := h.do(http.MethodPost, "/v1/tasks", map[string]any{
		"namespace": tpl.NamespaceName, "name": tpl.Name, "version": tpl.Version, "context": map[string]any{"even_number": 6},
		"initiator": "tests", "source_system": "web_test", "reason": "auth",
	}, "Authorization", "Bearer "+tok)
	require.Equal(t, http.StatusCreated, res.status, "body: %s", res.body)
	var created api.TaskResponse
	res.json(t, &created)
	h.drive(tpl.NamespaceName, succeed)

	events := "/v1/tasks/" + created.TaskUUID.String() + "/events"
	h.do(http.MethodGet, events, nil).requireError(t, http.StatusUnauthorized, api.CodeUnauthorized)
	res = h.do(http.MethodGet, events+"?access_token="+tok, nil)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	require.Contains(t, string(res.body), "event: end")
	res = h.do(http.MethodGet, events, nil, "Authorization", "Bearer "+tok)
	require.Equal(t, http.StatusOK, res.status)
	h.do(http.MethodGet, events+"?access_token="+testAPIKey, nil).
		requireError(t, http.StatusUnauthorized, api.CodeUnauthorized)
	h.do(http.MethodGet, "/v1/tasks/"+created.TaskUUID.String()+"?access_token="+tok, nil).
		requireError(t, http.StatusUnauthorized, api.CodeUnauthorized)

	res = h.do(http.MethodGet, "/api-docs/openapi.json", nil)
	require.Equal(t, http.StatusOK, res.status)
	var doc struct {
		Paths map[string]map[string]struct {
			Security   []map[string][]string `json:"security"`
			Permission string                `json:"x-tasker-permission"`
			Responses  map[string]any        `json:"responses"`
		} `json:"paths"`
		Components struct {
			SecuritySchemes map[string]map[string]string `json:"securitySchemes"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(res.body, &doc))
	require.Equal(t, map[string]string{"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
		"description": doc.Components.SecuritySchemes["bearerAuth"]["description"]}, doc.Components.SecuritySchemes["bearerAuth"])
	require.Equal(t, "X-API-Key", doc.Components.SecuritySchemes["apiKeyAuth"]["name"])
	require.Equal(t, "access_token", doc.Components.SecuritySchemes["accessTokenQuery"]["name"])
	post := doc.Paths["/v1/tasks"]["post"]
	require.Equal(t, "tasks:create", post.Permission)
	require.Equal(t, []map[string][]string{{"bearerAuth": {"tasks:create"}}, {"apiKeyAuth": {"tasks:create"}}}, post.Security)
	require.Contains(t, post.Responses, "401")
	require.Contains(t, post.Responses, "403")
	require.Len(t, doc.Paths["/v1/tasks/{uuid}/events"]["get"].Security, 3, "the stream also takes the query token")
	require.Empty(t, doc.Paths["/health/live"]["get"].Security, "public")
	require.NotNil(t, doc.Paths["/health/live"]["get"].Security, "explicitly public")
	require.Equal(t, "system:read", doc.Paths["/health/detailed"]["get"].Permission)
	for path, ops := range doc.Paths {
		for method, op := range ops {
			require.NotEmpty(t, op.Permission, "%s %s documents no permission", method, path)
		}
	}
}

// The server refuses to start with authentication on and nothing to check
// credentials against, unless it does not listen (web.enabled = false);
// its handler then refuses every protected request.
func TestAuthWithoutCredentialSourceRefusesToStart(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	opts := h.webOpts
	opts.Config.Auth.Enabled = true
	opts.Config.Enabled = true
	opts.Registry = nil
	_, err := web.New(opts)
	require.ErrorContains(t, err, "no credential is configured")

	opts.Config.Enabled = false
	srv, err := web.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Stop(context.Background())) })
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/tasks", nil))
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	rec = httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health/live", nil))
	require.Equal(t, http.StatusOK, rec.Code)
}

// /config describes the authentication in force without a secret: the
// method, issuer, audience and how many API keys, never a key or its hash.
func TestConfigDescribesAuthWithoutSecrets(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withAuth(nil))
	res := h.do(http.MethodGet, "/config", nil, "X-API-Key", testAPIKey)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var cfg api.ConfigResponse
	res.json(t, &cfg)
	require.Equal(t, api.SafeAuthConfig{Enabled: true, VerificationMethod: "public_key", JWTIssuer: "tasker-core",
		JWTAudience: "tasker-api", APIKeyHeader: "X-API-Key", APIKeyCount: 2, StrictValidation: true,
		AllowedAlgorithms: []string{"RS256", "ES256"}}, cfg.Auth)
	for _, secret := range []string{auth.HashKey(testAPIKey), auth.HashKey(testNarrowAPIKey), testAPIKey} {
		require.NotContains(t, string(res.body), secret)
	}
}
