package auth

import (
	"crypto"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/config"
)

// BenchmarkAuthenticate measures the cost a credential adds to a request:
// go test -run '^$' -bench Authenticate -benchtime 2000x ./shared/auth/
func BenchmarkAuthenticate(b *testing.B) {
	for _, c := range []struct {
		name string
		key  crypto.Signer
	}{{"RS256", rsaKeys()[0]}, {"ES256", ecKeys()[0]}} {
		b.Run(c.name, func(b *testing.B) {
			cfg := enabledConfig()
			cfg.JWTPublicKey = pemOf(b, c.key.Public())
			a, err := New(Options{Config: cfg, Now: func() time.Time { return testNow }})
			if err != nil {
				b.Fatal(err)
			}
			r := bearer(sign(b, c.key, spec(api.PermTasksRead)))
			b.ResetTimer()
			for b.Loop() {
				if _, reason, _ := a.Authenticate(r, false); reason != "" {
					b.Fatal(reason)
				}
			}
		})
	}
	b.Run("APIKey-of-20", func(b *testing.B) {
		cfg := enabledConfig()
		for i := range 20 {
			cfg.APIKeys = append(cfg.APIKeys, config.APIKey{Name: "k", KeyHash: HashKey(string(rune('a' + i)))})
		}
		a, err := New(Options{Config: cfg})
		if err != nil {
			b.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-API-Key", "t")
		for b.Loop() {
			if _, reason, _ := a.Authenticate(r, false); reason != "" {
				b.Fatal(reason)
			}
		}
	})
}
