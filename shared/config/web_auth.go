package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tasker-go/tasker/api"
)

// Endpoint groups named by WebAuth.PublicEndpoints and
// WebAuth.QueryTokenEndpoints.
const (
	// EndpointsHealth is GET /health, /health/live and /health/ready (not
	// /health/detailed, which always needs system:read).
	EndpointsHealth = "health"
	// EndpointsMetrics is GET /metrics.
	EndpointsMetrics = "metrics"
	// EndpointsDocs is the OpenAPI document and its browser under
	// /api-docs/ (orchestration only).
	EndpointsDocs = "docs"
	// EndpointsEvents is GET /v1/tasks/{uuid}/events (orchestration only).
	EndpointsEvents = "events"
)

// JWT signing algorithms WebAuth.JWTAllowedAlgorithms may list.
const (
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
)

// KeyHashPrefix starts every APIKey.KeyHash: "sha256:" and 64 lowercase
// hexadecimal digits (`tasker auth hash-key` prints them).
const KeyHashPrefix = "sha256:"

// WebAuth is the [orchestration.web.auth] and [worker.web.auth] section:
// who may call the REST API. Callers present a JWT (Authorization: Bearer)
// or an API key (the APIKeyHeader header); every route requires one
// "resource:action" permission, which the credential must grant. When
// Enabled is false every route is open.
type WebAuth struct {
	// Enabled turns authentication and authorization on. Default false
	// (production true). With it on and neither a JWT key source
	// (jwt_public_key, jwt_public_key_path, jwks_url) nor an API key
	// configured, a server that listens (web.enabled) refuses to start.
	Enabled bool `toml:"enabled"`
	// JWTIssuer is the iss claim every token must carry. Default
	// "tasker-core".
	JWTIssuer string `toml:"jwt_issuer"`
	// JWTAudience is a value the token's aud claim must contain. The
	// orchestration API defaults to "tasker-api", the worker API to
	// "worker-api".
	JWTAudience string `toml:"jwt_audience"`
	// JWTPublicKey is the PEM text of the RSA or EC (P-256) public key that
	// verifies tokens. Set at most one of this, jwt_public_key_path and
	// jwks_url. The shipped files take it from TASKER_JWT_PUBLIC_KEY.
	JWTPublicKey string `toml:"jwt_public_key"`
	// JWTPublicKeyPath is a PEM file holding that key instead (read at
	// start-up). The shipped files take it from TASKER_JWT_PUBLIC_KEY_PATH.
	JWTPublicKeyPath string `toml:"jwt_public_key_path"`
	// JWTAllowedAlgorithms are the signing algorithms accepted, from "RS256"
	// and "ES256"; a token is verified only with a key of its algorithm's
	// type, and "none" or HMAC tokens are always refused. Default
	// ["RS256","ES256"].
	JWTAllowedAlgorithms []string `toml:"jwt_allowed_algorithms"`
	// JWTClockSkew is the leeway allowed when checking exp, nbf and iat
	// against this machine's clock (at most 5m). Default 30s.
	JWTClockSkew time.Duration `toml:"jwt_clock_skew"`
	// PermissionsClaim names the claim holding the token's permissions, a
	// list of "resource:action" strings. Default "permissions".
	PermissionsClaim string `toml:"permissions_claim"`
	// StrictValidation refuses (401) a token whose permissions claim holds
	// a string outside the permission vocabulary; when false such strings
	// are ignored. Default true.
	StrictValidation bool `toml:"strict_validation"`
	// JWKSURL is the URL of a JSON Web Key Set that verifies tokens (by
	// their kid header) instead of a static key: an identity provider's
	// key rotation is followed without a restart. Must be https unless
	// jwks_url_allow_http is set. Empty (the default) means no JWKS.
	JWKSURL string `toml:"jwks_url"`
	// JWKSURLAllowHTTP allows an http:// jwks_url (local testing only).
	// Default false.
	JWKSURLAllowHTTP bool `toml:"jwks_url_allow_http"`
	// JWKSRefreshInterval is the longest a fetched key set is used before
	// it is fetched again; a shorter Cache-Control max-age from the JWKS
	// server wins. Refreshes happen in the background: requests go on with
	// the keys they have. Default 1h.
	JWKSRefreshInterval time.Duration `toml:"jwks_refresh_interval"`
	// JWKSMinRefreshInterval is the shortest time between two fetches, also
	// when tokens with unknown key ids arrive (each such burst triggers at
	// most one fetch, which those requests wait for up to jwks_timeout).
	// Default 10s.
	JWKSMinRefreshInterval time.Duration `toml:"jwks_min_refresh_interval"`
	// JWKSMaxStale is how long past its refresh time a key set is still
	// used while the JWKS server cannot be reached; after that every token
	// is refused until a fetch succeeds. Default 1h.
	JWKSMaxStale time.Duration `toml:"jwks_max_stale"`
	// JWKSTimeout bounds one fetch of the key set. Default 5s.
	JWKSTimeout time.Duration `toml:"jwks_timeout"`
	// APIKeyHeader is the request header that carries an API key. Default
	// "X-API-Key".
	APIKeyHeader string `toml:"api_key_header"`
	// APIKeys are the accepted API keys, each stored only as its hash, with
	// its own permissions. Empty by default. In TOML:
	//
	//	[[orchestration.web.auth.api_keys]]
	//	name = "ci"
	//	key_hash = "sha256:…"   # tasker auth hash-key
	//	permissions = ["tasks:create", "tasks:read"]
	APIKeys []APIKey `toml:"api_keys"`
	// PublicEndpoints are the endpoint groups open without a credential:
	// "health" (/health, /health/live, /health/ready), "metrics"
	// (/metrics) and, on the orchestration API, "docs" (/api-docs/…). A
	// group left out needs system:read. The orchestration API defaults to
	// ["health","metrics","docs"], the worker API to ["health","metrics"].
	PublicEndpoints []string `toml:"public_endpoints"`
	// QueryTokenEndpoints are the endpoint groups that also accept a JWT in
	// the access_token query parameter, for browsers, whose EventSource
	// cannot send headers: "events" (GET /v1/tasks/{uuid}/events, the
	// orchestration API only). API keys are never accepted there. The
	// orchestration API defaults to ["events"], the worker API to [].
	QueryTokenEndpoints []string `toml:"query_token_endpoints"`
}

