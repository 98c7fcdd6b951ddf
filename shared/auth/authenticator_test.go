package auth

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/config"
)

func newStatic(t *testing.T, pub crypto.PublicKey, mod ...func(*config.WebAuth)) *Authenticator {
	t.Helper()
	cfg := enabledConfig()
	cfg.JWTPublicKey = pemOf(t, pub)
	for _, m := range mod {
		m(&cfg)
	}
	a, err := New(Options{Config: cfg, Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	t.Cleanup(a.Close)
	return a
}

func bearer(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/tasks", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// Every way a token can be wrong, for an RSA and an EC verification key:
// each is refused with its own reason, and a valid token passes.
func TestTokenChecks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		alg   string
		keys  func() [2]crypto.Signer
		other func() [2]crypto.Signer // keys of the other type
	}{
		{config.AlgRS256, rsaKeys, ecKeys},
		{config.AlgES256, ecKeys, rsaKeys},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			t.Parallel()
			key, wrongKey, otherType := tc.keys()[0], tc.keys()[1], tc.other()[0]
			a := newStatic(t, key.Public())
			pubPEM := pemOf(t, key.Public())
			mod := func(f func(*TokenSpec)) string {
				s := spec(api.PermTasksRead)
				f(&s)
				return sign(t, key, s)
			}
			cases := []struct {
				name, token, reason string
			}{
				{"valid", sign(t, key, spec(api.PermTasksRead)), ""},
				{"not a JWT", "not-a-token", ReasonInvalidToken},
				{"signed by another key", sign(t, wrongKey, spec(api.PermTasksRead)), ReasonInvalidToken},
				{"signed by a key of the other type", sign(t, otherType, spec(api.PermTasksRead)), ReasonUnknownKey},
				{"tampered payload", tamper(sign(t, key, spec(api.PermTasksRead))), ReasonInvalidToken},
				{"expired", mod(func(s *TokenSpec) { s.Now = testNow.Add(-2 * time.Hour) }), ReasonExpired},
				{"expired within the clock skew", mod(func(s *TokenSpec) { s.Now, s.TTL = testNow.Add(-time.Hour-20*time.Second), time.Hour }), ""},
				{"expired beyond the clock skew", mod(func(s *TokenSpec) { s.Now, s.TTL = testNow.Add(-time.Hour-40*time.Second), time.Hour }), ReasonExpired},
				{"not yet valid", mod(func(s *TokenSpec) { s.Now = testNow.Add(5 * time.Minute) }), ReasonNotYetValid},
				{"not yet valid within the clock skew", mod(func(s *TokenSpec) { s.Now = testNow.Add(20 * time.Second) }), ""},
				{"another issuer", mod(func(s *TokenSpec) { s.Issuer = "evil-idp" }), ReasonWrongIssuer},
				{"no issuer", mod(func(s *TokenSpec) { s.Issuer = "" }), ReasonMissingClaim},
				{"another audience", mod(func(s *TokenSpec) { s.Audience = []string{"worker-api"} }), ReasonWrongAudience},
				{"no audience", mod(func(s *TokenSpec) { s.Audience = nil }), ReasonMissingClaim},
				{"one of several audiences", mod(func(s *TokenSpec) { s.Audience = []string{"worker-api", "tasker-api"} }), ""},
				{"unknown permission (strict)", mod(func(s *TokenSpec) { s.Permissions = []string{"tasks:read", "tasks:delete"} }), ReasonUnknownPermission},
				{"global wildcard is not a permission", mod(func(s *TokenSpec) { s.Permissions = []string{"*"} }), ReasonUnknownPermission},
				{"alg none", rawToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims(api.PermTasksRead), nil), ReasonAlgorithm},
				{"HS256 with the public key as secret", rawToken(t, jwt.SigningMethodHS256, []byte(pubPEM), validClaims(api.PermTasksRead), nil), ReasonAlgorithm},
				{"no exp", rawToken(t, jwt.GetSigningMethod(tc.alg), key, without(validClaims(api.PermTasksRead), "exp"), nil), ReasonMissingClaim},
				{"permissions not a list", rawToken(t, jwt.GetSigningMethod(tc.alg), key, with(validClaims(), "permissions", "tasks:read"), nil), ReasonInvalidToken},
				{"permissions with a number", rawToken(t, jwt.GetSigningMethod(tc.alg), key, with(validClaims(), "permissions", []any{1}), nil), ReasonInvalidToken},
				{"iat in the future", rawToken(t, jwt.GetSigningMethod(tc.alg), key, with(validClaims(), "iat", testNow.Add(time.Hour).Unix()), nil), ReasonNotYetValid},
			}
			for _, c := range cases {
				p, reason, _ := a.Authenticate(bearer(c.token), false)
				require.Equal(t, c.reason, reason, c.name)
				if c.reason == "" {
					require.NotNil(t, p, c.name)
					require.Equal(t, KindBearer, p.Kind)
				} else {
					require.Nil(t, p, c.name)
				}
			}
		})
	}
}

