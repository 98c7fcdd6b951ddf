package auth

import (
	"crypto"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/shared/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Keys are generated once per test binary (RSA generation is slow).
var (
	rsaKeys = sync.OnceValue(func() [2]crypto.Signer { return [2]crypto.Signer{mustKey(config.AlgRS256), mustKey(config.AlgRS256)} })
	ecKeys  = sync.OnceValue(func() [2]crypto.Signer { return [2]crypto.Signer{mustKey(config.AlgES256), mustKey(config.AlgES256)} })
)

func mustKey(alg string) crypto.Signer {
	k, err := GenerateKey(alg, 0)
	if err != nil {
		panic(err)
	}
	return k
}

// testNow is the fixed clock of token tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// enabledConfig is an enabled web.auth section with the defaults.
func enabledConfig() config.WebAuth {
	c := config.Default(config.ContextOrchestration).Orchestration.Web.Auth
	c.Enabled = true
	return c
}

func pemOf(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	b, err := EncodePublicKeyPEM(pub)
	require.NoError(t, err)
	return string(b)
}

// spec is a valid token for enabledConfig, issued at testNow.
func spec(perms ...string) TokenSpec {
	return TokenSpec{Issuer: "tasker-core", Subject: "alice", Audience: []string{"tasker-api"}, Permissions: perms,
		TTL: time.Hour, Now: testNow}
}

func sign(t testing.TB, key crypto.Signer, s TokenSpec) string {
	t.Helper()
	tok, err := Sign(key, s)
	require.NoError(t, err)
	return tok
}

// rawToken signs arbitrary claims with any method and key (for tokens
// Sign refuses to make: none, HS256).
func rawToken(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// validClaims are the claims of spec() as a map.
func validClaims(perms ...string) jwt.MapClaims {
	return jwt.MapClaims{"iss": "tasker-core", "sub": "mallory", "aud": "tasker-api", "iat": testNow.Unix(),
		"nbf": testNow.Unix(), "exp": testNow.Add(time.Hour).Unix(), "permissions": perms}
}