// APIKey is one entry of [[…web.auth.api_keys]].
type APIKey struct {
	// Name identifies the key in logs and error messages (letters, digits,
	// "-", "_" and ".").
	Name string `toml:"name"`
	// KeyHash is "sha256:" and the SHA-256 of the key in hexadecimal, as
	// `tasker auth hash-key` prints it. The key itself is never stored.
	KeyHash string `toml:"key_hash" secret:"true"`
	// Permissions are the "resource:action" permissions the key grants
	// ("tasks:*" grants every tasks permission).
	Permissions []string `toml:"permissions"`
}

func defaultWebAuth(context string) WebAuth {
	a := WebAuth{ //nolint:gosec // names of variables and headers, no credential
		Enabled:                false,
		JWTIssuer:              "tasker-core",
		JWTAudience:            "tasker-api",
		JWTPublicKey:           "${TASKER_JWT_PUBLIC_KEY:-}",
		JWTPublicKeyPath:       "${TASKER_JWT_PUBLIC_KEY_PATH:-}",
		JWTAllowedAlgorithms:   []string{AlgRS256, AlgES256},
		JWTClockSkew:           30 * time.Second,
		PermissionsClaim:       "permissions",
		StrictValidation:       true,
		JWKSURL:                "",
		JWKSURLAllowHTTP:       false,
		JWKSRefreshInterval:    time.Hour,
		JWKSMinRefreshInterval: 10 * time.Second,
		JWKSMaxStale:           time.Hour,
		JWKSTimeout:            5 * time.Second,
		APIKeyHeader:           "X-API-Key",
		APIKeys:                []APIKey{},
		PublicEndpoints:        []string{EndpointsHealth, EndpointsMetrics, EndpointsDocs},
		QueryTokenEndpoints:    []string{EndpointsEvents},
	}
	if context == ContextWorker {
		a.JWTAudience = "worker-api"
		a.PublicEndpoints = []string{EndpointsHealth, EndpointsMetrics}
		a.QueryTokenEndpoints = []string{}
	}
	return a
}

// clone deep-copies the lists.
func (a WebAuth) clone() WebAuth {
	a.JWTAllowedAlgorithms = slices.Clone(a.JWTAllowedAlgorithms)
	a.PublicEndpoints = slices.Clone(a.PublicEndpoints)
	a.QueryTokenEndpoints = slices.Clone(a.QueryTokenEndpoints)
	keys := make([]APIKey, len(a.APIKeys))
	for i, k := range a.APIKeys {
		k.Permissions = slices.Clone(k.Permissions)
		keys[i] = k
	}
	if a.APIKeys != nil {
		a.APIKeys = keys
	}
	return a
}

// HasCredentialSource reports whether any credential can be accepted: a
// JWT key source or an API key.
func (a *WebAuth) HasCredentialSource() bool {
	return a.JWTPublicKey != "" || a.JWTPublicKeyPath != "" || a.JWKSURL != "" || len(a.APIKeys) > 0
}

