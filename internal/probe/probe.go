// Package probe checks a health endpoint over HTTP, for container health
// checks in images that have no shell or curl: `tasker probe URL` and
// `tasker-worker --probe URL` call Check and exit 0 only on a 2xx answer.
package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// DefaultTimeout bounds one check when the caller gives none.
const DefaultTimeout = 3 * time.Second

// ErrUnhealthy is returned when the endpoint answered with a status outside
// 200-299.
var ErrUnhealthy = errors.New("unhealthy")

// Check sends GET rawURL and returns nil when it answers 2xx within
// timeout (DefaultTimeout when timeout is not positive). The URL must be
// absolute http or https.
func Check(ctx context.Context, rawURL string, timeout time.Duration) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("probe URL %q: want an absolute http:// or https:// URL", rawURL)
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w", rawURL, err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("probe %s: %w: HTTP %d", rawURL, ErrUnhealthy, resp.StatusCode)
	}
	return nil
}