// tamper replaces a token's payload (granting more) and keeps its header
// and signature.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	payload, _ := json.Marshal(with(validClaims("tasks:*"), "sub", "alice"))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

func without(c jwt.MapClaims, k string) jwt.MapClaims { delete(c, k); return c }

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims { c[k] = v; return c }

func TestTokenPermissions(t *testing.T) {
	t.Parallel()
	key := rsaKeys()[0]
	a := newStatic(t, key.Public())
	p, reason, _ := a.Authenticate(bearer(sign(t, key, spec("tasks:*", api.PermDLQRead))), false)
	require.Empty(t, reason)
	require.Equal(t, "alice", p.Subject)
	require.True(t, p.Allows(api.PermTasksCreate))
	require.True(t, p.Allows(api.PermTasksCancel))
	require.True(t, p.Allows(api.PermDLQRead))
	require.False(t, p.Allows(api.PermDLQUpdate))
	require.False(t, p.Allows(api.PermStepsResolve))

	lax := newStatic(t, key.Public(), func(c *config.WebAuth) { c.StrictValidation = false })
	p, reason, _ = lax.Authenticate(bearer(sign(t, key, spec(api.PermTasksRead, "openid", "*"))), false)
	require.Empty(t, reason)
	require.Equal(t, []string{api.PermTasksRead}, p.Permissions, "unknown strings are dropped, never honoured")

	custom := newStatic(t, key.Public(), func(c *config.WebAuth) { c.PermissionsClaim = "scp" })
	s := spec(api.PermTasksRead)
	s.PermissionsClaim = "scp"
	p, reason, _ = custom.Authenticate(bearer(sign(t, key, s)), false)
	require.Empty(t, reason)
	require.True(t, p.Allows(api.PermTasksRead))
	p, reason, _ = custom.Authenticate(bearer(sign(t, key, spec(api.PermTasksRead))), false)
	require.Empty(t, reason, "a token without the claim is valid")
	require.False(t, p.Allows(api.PermTasksRead), "and grants nothing")
}

func TestAlgorithmAllowList(t *testing.T) {
	t.Parallel()
	key := ecKeys()[0]
	cfg := enabledConfig()
	cfg.JWTPublicKey = pemOf(t, key.Public())
	cfg.JWTAllowedAlgorithms = []string{config.AlgRS256}
	_, err := New(Options{Config: cfg})
	require.ErrorContains(t, err, "verifies ES256, which jwt_allowed_algorithms does not list")
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	cfg := enabledConfig()
	cfg.APIKeys = []config.APIKey{
		{Name: "reader", KeyHash: HashKey("key-reader"), Permissions: []string{api.PermTasksRead}},
		{Name: "ops", KeyHash: HashKey("key-ops"), Permissions: []string{"dlq:*"}},
	}
	a, err := New(Options{Config: cfg})
	require.NoError(t, err)
	withKey := func(header string, values ...string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/v1/tasks", nil)
		for _, v := range values {
			r.Header.Add(header, v)
		}
		return r
	}
	p, reason, _ := a.Authenticate(withKey("X-API-Key", "key-ops"), false)
	require.Empty(t, reason)
	require.Equal(t, &Principal{Kind: KindAPIKey, Subject: "ops", Permissions: []string{"dlq:*"}}, p)
	p, reason, _ = a.Authenticate(withKey("x-api-key", "key-reader"), false)
	require.Empty(t, reason, "header names are case-insensitive")
	require.Equal(t, "reader", p.Subject)

	for name, r := range map[string]*http.Request{
		"wrong key":         withKey("X-API-Key", "key-opz"),
		"the hash itself":   withKey("X-API-Key", HashKey("key-ops")),
		"empty":             withKey("X-API-Key", ""),
		"two keys":          withKey("X-API-Key", "key-ops", "key-reader"),
		"oversized":         withKey("X-API-Key", strings.Repeat("k", maxAPIKeyLen+1)),
		"in another header": withKey("X-Api-Token", "key-ops"),
	} {
		p, reason, _ := a.Authenticate(r, true)
		require.Nil(t, p, name)
		require.NotEmpty(t, reason, name)
	}
	r := httptest.NewRequest(http.MethodGet, "/v1/tasks/x/events?access_token=key-ops", nil)
	_, reason, _ = a.Authenticate(r, true)
	require.Equal(t, ReasonInvalidToken, reason, "an API key is never taken from the query string")
	r = bearer("key-ops")
	_, reason, _ = a.Authenticate(r, false)
	require.Equal(t, ReasonInvalidToken, reason, "nor as a bearer token")

	cfg.APIKeyHeader = "X-Tasker-Key"
	a, err = New(Options{Config: cfg})
	require.NoError(t, err)
	_, reason, _ = a.Authenticate(withKey("X-Tasker-Key", "key-ops"), false)
	require.Empty(t, reason)
	_, reason, _ = a.Authenticate(withKey("X-API-Key", "key-ops"), false)
	require.Equal(t, ReasonMissing, reason)
}