var (
	apiKeyNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	keyHashRE    = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// validate checks the section; groups and queryGroups are the endpoint
// groups the service has.
func (a *WebAuth) validate(groups, queryGroups []string) error {
	var ps Problems
	if strings.TrimSpace(a.JWTIssuer) == "" {
		ps.add("jwt_issuer", "must not be empty: tokens are checked against it")
	}
	if strings.TrimSpace(a.JWTAudience) == "" {
		ps.add("jwt_audience", "must not be empty: tokens are checked against it")
	}
	sources := 0
	for _, s := range []string{a.JWTPublicKey, a.JWTPublicKeyPath, a.JWKSURL} {
		if s != "" {
			sources++
		}
	}
	if sources > 1 {
		ps.add("jwt_public_key", "set only one of jwt_public_key, jwt_public_key_path and jwks_url")
	}
	if a.JWTPublicKey != "" && !strings.Contains(a.JWTPublicKey, "-----BEGIN ") {
		ps.add("jwt_public_key", "must be PEM text (-----BEGIN PUBLIC KEY----- …)")
	}
	if len(a.JWTAllowedAlgorithms) == 0 {
		ps.add("jwt_allowed_algorithms", `must list at least one of "RS256" and "ES256"`)
	}
	for _, alg := range a.JWTAllowedAlgorithms {
		if alg != AlgRS256 && alg != AlgES256 {
			ps.add("jwt_allowed_algorithms", fmt.Sprintf("unsupported algorithm %q: want \"RS256\" or \"ES256\"", alg))
		}
	}
	if ps.durationAtLeast("jwt_clock_skew", a.JWTClockSkew, 0) && a.JWTClockSkew > 5*time.Minute {
		ps.add("jwt_clock_skew", fmt.Sprintf("must be at most 5m, got %s", formatDuration(a.JWTClockSkew)))
	}
	if strings.TrimSpace(a.PermissionsClaim) == "" {
		ps.add("permissions_claim", "must not be empty")
	}
	if a.JWKSURL != "" {
		u, err := url.Parse(a.JWKSURL)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			ps.add("jwks_url", fmt.Sprintf("invalid URL %q: want https://host/path", RedactSecrets(a.JWKSURL)))
		case u.Scheme == "http" && !a.JWKSURLAllowHTTP:
			ps.add("jwks_url", "must be https (set jwks_url_allow_http = true for local testing only)")
		}
	}
	refreshOK := ps.positiveDuration("jwks_refresh_interval", a.JWKSRefreshInterval)
	if ps.positiveDuration("jwks_min_refresh_interval", a.JWKSMinRefreshInterval) && refreshOK &&
		a.JWKSMinRefreshInterval > a.JWKSRefreshInterval {
		ps.add("jwks_min_refresh_interval", fmt.Sprintf("must not exceed jwks_refresh_interval (%s), got %s",
			formatDuration(a.JWKSRefreshInterval), formatDuration(a.JWKSMinRefreshInterval)))
	}
	ps.durationAtLeast("jwks_max_stale", a.JWKSMaxStale, 0)
	ps.positiveDuration("jwks_timeout", a.JWKSTimeout)
	switch {
	case !headerNameRE.MatchString(a.APIKeyHeader):
		ps.add("api_key_header", fmt.Sprintf("invalid header name %q", a.APIKeyHeader))
	case strings.EqualFold(a.APIKeyHeader, "Authorization"):
		ps.add("api_key_header", "must not be Authorization (it carries bearer tokens)")
	}
	names := map[string]bool{}
	hashes := map[string]string{}
	for i, k := range a.APIKeys {
		key := fmt.Sprintf("api_keys[%d]", i)
		if !apiKeyNameRE.MatchString(k.Name) {
			ps.add(key+".name", fmt.Sprintf("invalid name %q: want 1-64 letters, digits, '-', '_' or '.'", k.Name))
		} else if names[k.Name] {
			ps.add(key+".name", fmt.Sprintf("name %q is used by two keys", k.Name))
		}
		names[k.Name] = true
		switch {
		case !keyHashRE.MatchString(k.KeyHash):
			// Never echo the value: it may be a key pasted in by mistake.
			ps.add(key+".key_hash", `must be "sha256:" and 64 lowercase hexadecimal digits, as `+
				"`tasker auth hash-key` prints it (the key itself never goes into the configuration)")
		case hashes[k.KeyHash] != "":
			ps.add(key+".key_hash", fmt.Sprintf("the same key as %q", hashes[k.KeyHash]))
		default:
			hashes[k.KeyHash] = k.Name
		}
		for _, p := range k.Permissions {
			if !api.IsKnownPermission(p) {
				ps.add(key+".permissions", fmt.Sprintf("unknown permission %q (see `tasker auth permissions`)", p))
			}
		}
	}
	for _, g := range a.PublicEndpoints {
		if !slices.Contains(groups, g) {
			ps.add("public_endpoints", fmt.Sprintf("unknown endpoint group %q: want %s", g, quoteList(groups)))
		}
	}
	for _, g := range a.QueryTokenEndpoints {
		if !slices.Contains(queryGroups, g) {
			if len(queryGroups) == 0 {
				ps.add("query_token_endpoints", fmt.Sprintf("unknown endpoint group %q: this API has none", g))
			} else {
				ps.add("query_token_endpoints", fmt.Sprintf("unknown endpoint group %q: want %s", g, quoteList(queryGroups)))
			}
		}
	}
	return ps.Err()
}
