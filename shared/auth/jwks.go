package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tasker-go/tasker/shared/config"
)

// JWKS limits: a key set larger than this is refused.
const (
	maxJWKSBytes = 1 << 20
	maxJWKSKeys  = 100
)

var (
	errUnknownKey       = errors.New("no key with the token's kid in the JWKS")
	errJWKSUnavailable  = errors.New("the JWKS could not be fetched")
	errMissingKeyID     = errors.New("the token has no kid header")
	errKeyTypeMismatch  = errors.New("the key does not fit the token's algorithm")
	errUnsupportedKey   = errors.New("unsupported key")
	errJWKSFetchRefused = errors.New("JWKS fetch")
)

// jwk is one usable key of a fetched set.
type jwk struct {
	key crypto.PublicKey
	alg string // the key's algorithm (from its type)
}

// jwksCache holds the keys of a JWKS URL. Requests never fetch: a lookup
// that finds its kid returns at once (and, when the set is due for a
// refresh, starts one in the background); a lookup for an unknown kid
// starts a fetch, at most one per minRefresh, and waits for that fetch
// only (bounded by timeout). When fetches keep failing the last set stays
// in use for maxStale past its refresh time, then every lookup fails.
type jwksCache struct {
	url        string
	client     *http.Client
	allowed    []string
	refresh    time.Duration
	minRefresh time.Duration
	maxStale   time.Duration
	timeout    time.Duration
	now        func() time.Time
	log        *slog.Logger

	mu        sync.Mutex
	keys      map[string]jwk
	fetched   bool
	expiresAt time.Time // refresh after this
	lastTry   time.Time // when the last fetch started
	inflight  chan struct{}
	cancel    context.CancelFunc // of the fetch in flight
	closed    bool
	wg        sync.WaitGroup
}

// lookup returns the key with id kid.
func (c *jwksCache) lookup(ctx context.Context, kid string) (jwk, error) {
	c.mu.Lock()
	now := c.now()
	k, ok := c.keys[kid]
	if ok && c.usable(now) {
		if !now.Before(c.expiresAt) {
			c.startFetch(ctx, now) // refresh in the background; this request goes on
		}
		c.mu.Unlock()
		return k, nil
	}
	done := c.startFetch(ctx, now)
	c.mu.Unlock()
	if done == nil {
		return jwk{}, c.missError()
	}
	select {
	case <-done:
	case <-ctx.Done():
		return jwk{}, fmt.Errorf("waiting for the JWKS: %w", ctx.Err())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.keys[kid]; ok && c.usable(c.now()) {
		return k, nil
	}
	return jwk{}, c.missErrorLocked()
}

func (c *jwksCache) missError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.missErrorLocked()
}

// missErrorLocked says why a kid was not found: the set is missing or too
// stale, or it does not have the kid.
func (c *jwksCache) missErrorLocked() error {
	if !c.usable(c.now()) {
		return errJWKSUnavailable
	}
	return errUnknownKey
}

// usable reports whether the fetched set may still be used.
func (c *jwksCache) usable(now time.Time) bool {
	return c.fetched && now.Before(c.expiresAt.Add(c.maxStale))
}

// startFetch starts a fetch unless one is in flight (whose channel it
// returns) or the last one started less than minRefresh ago (nil).
// c.mu is held.
func (c *jwksCache) startFetch(trigger context.Context, now time.Time) chan struct{} {
	if c.inflight != nil {
		return c.inflight
	}
	if c.closed || (!c.lastTry.IsZero() && now.Sub(c.lastTry) < c.minRefresh) {
		return nil
	}
	c.lastTry = now
	done := make(chan struct{})
	// The fetch outlives the request that triggered it (others wait for
	// it, or it is a background refresh): it keeps the request's values
	// but not its cancellation; close cancels it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(trigger), c.timeout)
	c.inflight, c.cancel = done, cancel
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer cancel()
		keys, ttl, err := c.fetch(ctx)
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil {
			c.log.Warn("auth: fetching the JWKS failed; keeping the keys fetched before", "url", config.RedactSecrets(c.url), "err", err,
				"keys", len(c.keys))
		} else {
			c.keys, c.fetched, c.expiresAt = keys, true, c.now().Add(ttl)
			c.log.Debug("auth: JWKS fetched", "url", config.RedactSecrets(c.url), "keys", len(keys), "valid_for", ttl)
		}
		c.inflight, c.cancel = nil, nil
		close(done)
	}()
	return done
}