func TestMatchAPIKeyComparesEveryHash(t *testing.T) {
	t.Parallel()
	keys, err := parseAPIKeys([]config.APIKey{
		{Name: "a", KeyHash: HashKey("1")}, {Name: "b", KeyHash: HashKey("2")}, {Name: "c", KeyHash: HashKey("3")},
	})
	require.NoError(t, err)
	for want, key := range map[string]string{"a": "1", "b": "2", "c": "3"} {
		k, ok := matchAPIKey(keys, key)
		require.True(t, ok)
		require.Equal(t, want, k.name)
	}
	_, ok := matchAPIKey(keys, "4")
	require.False(t, ok)
	_, err = parseAPIKeys([]config.APIKey{{Name: "x", KeyHash: "sha256:zz"}})
	require.Error(t, err)
}

func TestHashKey(t *testing.T) {
	t.Parallel()
	// printf %s abc | sha256sum
	require.Equal(t, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", HashKey("abc"))
	k1, err := GenerateAPIKey()
	require.NoError(t, err)
	k2, err := GenerateAPIKey()
	require.NoError(t, err)
	require.NotEqual(t, k1, k2)
	require.True(t, strings.HasPrefix(k1, "tsk_"))
	require.Len(t, k1, 4+43)
}

func TestCredentialForms(t *testing.T) {
	t.Parallel()
	key := rsaKeys()[0]
	a := newStatic(t, key.Public())
	tok := sign(t, key, spec(api.PermTasksRead))
	for name, tc := range map[string]struct {
		header []string
		query  string
		allowQ bool
		reason string
	}{
		"none":                    {reason: ReasonMissing},
		"bearer lower case":       {header: []string{"bearer " + tok}},
		"basic scheme":            {header: []string{"Basic " + tok}, reason: ReasonMalformed},
		"no scheme":               {header: []string{tok}, reason: ReasonMalformed},
		"empty bearer":            {header: []string{"Bearer "}, reason: ReasonMalformed},
		"two headers":             {header: []string{"Bearer " + tok, "Bearer " + tok}, reason: ReasonMalformed},
		"query token allowed":     {query: "access_token=" + tok, allowQ: true},
		"query token not allowed": {query: "access_token=" + tok, reason: ReasonMissing},
		"empty query token":       {query: "access_token=", allowQ: true, reason: ReasonMalformed},
	} {
		r := httptest.NewRequest(http.MethodGet, "/v1/tasks?"+tc.query, nil)
		for _, h := range tc.header {
			r.Header.Add("Authorization", h)
		}
		p, reason, _ := a.Authenticate(r, tc.allowQ)
		require.Equal(t, tc.reason, reason, name)
		if tc.reason == "" {
			require.NotNil(t, p, name)
		}
	}
}

func TestNewRefusesBadConfigurations(t *testing.T) {
	t.Parallel()
	cfg := enabledConfig()
	_, err := New(Options{Config: cfg})
	require.ErrorContains(t, err, "no credential is configured")

	cfg.JWTPublicKeyPath = "/nonexistent/key.pem"
	_, err = New(Options{Config: cfg})
	require.ErrorContains(t, err, "reading jwt_public_key_path")

	cfg.JWTPublicKeyPath, cfg.JWTPublicKey = "", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
	_, err = New(Options{Config: cfg})
	require.ErrorContains(t, err, "the JWT public key")

	// A server that does not listen starts; its handler refuses
	// everything protected.
	cfg.JWTPublicKey = ""
	a, err := New(Options{Config: cfg, AllowNoSource: true})
	require.NoError(t, err)
	_, reason, _ := a.Authenticate(bearer("x.y.z"), false)
	require.Equal(t, ReasonInvalidToken, reason)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-API-Key", "anything")
	_, reason, _ = a.Authenticate(r, false)
	require.Equal(t, ReasonUnknownAPIKey, reason)

	// Disabled: nothing is checked, nothing is needed.
	a, err = New(Options{Config: config.Default(config.ContextWorker).Worker.Web.Auth})
	require.NoError(t, err)
	require.False(t, a.Enabled())
}
