package api

import "time"

// HealthResponse is the answer of /health, /health/live and /health/ready
// (with status 503 too, while the server is not ready or shutting down).
type HealthResponse struct {
	Status    string                 `json:"status" doc:"healthy, alive, ready, not_ready, unhealthy or shutting_down"`
	Timestamp time.Time              `json:"timestamp"`
	Version   string                 `json:"version"`
	Checks    map[string]HealthCheck `json:"checks,omitempty"`
}

// HealthCheck is one dependency's state.
type HealthCheck struct {
	Status     string  `json:"status" doc:"healthy or unhealthy"`
	Message    string  `json:"message,omitempty"`
	DurationMs float64 `json:"duration_ms"`
}

// DetailedHealthResponse is the answer of /health/detailed (with status 503
// too, while the database does not answer or the server is shutting down).
type DetailedHealthResponse struct {
	Status        string                 `json:"status" doc:"healthy, degraded (a queue is critical, overflowing or stuck), unhealthy or shutting_down"`
	Timestamp     time.Time              `json:"timestamp"`
	Version       string                 `json:"version"`
	UptimeSeconds float64                `json:"uptime_seconds"`
	Leader        bool                   `json:"leader" doc:"Whether this instance runs the cluster-wide loops"`
	Checks        map[string]HealthCheck `json:"checks"`
	Pool          PoolStats              `json:"pool"`
	Queues        []QueueHealth          `json:"queues"`
}

// PoolStats describes the server's database pool.
type PoolStats struct {
	TotalConns           int32   `json:"total_connections"`
	AcquiredConns        int32   `json:"acquired_connections"`
	IdleConns            int32   `json:"idle_connections"`
	ConstructingConns    int32   `json:"constructing_connections"`
	MaxConns             int32   `json:"max_connections"`
	Utilization          float64 `json:"utilization" doc:"acquired / max"`
	AcquireCount         int64   `json:"acquire_count"`
	EmptyAcquireCount    int64   `json:"empty_acquire_count" doc:"acquires that had to wait"`
	CanceledAcquireCount int64   `json:"canceled_acquire_count"`
	AcquireWaitMs        float64 `json:"acquire_wait_ms_total"`
}

// QueueHealth is one queue's backlog.
type QueueHealth struct {
	Queue                   string  `json:"queue"`
	Depth                   int64   `json:"depth"`
	Visible                 int64   `json:"visible"`
	OldestMessageAgeSeconds float64 `json:"oldest_message_age_seconds"`
	Status                  string  `json:"status" doc:"ok, warning, critical, overflow or stuck (oldest message older than queues.max_message_age)"`
}
