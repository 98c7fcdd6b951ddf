package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// DetailedHealth returns the server's /health/detailed document. A 503
// that carries the document (the database is unreachable, or the server is
// shutting down) is returned as the document with a nil error: read Status.
func (c *Client) DetailedHealth(ctx context.Context) (*DetailedHealth, error) {
	var h DetailedHealth
	return &h, c.doAccepting(ctx, http.MethodGet, "/health/detailed", nil, nil, &h, acceptHealthDocument)
}

// BasicHealth returns the server's /health document: status healthy while
// it serves, shutting_down (a 503, returned as the document with a nil
// error) while it stops.
func (c *Client) BasicHealth(ctx context.Context) (*Health, error) {
	var h Health
	return &h, c.doAccepting(ctx, http.MethodGet, "/health", nil, nil, &h, acceptHealthDocument)
}

// Liveness returns the server's /health/live document (status alive).
func (c *Client) Liveness(ctx context.Context) (*Health, error) {
	var h Health
	return &h, c.doAccepting(ctx, http.MethodGet, "/health/live", nil, nil, &h, acceptHealthDocument)
}

// Readiness returns the server's /health/ready document: status ready when
// the database answers, else not_ready or shutting_down (a 503, returned as
// the document with a nil error).
func (c *Client) Readiness(ctx context.Context) (*Health, error) {
	var h Health
	return &h, c.doAccepting(ctx, http.MethodGet, "/health/ready", nil, nil, &h, acceptHealthDocument)
}

// WorkerHealth is a worker's /health/detailed document (the worker API,
// default port 8081).
type WorkerHealth struct {
	// Status is healthy, degraded (the database does not answer), or the
	// worker's state while it is not running.
	Status        string    `json:"status"`
	WorkerID      string    `json:"worker_id"`
	State         string    `json:"state"`
	Timestamp     time.Time `json:"timestamp"`
	Hostname      string    `json:"hostname"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	Namespaces    []string  `json:"namespaces"`
	Stats         struct {
		Running           int   `json:"running"`
		Completing        int   `json:"completing"`
		ConcurrencyLimit  int   `json:"concurrency_limit"`
		ConcurrencyInUse  int   `json:"concurrency_in_use"`
		Claimed           int64 `json:"claimed"`
		Recorded          int64 `json:"recorded"`
		Stale             int64 `json:"stale"`
		Released          int64 `json:"released"`
		Lost              int64 `json:"lost"`
		CompletionBatches int64 `json:"completion_batches"`
	} `json:"stats"`
	Concurrency struct {
		Limit    int  `json:"limit"`
		InUse    int  `json:"in_use"`
		Min      int  `json:"min"`
		Max      int  `json:"max"`
		Adaptive bool `json:"adaptive"`
	} `json:"concurrency"`
	Database struct {
		Status string `json:"status"`
		Error  string `json:"error,omitempty"`
		Pool   *struct {
			MaxConns      int32 `json:"max_conns"`
			TotalConns    int32 `json:"total_conns"`
			IdleConns     int32 `json:"idle_conns"`
			AcquiredConns int32 `json:"acquired_conns"`
			AcquireCount  int64 `json:"acquire_count"`
		} `json:"pool,omitempty"`
	} `json:"database"`
	Queues []struct {
		Queue   string `json:"queue"`
		Depth   int64  `json:"depth"`
		Visible int64  `json:"visible"`
		// OldestAge is the age of the oldest message (0 when empty).
		OldestAge time.Duration `json:"oldest_age"`
	} `json:"queues"`
}

// WorkerHealth returns a worker's /health/detailed document. Create the
// client with the worker's URL (for example http://localhost:8081), not
// the orchestration server's.
func (c *Client) WorkerHealth(ctx context.Context) (*WorkerHealth, error) {
	var h WorkerHealth
	return &h, c.doAccepting(ctx, http.MethodGet, "/health/detailed", nil, nil, &h, acceptHealthDocument)
}

// acceptHealthDocument accepts a 503 whose body is a health document rather
// than an error envelope.
func acceptHealthDocument(status int, data []byte) bool {
	if status != http.StatusServiceUnavailable {
		return false
	}
	var doc struct {
		Status string          `json:"status"`
		Error  json.RawMessage `json:"error"`
	}
	return json.Unmarshal(data, &doc) == nil && doc.Status != "" && doc.Error == nil
}
