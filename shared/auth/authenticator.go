package auth

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/config"
)

// Failure reasons: the reason label of the failure metrics and logs. A
// client never sees them (every 401 reads the same).
const (
	ReasonMissing           = "missing_credentials"   // no credential at all
	ReasonMalformed         = "malformed_credentials" // not "Bearer <token>", repeated headers, oversized key
	ReasonInvalidToken      = "invalid_token"         // not a JWT, bad signature, bad claims
	ReasonAlgorithm         = "disallowed_algorithm"  // none, HS256 or another algorithm not allowed
	ReasonExpired           = "expired"
	ReasonNotYetValid       = "not_yet_valid" // nbf or iat in the future
	ReasonWrongIssuer       = "wrong_issuer"
	ReasonWrongAudience     = "wrong_audience"
	ReasonMissingClaim      = "missing_claim" // no exp, iss or aud
	ReasonUnknownKey        = "unknown_key"   // kid not in the JWKS, or the key does not fit
	ReasonJWKSUnavailable   = "jwks_unavailable"
	ReasonUnknownAPIKey     = "unknown_api_key"
	ReasonUnknownPermission = "unknown_permission" // strict_validation refused the token
	ReasonForbidden         = "permission_denied"  // 403: valid credential, permission not granted
	ReasonUndeclaredRoute   = "undeclared_route"   // 403: the route declares no permission
)

// Credential kinds, as logged.
const (
	KindBearer     = "bearer"
	KindQueryToken = "query_token"
	KindAPIKey     = "api_key"
)

// QueryTokenParam is the query parameter that carries a JWT on routes that
// accept one (RFC 6750 §2.3).
const QueryTokenParam = "access_token"

// Principal is an authenticated caller.
type Principal struct {
	// Kind is how it authenticated: KindBearer, KindQueryToken or
	// KindAPIKey.
	Kind string
	// Subject is the token's sub claim, or the API key's name.
	Subject string
	// Permissions are those the credential grants (vocabulary only).
	Permissions []string
}

// Allows reports whether the principal has a permission (directly or by
// its resource wildcard).
func (p *Principal) Allows(permission string) bool {
	for _, g := range p.Permissions {
		if api.PermissionGrants(g, permission) {
			return true
		}
	}
	return false
}

type principalKey struct{}

// FromContext returns the principal the middleware authenticated, or nil
// (authentication disabled, or a public route).
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Options configure an Authenticator.
type Options struct {
	// Config is the web.auth section.
	Config config.WebAuth
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// HTTPClient fetches the JWKS (default: a client of its own; each
	// fetch is bounded by jwks_timeout either way).
	HTTPClient *http.Client
	// Now is the clock that tokens and the JWKS cache are checked against
	// (default time.Now).
	Now func() time.Time
	// OnFailure is called once for every refused request, with the route
	// pattern ("unmatched" when no route matched) and the reason (one of
	// the Reason constants). Servers count failures with it.
	OnFailure func(route, reason string)
	// AllowNoSource builds an Authenticator that refuses every protected
	// request when authentication is enabled without any credential
	// source, instead of failing. For servers that do not listen
	// (web.enabled = false), which must still start.
	AllowNoSource bool
}

// Authenticator checks credentials against one web.auth configuration.
// Build it with New; release it with Close.
type Authenticator struct {
	cfg       config.WebAuth
	log       *slog.Logger
	now       func() time.Time
	onFailure func(route, reason string)
	parser    *jwt.Parser
	static    crypto.PublicKey // the static key, or nil
	jwks      *jwksCache       // the JWKS, or nil
	keys      []apiKey
	header    string
	public    map[string]bool
	query     map[string]bool
}