// close cancels a fetch in flight and waits for it.
func (c *jwksCache) close() {
	c.mu.Lock()
	c.closed = true
	if c.cancel != nil {
		c.cancel()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// fetch reads and parses the key set, and how long to use it for.
func (c *jwksCache) fetch(ctx context.Context) (map[string]jwk, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errJWKSFetchRefused, err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errJWKSFetchRefused, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("%w: HTTP %d", errJWKSFetchRefused, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: reading the response: %w", errJWKSFetchRefused, err)
	}
	if len(body) > maxJWKSBytes {
		return nil, 0, fmt.Errorf("%w: the key set is larger than %d bytes", errJWKSFetchRefused, maxJWKSBytes)
	}
	keys, skipped, err := parseJWKS(body, c.allowed)
	if err != nil {
		return nil, 0, err
	}
	for _, s := range skipped {
		c.log.Debug("auth: JWKS key skipped", "url", config.RedactSecrets(c.url), "reason", s)
	}
	return keys, c.ttl(resp.Header), nil
}

// ttl is how long a fetched set is used before the next fetch: the
// response's Cache-Control max-age (0 for no-cache or no-store) capped by
// refresh, and never below minRefresh.
func (c *jwksCache) ttl(h http.Header) time.Duration {
	ttl := c.refresh
	for _, v := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			switch {
			case d == "no-cache" || d == "no-store":
				ttl = 0
			case strings.HasPrefix(d, "max-age="):
				if n, err := strconv.ParseInt(strings.TrimPrefix(d, "max-age="), 10, 64); err == nil && n >= 0 {
					ttl = min(ttl, time.Duration(min(n, int64(c.refresh/time.Second)))*time.Second)
				}
			}
		}
	}
	return max(ttl, c.minRefresh)
}

// parseJWKS reads a JWKS document: the signing keys with a kid, of a type
// and algorithm allowed. Other keys are skipped (and described).
func parseJWKS(body []byte, allowed []string) (map[string]jwk, []string, error) {
	var set JWKSet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, nil, fmt.Errorf("%w: the response is not a JWKS document: %w", errJWKSFetchRefused, err)
	}
	if len(set.Keys) > maxJWKSKeys {
		return nil, nil, fmt.Errorf("%w: %d keys, at most %d are accepted", errJWKSFetchRefused, len(set.Keys), maxJWKSKeys)
	}
	keys := make(map[string]jwk, len(set.Keys))
	var skipped []string
	for i, k := range set.Keys {
		if k.Kid == "" || (k.Use != "" && k.Use != "sig") {
			skipped = append(skipped, fmt.Sprintf("key %d: no kid, or not a signing key", i))
			continue
		}
		pub, err := k.publicKey()
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("key %q: %v", k.Kid, err))
			continue
		}
		alg, err := KeyAlgorithm(pub)
		if err != nil || (k.Alg != "" && k.Alg != alg) || !slices.Contains(allowed, alg) {
			skipped = append(skipped, fmt.Sprintf("key %q: algorithm %q not allowed", k.Kid, k.Alg))
			continue
		}
		keys[k.Kid] = jwk{key: pub, alg: alg}
	}
	return keys, skipped, nil
}

// publicKey decodes an RSA or EC P-256 JWK.
func (k JWK) publicKey() (crypto.PublicKey, error) {
	switch k.Kty {
	case "RSA":
		n, err1 := b64.DecodeString(k.N)
		e, err2 := b64.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("%w: bad RSA n or e", errUnsupportedKey)
		}
		exp := new(big.Int).SetBytes(e).Int64()
		if exp < 3 || exp%2 == 0 {
			return nil, fmt.Errorf("%w: bad RSA exponent", errUnsupportedKey)
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp)}, nil
	case "EC":
		if k.Crv != "P-256" {
			return nil, fmt.Errorf("%w: curve %q (want P-256)", errUnsupportedKey, k.Crv)
		}
		x, err1 := b64.DecodeString(k.X)
		y, err2 := b64.DecodeString(k.Y)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return nil, fmt.Errorf("%w: bad EC x or y", errUnsupportedKey)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), slices.Concat([]byte{4}, x, y))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errUnsupportedKey, err)
		}
		return pub, nil
	}
	return nil, fmt.Errorf("%w: key type %q", errUnsupportedKey, k.Kty)
}
