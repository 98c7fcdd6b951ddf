package api

import (
	"encoding/json"
	"time"
)

// The worker's HTTP API (see worker.Core.HTTPHandler) answers with the
// types below. Field names and JSON types follow tasker-core's worker API;
// the worker's own fields come on top.

// WorkerHealthResponse is the answer of the worker's /health and
// /health/live.
type WorkerHealthResponse struct {
	Status    string    `json:"status" doc:"healthy, alive, or the lifecycle state while not running"`
	Timestamp time.Time `json:"timestamp"`
	WorkerID  string    `json:"worker_id"`
	State     string    `json:"state" doc:"starting, running, stopping or stopped"`
}

// WorkerHealthCheck is one check of a worker health answer.
type WorkerHealthCheck struct {
	Status      string    `json:"status" doc:"healthy, degraded or unhealthy"`
	Message     string    `json:"message,omitempty"`
	DurationMs  int64     `json:"duration_ms"`
	LastChecked time.Time `json:"last_checked"`
}

// WorkerReadinessChecks are the checks of the worker's /health/ready.
type WorkerReadinessChecks struct {
	Database         WorkerHealthCheck `json:"database"`
	CommandProcessor WorkerHealthCheck `json:"command_processor" doc:"The claim loop and handler dispatch"`
	QueueProcessing  WorkerHealthCheck `json:"queue_processing"`
}

// WorkerDetailedChecks are the checks of the worker's /health/detailed.
type WorkerDetailedChecks struct {
	Database         WorkerHealthCheck `json:"database"`
	CommandProcessor WorkerHealthCheck `json:"command_processor"`
	QueueProcessing  WorkerHealthCheck `json:"queue_processing"`
	EventSystem      WorkerHealthCheck `json:"event_system"`
	StepProcessing   WorkerHealthCheck `json:"step_processing"`
	CircuitBreakers  WorkerHealthCheck `json:"circuit_breakers"`
}

// WorkerSystemInfo describes the worker process.
type WorkerSystemInfo struct {
	Version                string   `json:"version"`
	Environment            string   `json:"environment"`
	UptimeSeconds          uint64   `json:"uptime_seconds"`
	WorkerType             string   `json:"worker_type"`
	DatabasePoolSize       uint32   `json:"database_pool_size"`
	CommandProcessorActive bool     `json:"command_processor_active"`
	SupportedNamespaces    []string `json:"supported_namespaces"`
}

// WorkerReadinessResponse is the answer of the worker's /health/ready
// (while not running or while the database does not answer: 503 with the
// error envelope, api.ErrorResponse).
type WorkerReadinessResponse struct {
	WorkerHealthResponse
	Checks     WorkerReadinessChecks `json:"checks"`
	SystemInfo WorkerSystemInfo      `json:"system_info"`
}

// WorkerDetailedHealthResponse is the answer of the worker's
// /health/detailed.
type WorkerDetailedHealthResponse struct {
	WorkerHealthResponse
	Checks        WorkerDetailedChecks `json:"checks"`
	SystemInfo    WorkerSystemInfo     `json:"system_info"`
	Hostname      string               `json:"hostname"`
	UptimeSeconds float64              `json:"uptime_seconds"`
	Namespaces    []string             `json:"namespaces"`
	Stats         WorkerStats          `json:"stats"`
	Concurrency   WorkerConcurrency    `json:"concurrency"`
	Database      WorkerDatabase       `json:"database"`
	Queues        []WorkerQueueStats   `json:"queues"`
}

// WorkerStats counts the worker's activity since it started.
type WorkerStats struct {
	WorkerID          string   `json:"worker_id"`
	Namespaces        []string `json:"namespaces"`
	Running           int      `json:"running" doc:"Handlers running now"`
	Completing        int      `json:"completing" doc:"Results waiting for their commit"`
	ConcurrencyLimit  int      `json:"concurrency_limit"`
	ConcurrencyInUse  int      `json:"concurrency_in_use"`
	Claimed           int64    `json:"claimed"`
	Recorded          int64    `json:"recorded"`
	Stale             int64    `json:"stale"`
	Released          int64    `json:"released"`
	Lost              int64    `json:"lost"`
	CompletionBatches int64    `json:"completion_batches"`
}

// WorkerConcurrency is the handler concurrency and its bounds.
type WorkerConcurrency struct {
	Limit    int  `json:"limit"`
	InUse    int  `json:"in_use"`
	Min      int  `json:"min"`
	Max      int  `json:"max"`
	Adaptive bool `json:"adaptive"`
}

// WorkerDatabase is the database's state as the worker sees it.
type WorkerDatabase struct {
	Status string      `json:"status" doc:"ok or unavailable"`
	Error  string      `json:"error,omitempty"`
	Pool   *WorkerPool `json:"pool,omitempty"`
}

// WorkerPool describes the worker's database pool.
type WorkerPool struct {
	MaxConns      int32 `json:"max_conns"`
	TotalConns    int32 `json:"total_conns"`
	IdleConns     int32 `json:"idle_conns"`
	AcquiredConns int32 `json:"acquired_conns"`
	AcquireCount  int64 `json:"acquire_count"`
}

// WorkerQueueStats is one queue's backlog.
type WorkerQueueStats struct {
	Queue            string  `json:"queue"`
	Depth            int64   `json:"depth"`
	Visible          int64   `json:"visible"`
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
	// OldestAge is the same age in nanoseconds.
	OldestAge int64 `json:"oldest_age"`
}

