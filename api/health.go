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

// HealthCheck is one dependency's state (tasker-core's HealthCheck).
type HealthCheck struct {
	Status     string `json:"status" doc:"healthy, degraded or unhealthy"`
	Message    string `json:"message,omitempty"`
	DurationMs int64  `json:"duration_ms" doc:"How long the check took, in whole milliseconds (rounded up)"`
}

// DurationMs is d in whole milliseconds, rounded up: a check that ran at
// all never reports 0.
func DurationMs(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// The checks every /health/detailed answer names (tasker-core's
// DetailedHealthChecks); "database", "queues", "unserved_steps" and
// "vacuum" are this server's own.
const (
	CheckWebDatabase           = "web_database"
	CheckOrchestrationDatabase = "orchestration_database"
	CheckCircuitBreaker        = "circuit_breaker"
	CheckOrchestrationSystem   = "orchestration_system"
	CheckCommandProcessor      = "command_processor"
	CheckPoolUtilization       = "pool_utilization"
	CheckQueueDepth            = "queue_depth"
	CheckChannelSaturation     = "channel_saturation"
	// CheckUnservedSteps is this server's own too: degraded while steps
	// wait that no live worker can run (see UnservedSteps).
	CheckUnservedSteps = "unserved_steps"
	// CheckVacuum is healthy or warning: whether dead rows in the engine's
	// tables are being reclaimed (a warning does not change the status).
	CheckVacuum = "vacuum"
)

// HealthInfo describes the serving process (tasker-core's HealthInfo).
type HealthInfo struct {
	Version          string `json:"version"`
	Environment      string `json:"environment"`
	OperationalState string `json:"operational_state" doc:"normal or shutting_down"`
	// Both pool sizes are the one database pool's maximum: the API and
	// orchestration share it.
	WebDatabasePoolSize           uint32 `json:"web_database_pool_size"`
	OrchestrationDatabasePoolSize uint32 `json:"orchestration_database_pool_size"`
	CircuitBreakerState           string `json:"circuit_breaker_state" doc:"Always closed: there is no circuit breaker; an unavailable database answers 503 at once"`
}

// DetailedHealthResponse is the answer of /health/detailed (with status 503
// too, while the database does not answer or the server is shutting down).
type DetailedHealthResponse struct {
	Status        string                 `json:"status" doc:"healthy, degraded (a queue is critical, overflowing or stuck), unhealthy or shutting_down"`
	Timestamp     time.Time              `json:"timestamp"`
	Version       string                 `json:"version"`
	UptimeSeconds float64                `json:"uptime_seconds"`
	Leader        bool                   `json:"leader" doc:"Whether this instance runs the cluster-wide loops"`
	Checks        map[string]HealthCheck `json:"checks" doc:"Always has web_database, orchestration_database, circuit_breaker, orchestration_system, command_processor, pool_utilization, queue_depth and channel_saturation, plus database, and queues, unserved_steps and vacuum when the database answers"`
	Pool          PoolStats              `json:"pool"`
	Queues        []QueueHealth          `json:"queues"`
	UnservedSteps []UnservedSteps        `json:"unserved_steps" doc:"Steps waiting in a worker queue whose handler callable no live worker of their namespace serves (they wait, they are not failed); any makes the status degraded"`
	Info          HealthInfo             `json:"info"`
}

// UnservedSteps counts the waiting steps of one namespace and callable that
// no live worker can run.
type UnservedSteps struct {
	Namespace               string  `json:"namespace"`
	Callable                string  `json:"callable" doc:"The steps' handler callable; empty for messages that carry none (only a worker that does not route takes them)"`
	Steps                   int64   `json:"steps"`
	OldestMessageAgeSeconds float64 `json:"oldest_message_age_seconds"`
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
