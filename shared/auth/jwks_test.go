package auth

import (
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/config"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// jwksServer serves a key set that tests change, counting fetches.
type jwksServer struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	set    JWKSet
	status int
	cache  string        // Cache-Control
	gate   chan struct{} // when set, each fetch waits for a receive... close
	hits   atomic.Int64
}

func newJWKSServer(t *testing.T, keys map[string]crypto.Signer) *jwksServer {
	s := &jwksServer{t: t, status: http.StatusOK}
	s.rotate(keys)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		gate, set, status, cache := s.gate, s.set, s.status, s.cache
		s.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		if cache != "" {
			w.Header().Set("Cache-Control", cache)
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// rotate replaces the served keys.
func (s *jwksServer) rotate(keys map[string]crypto.Signer) {
	var set JWKSet
	for kid, k := range keys {
		j, err := PublicJWK(k.Public(), kid)
		require.NoError(s.t, err)
		set.Keys = append(set.Keys, j)
	}
	s.mu.Lock()
	s.set = set
	s.mu.Unlock()
}

func (s *jwksServer) setStatus(code int)      { s.mu.Lock(); s.status = code; s.mu.Unlock() }
func (s *jwksServer) setCache(v string)       { s.mu.Lock(); s.cache = v; s.mu.Unlock() }
func (s *jwksServer) setGate(g chan struct{}) { s.mu.Lock(); s.gate = g; s.mu.Unlock() }

func newJWKSAuth(t *testing.T, url string, clk *clock, mod ...func(*config.WebAuth)) *Authenticator {
	t.Helper()
	cfg := enabledConfig()
	cfg.JWKSURL, cfg.JWKSURLAllowHTTP = url, true
	for _, m := range mod {
		m(&cfg)
	}
	a, err := New(Options{Config: cfg, Now: clk.now, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(a.Close)
	return a
}

// kidToken is a valid token signed by key with a kid header, issued at
// the clock's time.
func kidToken(t *testing.T, key crypto.Signer, kid string, clk *clock) string {
	s := spec(api.PermTasksRead)
	s.KeyID, s.Now = kid, clk.now()
	return sign(t, key, s)
}

func reasonOf(a *Authenticator, token string) string {
	_, reason, _ := a.Authenticate(bearer(token), false)
	return reason
}

// waitIdle waits for a background fetch to finish.
func waitIdle(t *testing.T, a *Authenticator) {
	t.Helper()
	a.jwks.mu.Lock()
	ch := a.jwks.inflight
	a.jwks.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

// Rotation at the identity provider: a token with a new kid triggers one
// fetch and is accepted; the retired key stops working; tokens with known
// kids cause no fetch.
func TestJWKSRotation(t *testing.T) {
	t.Parallel()
	rsa1, ec1 := rsaKeys()[0], ecKeys()[0]
	srv := newJWKSServer(t, map[string]crypto.Signer{"k1": rsa1})
	clk := &clock{t: testNow}
	a := newJWKSAuth(t, srv.srv.URL, clk)

	require.Empty(t, reasonOf(a, kidToken(t, rsa1, "k1", clk)))
	require.Equal(t, int64(1), srv.hits.Load(), "the first token fetched the set")
	for range 5 {
		require.Empty(t, reasonOf(a, kidToken(t, rsa1, "k1", clk)))
	}
	require.Equal(t, int64(1), srv.hits.Load(), "known kids are served from the cache")

	srv.rotate(map[string]crypto.Signer{"k2": ec1})
	clk.advance(11 * time.Second) // past jwks_min_refresh_interval
	require.Empty(t, reasonOf(a, kidToken(t, ec1, "k2", clk)), "the new key is fetched on first sight")
	require.Equal(t, int64(2), srv.hits.Load())
	require.Equal(t, ReasonUnknownKey, reasonOf(a, kidToken(t, rsa1, "k1", clk)), "the retired key is gone")
	require.Equal(t, int64(2), srv.hits.Load(), "no refetch within jwks_min_refresh_interval")

	require.Equal(t, ReasonUnknownKey, reasonOf(a, kidToken(t, ec1, "k1", clk)), "a known kid with a key of another type")
	require.Equal(t, ReasonUnknownKey, reasonOf(a, sign(t, ec1, spec(api.PermTasksRead))), "no kid")
}

// A burst of tokens with kids the set does not have costs one fetch.
func TestJWKSUnknownKidsAreRateLimited(t *testing.T) {
	t.Parallel()
	key := rsaKeys()[0]
	srv := newJWKSServer(t, map[string]crypto.Signer{"k1": key})
	clk := &clock{t: testNow}
	a := newJWKSAuth(t, srv.srv.URL, clk)
	require.Empty(t, reasonOf(a, kidToken(t, key, "k1", clk)))
	clk.advance(11 * time.Second)

	var wg sync.WaitGroup
	reasons := make([]string, 50)
	for i := range reasons {
		wg.Go(func() { reasons[i] = reasonOf(a, kidToken(t, key, "forged-"+string(rune('a'+i%26)), clk)) })
	}
	wg.Wait()
	for _, r := range reasons {
		require.Equal(t, ReasonUnknownKey, r)
	}
	require.Equal(t, int64(2), srv.hits.Load(), "fifty unknown kids, one fetch")
}

// Cache-Control max-age shortens the refresh; the refresh runs in the
// background while requests go on with the keys they have.
func TestJWKSCacheControlAndBackgroundRefresh(t *testing.T) {
	t.Parallel()
	key := rsaKeys()[0]
	srv := newJWKSServer(t, map[string]crypto.Signer{"k1": key})
	srv.setCache("public, max-age=60")
	clk := &clock{t: testNow}
	a := newJWKSAuth(t, srv.srv.URL, clk)
	require.Empty(t, reasonOf(a, kidToken(t, key, "k1", clk)))
	require.Equal(t, testNow.Add(60*time.Second), a.jwks.expiresAt)

	clk.advance(30 * time.Second)
	require.Empty(t, reasonOf(a, kidToken(t, key, "k1", clk)))
	require.Equal(t, int64(1), srv.hits.Load(), "fresh for max-age")

	// Past max-age: the JWKS server hangs. Requests are not held up.
	gate := make(chan struct{})
	srv.setGate(gate)
	clk.advance(31 * time.Second)
	for range 10 {
		require.Empty(t, reasonOf(a, kidToken(t, key, "k1", clk)), "served from the cache during the refresh")
	}
	close(gate)
	waitIdle(t, a)
	require.Equal(t, int64(2), srv.hits.Load(), "one background refresh")

	srv.setCache("no-store")
	clk.advance(61 * time.Second)
	require.Empty(t, reasonOf(a, kidToken(t, key, "k1", clk)))
	waitIdle(t, a)
	a.jwks.mu.Lock()
	require.Equal(t, clk.now().Add(10*time.Second), a.jwks.expiresAt, "no-store: refetch after jwks_min_refresh_interval")
	a.jwks.mu.Unlock()

	cache := &jwksCache{refresh: time.Hour, minRefresh: 10 * time.Second}
	for v, want := range map[string]time.Duration{
		"": time.Hour, "max-age=7200": time.Hour, "max-age=120": 2 * time.Minute, "max-age=1": 10 * time.Second,
		"no-cache": 10 * time.Second, "max-age=abc": time.Hour, "private, MAX-AGE=300": 5 * time.Minute,
	} {
		h := http.Header{}
		if v != "" {
			h.Set("Cache-Control", v)
		}
		require.Equal(t, want, cache.ttl(h), v)
	}
}

// While the JWKS server is down the last set is used for jwks_max_stale
// past its refresh time; then every token is refused until it comes back.
func TestJWKSStaleKeysAndOutage(t *testing.T) {
	t.Parallel()
	key := rsaKeys()[0]
	srv := newJWKSServer(t, map[string]crypto.Signer{"k1": key})
	clk := &clock{t: testNow}
	a := newJWKSAuth(t, srv.srv.URL, clk, func(c *config.WebAuth) {
		c.JWKSRefreshInterval, c.JWKSMaxStale = time.Minute, 5*time.Minute
	})
	require.Empty(t, reasonOf(a, kidToken(t, key, "k1", clk)))

	srv.setStatus(http.StatusInternalServerError)
	clk.advance(3 * time.Minute) // stale, within max stale
	require.Empty(t, reasonOf(a, kidToken(t, key, "k1", clk)))
	waitIdle(t, a)
	require.Equal(t, int64(2), srv.hits.Load(), "a refresh was tried")

	clk.advance(4 * time.Minute) // 7 minutes after the fetch: past refresh + max stale
	require.Equal(t, ReasonJWKSUnavailable, reasonOf(a, kidToken(t, key, "k1", clk)))
	require.Equal(t, ReasonJWKSUnavailable, reasonOf(a, kidToken(t, key, "k1", clk)), "no second fetch at once")
	require.Equal(t, int64(3), srv.hits.Load())

	srv.setStatus(http.StatusOK)
	clk.advance(11 * time.Second)
	require.Empty(t, reasonOf(a, kidToken(t, key, "k1", clk)), "back when the JWKS server is")
}

func TestJWKSUnreachableAtStart(t *testing.T) {
	t.Parallel()
	key := rsaKeys()[0]
	srv := newJWKSServer(t, map[string]crypto.Signer{"k1": key})
	srv.setStatus(http.StatusServiceUnavailable)
	clk := &clock{t: testNow}
	a := newJWKSAuth(t, srv.srv.URL, clk)
	require.Equal(t, ReasonJWKSUnavailable, reasonOf(a, kidToken(t, key, "k1", clk)))
	require.Equal(t, ReasonJWKSUnavailable, reasonOf(a, kidToken(t, key, "k1", clk)))
	require.Equal(t, int64(1), srv.hits.Load(), "the second request did not wait for another fetch")
}

// A fetch is bounded by jwks_timeout, and Close ends one in flight.
func TestJWKSTimeoutAndClose(t *testing.T) {
	t.Parallel()
	key := rsaKeys()[0]
	gate := make(chan struct{})
	defer close(gate) // before the servers close (cleanups run after defers)
	hung := func() *jwksServer {
		srv := newJWKSServer(t, map[string]crypto.Signer{"k1": key})
		srv.setGate(gate)
		return srv
	}
	clk := &clock{t: testNow}
	a := newJWKSAuth(t, hung().srv.URL, clk, func(c *config.WebAuth) { c.JWKSTimeout = 50 * time.Millisecond })
	require.Equal(t, ReasonJWKSUnavailable, reasonOf(a, kidToken(t, key, "k1", clk)), "the fetch timed out")

	srv := hung()
	b := newJWKSAuth(t, srv.srv.URL, clk, func(c *config.WebAuth) { c.JWKSTimeout = time.Hour })
	done := make(chan string)
	go func() { done <- reasonOf(b, kidToken(t, key, "k1", clk)) }()
	require.Eventually(t, func() bool { return srv.hits.Load() == 1 }, 10*time.Second, time.Millisecond,
		"the fetch reached the JWKS server")
	b.Close()
	require.Equal(t, ReasonJWKSUnavailable, <-done, "Close ended the fetch the request waited for")

	// A request that gives up does not cancel the fetch others wait for.
	c := newJWKSAuth(t, hung().srv.URL, clk)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.jwks.lookup(ctx, "k1")
	require.ErrorIs(t, err, context.Canceled)
	c.jwks.mu.Lock()
	require.NotNil(t, c.jwks.inflight, "the fetch goes on")
	c.jwks.mu.Unlock()
}

func TestParseJWKS(t *testing.T) {
	t.Parallel()
	good, err := PublicJWK(rsaKeys()[0].Public(), "good")
	require.NoError(t, err)
	ec, err := PublicJWK(ecKeys()[0].Public(), "ec")
	require.NoError(t, err)
	small := &rsa.PublicKey{N: new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 1023), big.NewInt(1)), E: 65537}
	smallJWK := JWK{Kty: "RSA", Kid: "small", N: b64.EncodeToString(small.N.Bytes()), E: "AQAB"}
	enc := good
	enc.Kid, enc.Use = "enc", "enc"
	wrongAlg := good
	wrongAlg.Kid, wrongAlg.Alg = "wrong-alg", "ES256"
	offCurve := ec
	offCurve.Kid, offCurve.Y = "off-curve", b64.EncodeToString(make([]byte, 32))
	noKid := good
	noKid.Kid = ""
	hmac := JWK{Kty: "oct", Kid: "hmac"}
	doc, err := json.Marshal(JWKSet{Keys: []JWK{good, ec, smallJWK, enc, wrongAlg, offCurve, noKid, hmac}})
	require.NoError(t, err)
	keys, skipped, err := parseJWKS(doc, []string{config.AlgRS256, config.AlgES256})
	require.NoError(t, err)
	require.Len(t, keys, 2)
	require.Contains(t, keys, "good")
	require.Contains(t, keys, "ec")
	require.Len(t, skipped, 6)

	keys, _, err = parseJWKS(doc, []string{config.AlgES256})
	require.NoError(t, err)
	require.Len(t, keys, 1, "only allowed algorithms")

	_, _, err = parseJWKS([]byte(`{"keys": 5}`), nil)
	require.Error(t, err)
}