// WorkerTemplateListResponse lists the templates a worker registered (the
// worker's GET /v1/templates).
type WorkerTemplateListResponse struct {
	Templates           []WorkerTemplateSummary `json:"templates"`
	Namespaces          []string                `json:"namespaces"`
	TotalCount          int                     `json:"total_count"`
	SupportedNamespaces []string                `json:"supported_namespaces" doc:"Same as namespaces"`
	TemplateCount       int                     `json:"template_count" doc:"Templates registered (before the namespace filter)"`
	WorkerCapabilities  []string                `json:"worker_capabilities" doc:"The handler callables this worker runs"`
}

// WorkerTemplateSummary is one registered template.
type WorkerTemplateSummary struct {
	Namespace   string   `json:"namespace"`
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Description string   `json:"description,omitempty"`
	StepCount   int      `json:"step_count"`
	Steps       []string `json:"steps"`
	Handlers    []string `json:"handlers"`
}

// WorkerTemplateResponse is one template a worker registered (the worker's
// GET /v1/templates/{namespace}/{name}/{version}). Besides these fields the
// answer carries the template's own fields at the top level (as before
// tasker-core's shape was added).
type WorkerTemplateResponse struct {
	Template        ResolvedTemplate `json:"template"`
	HandlerMetadata HandlerMetadata  `json:"handler_metadata"`
	// Cached is always false: the worker holds its templates in memory
	// from registration, there is no cache to hit.
	Cached          bool    `json:"cached"`
	CacheAgeSeconds *uint64 `json:"cache_age_seconds"`
	AccessCount     *uint64 `json:"access_count"`
}

// ResolvedTemplate is a template with its environment overrides applied.
type ResolvedTemplate struct {
	Template    json.RawMessage `json:"template" doc:"The template, as its YAML's keys"`
	Environment string          `json:"environment"`
	ResolvedAt  time.Time       `json:"resolved_at" doc:"When the worker registered the template"`
}

// HandlerMetadata describes a template's handler registration.
type HandlerMetadata struct {
	Namespace              string          `json:"namespace"`
	Name                   string          `json:"name"`
	Version                string          `json:"version"`
	HandlerClass           string          `json:"handler_class" doc:"The first step's callable"`
	ConfigSchema           json.RawMessage `json:"config_schema" doc:"The template's input_schema, or null"`
	DefaultDependentSystem *string         `json:"default_dependent_system"`
	RegisteredAt           time.Time       `json:"registered_at"`
}

// TemplateValidationResponse says whether a worker can run a template (the
// worker's POST /v1/templates/{namespace}/{name}/{version}/validate).
type TemplateValidationResponse struct {
	Valid                bool     `json:"valid"`
	Errors               []string `json:"errors" doc:"Each step whose handler this worker does not have"`
	RequiredCapabilities []string `json:"required_capabilities" doc:"The step types the template uses"`
	StepHandlers         []string `json:"step_handlers" doc:"The template's handler callables"`
}

// WorkerMetricsResponse is the worker's metrics as JSON (the worker's GET
// /metrics/worker): every Prometheus series it exports, by name and labels.
type WorkerMetricsResponse struct {
	Metrics   map[string]MetricValue `json:"metrics"`
	Timestamp time.Time              `json:"timestamp"`
	WorkerID  string                 `json:"worker_id"`
}

// MetricValue is one series: counters and gauges as they are, a histogram
// or summary as its sample count (its sum is a second series, name_sum).
type MetricValue struct {
	Value      float64           `json:"value"`
	MetricType string            `json:"metric_type" doc:"counter, gauge, histogram, summary or untyped"`
	Labels     map[string]string `json:"labels"`
	Help       string            `json:"help"`
}

// DomainEventStats counts the domain events a worker published (the
// worker's GET /metrics/events).
type DomainEventStats struct {
	Router       EventRouterStats       `json:"router"`
	InProcessBus InProcessEventBusStats `json:"in_process_bus"`
	CapturedAt   time.Time              `json:"captured_at"`
	WorkerID     string                 `json:"worker_id"`
}

// EventRouterStats counts events by the route they took.
type EventRouterStats struct {
	TotalRouted        uint64 `json:"total_routed"`
	DurableRouted      uint64 `json:"durable_routed"`
	FastRouted         uint64 `json:"fast_routed"`
	BroadcastRouted    uint64 `json:"broadcast_routed"`
	FastDeliveryErrors uint64 `json:"fast_delivery_errors"`
	RoutingErrors      uint64 `json:"routing_errors"`
}

// InProcessEventBusStats describes the in-process event bus.
type InProcessEventBusStats struct {
	TotalEventsDispatched  uint64 `json:"total_events_dispatched"`
	RustHandlerDispatches  uint64 `json:"rust_handler_dispatches"`
	FFIChannelDispatches   uint64 `json:"ffi_channel_dispatches"`
	RustHandlerErrors      uint64 `json:"rust_handler_errors"`
	FFIChannelDrops        uint64 `json:"ffi_channel_drops"`
	RustSubscriberPatterns uint64 `json:"rust_subscriber_patterns"`
	RustHandlerCount       uint64 `json:"rust_handler_count"`
	FFISubscriberCount     uint64 `json:"ffi_subscriber_count"`
}