// New builds an Authenticator. With cfg.Enabled false it accepts every
// request. When enabled it reads jwt_public_key_path and parses the static
// key (a bad key is an error, so a misconfigured server does not start),
// and refuses a configuration without any credential source (unless
// opts.AllowNoSource).
func New(opts Options) (*Authenticator, error) {
	cfg := opts.Config
	a := &Authenticator{cfg: cfg, log: opts.Logger, now: opts.Now, onFailure: opts.OnFailure,
		header: http.CanonicalHeaderKey(cfg.APIKeyHeader), public: map[string]bool{}, query: map[string]bool{}}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.onFailure == nil {
		a.onFailure = func(string, string) {}
	}
	if !cfg.Enabled {
		return a, nil
	}
	if !cfg.HasCredentialSource() && !opts.AllowNoSource {
		return nil, errors.New("authentication is enabled but no credential is configured: " +
			"set jwt_public_key_path (TASKER_JWT_PUBLIC_KEY_PATH), jwt_public_key (TASKER_JWT_PUBLIC_KEY) or " +
			"jwks_url, or add api_keys (see docs/security.md)")
	}
	for _, g := range cfg.PublicEndpoints {
		a.public[g] = true
	}
	for _, g := range cfg.QueryTokenEndpoints {
		a.query[g] = true
	}
	var err error
	if a.keys, err = parseAPIKeys(cfg.APIKeys); err != nil {
		return nil, err
	}
	pemText := []byte(cfg.JWTPublicKey)
	if cfg.JWTPublicKeyPath != "" {
		if pemText, err = os.ReadFile(cfg.JWTPublicKeyPath); err != nil {
			return nil, fmt.Errorf("reading jwt_public_key_path: %w", err)
		}
	}
	if len(pemText) > 0 {
		if a.static, err = ParsePublicKeyPEM(pemText); err != nil {
			return nil, fmt.Errorf("the JWT public key: %w", err)
		}
		alg, _ := KeyAlgorithm(a.static)
		if !slices.Contains(cfg.JWTAllowedAlgorithms, alg) {
			return nil, fmt.Errorf("the JWT public key verifies %s, which jwt_allowed_algorithms does not list", alg)
		}
	}
	if cfg.JWKSURL != "" {
		client := opts.HTTPClient
		if client == nil {
			client = &http.Client{}
		}
		a.jwks = &jwksCache{
			url: cfg.JWKSURL, client: client, allowed: cfg.JWTAllowedAlgorithms,
			refresh: cfg.JWKSRefreshInterval, minRefresh: cfg.JWKSMinRefreshInterval, maxStale: cfg.JWKSMaxStale,
			timeout: cfg.JWKSTimeout, now: a.now, log: a.log,
		}
	}
	a.parser = jwt.NewParser(
		jwt.WithValidMethods(cfg.JWTAllowedAlgorithms),
		jwt.WithIssuer(cfg.JWTIssuer),
		jwt.WithAudience(cfg.JWTAudience),
		jwt.WithLeeway(cfg.JWTClockSkew),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(a.now),
	)
	return a, nil
}

// Enabled reports whether requests are checked at all.
func (a *Authenticator) Enabled() bool { return a.cfg.Enabled }

// APIKeyHeader is the header that carries API keys.
func (a *Authenticator) APIKeyHeader() string { return a.header }

// Close stops a JWKS fetch in flight and waits for it. Lookups after Close
// use the keys fetched before.
func (a *Authenticator) Close() {
	if a.jwks != nil {
		a.jwks.close()
	}
}

// Authenticate checks the request's credential: the Authorization header
// (a bearer JWT), else the API key header, else, when allowQuery is set,
// the access_token query parameter (a JWT). It returns the principal, or
// the failure reason and the token's subject when the token's signature
// was good (for logs).
func (a *Authenticator) Authenticate(r *http.Request, allowQuery bool) (*Principal, string, string) {
	authz := r.Header.Values("Authorization")
	keys := r.Header.Values(a.header)
	switch {
	case len(authz) > 1 || len(keys) > 1:
		return nil, ReasonMalformed, ""
	case len(authz) == 1:
		scheme, token, ok := strings.Cut(strings.TrimSpace(authz[0]), " ")
		token = strings.TrimSpace(token)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return nil, ReasonMalformed, ""
		}
		return a.verifyToken(r.Context(), token, KindBearer)
	case len(keys) == 1:
		if len(keys[0]) == 0 || len(keys[0]) > maxAPIKeyLen {
			return nil, ReasonMalformed, ""
		}
		k, ok := matchAPIKey(a.keys, keys[0])
		if !ok {
			return nil, ReasonUnknownAPIKey, ""
		}
		return &Principal{Kind: KindAPIKey, Subject: k.name, Permissions: k.permissions}, "", ""
	case allowQuery && r.URL.Query().Has(QueryTokenParam):
		token := r.URL.Query().Get(QueryTokenParam)
		if token == "" {
			return nil, ReasonMalformed, ""
		}
		return a.verifyToken(r.Context(), token, KindQueryToken)
	}
	return nil, ReasonMissing, ""
}

// verifyToken checks a JWT and reads its permissions.
func (a *Authenticator) verifyToken(ctx context.Context, raw, kind string) (*Principal, string, string) {
	if a.static == nil && a.jwks == nil {
		return nil, ReasonInvalidToken, "" // only API keys are configured
	}
	claims := jwt.MapClaims{}
	tok, err := a.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) { return a.keyFor(ctx, t) })
	if err != nil {
		reason := a.tokenFailure(tok, err)
		sub := ""
		if signatureGood(err) {
			sub, _ = claims["sub"].(string)
		}
		return nil, reason, sub
	}
	sub, _ := claims["sub"].(string)
	perms, ok := stringList(claims[a.cfg.PermissionsClaim])
	if !ok {
		return nil, ReasonInvalidToken, sub
	}
	known := perms[:0:0]
	var unknown []string
	for _, p := range perms {
		if api.IsKnownPermission(p) {
			known = append(known, p)
		} else {
			unknown = append(unknown, p)
		}
	}
	if len(unknown) > 0 {
		if a.cfg.StrictValidation {
			return nil, ReasonUnknownPermission, sub
		}
		a.log.Debug("auth: token permissions outside the vocabulary ignored", "subject", sub, "permissions", unknown)
	}
	return &Principal{Kind: kind, Subject: sub, Permissions: known}, "", ""
}

// keyFor picks the key that verifies t: the static key, or the JWKS key
// named by its kid; either must be of the type t's algorithm needs.
func (a *Authenticator) keyFor(ctx context.Context, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if a.static != nil {
		if keyAlg, _ := KeyAlgorithm(a.static); keyAlg != alg {
			return nil, errKeyTypeMismatch
		}
		return a.static, nil
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errMissingKeyID
	}
	k, err := a.jwks.lookup(ctx, kid)
	if err != nil {
		return nil, err
	}
	if k.alg != alg {
		return nil, errKeyTypeMismatch
	}
	return k.key, nil
}

// tokenFailure maps a verification error to a reason.
func (a *Authenticator) tokenFailure(tok *jwt.Token, err error) string {
	switch {
	case tok != nil && tok.Method != nil && !slices.Contains(a.cfg.JWTAllowedAlgorithms, tok.Method.Alg()):
		return ReasonAlgorithm
	case errors.Is(err, jwt.ErrTokenMalformed):
		return ReasonInvalidToken
	case errors.Is(err, errJWKSUnavailable):
		return ReasonJWKSUnavailable
	case errors.Is(err, errUnknownKey), errors.Is(err, errMissingKeyID), errors.Is(err, errKeyTypeMismatch):
		return ReasonUnknownKey
	case errors.Is(err, jwt.ErrTokenExpired):
		return ReasonExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return ReasonNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return ReasonWrongIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return ReasonWrongAudience
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return ReasonMissingClaim
	}
	return ReasonInvalidToken
}

// signatureGood reports whether a verification error came after the
// signature was verified (a claims check failed), so the claims are the
// issuer's.
func signatureGood(err error) bool {
	for _, e := range []error{jwt.ErrTokenExpired, jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued,
		jwt.ErrTokenInvalidIssuer, jwt.ErrTokenInvalidAudience, jwt.ErrTokenRequiredClaimMissing} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// stringList reads a claim that must be a list of strings (absent: empty).
func stringList(v any) ([]string, bool) {
	if v == nil {
		return nil, true
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		s, ok := item.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}
