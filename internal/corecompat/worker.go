package corecompat

// Mirrors of crates/tasker-shared/src/types/api/worker.rs, types/base.rs,
// types/web.rs and the task template model: what tasker-core's
// WorkerApiClient decodes.

// BasicHealthResponse mirrors types::api::worker::BasicHealthResponse (the
// worker's /health and /health/live).
type BasicHealthResponse struct {
	Status    string      `json:"status"`
	Timestamp DateTimeUtc `json:"timestamp"`
	WorkerID  string      `json:"worker_id"`
}

// WorkerReadinessResponse mirrors types::api::worker::ReadinessResponse (the
// worker's /health/ready).
type WorkerReadinessResponse struct {
	Status     string                `json:"status"`
	Timestamp  DateTimeUtc           `json:"timestamp"`
	WorkerID   string                `json:"worker_id"`
	Checks     WorkerReadinessChecks `json:"checks"`
	SystemInfo WorkerSystemInfo      `json:"system_info"`
}

// WorkerReadinessChecks mirrors types::api::worker::WorkerReadinessChecks.
type WorkerReadinessChecks struct {
	Database         WorkerHealthCheck `json:"database"`
	CommandProcessor WorkerHealthCheck `json:"command_processor"`
	QueueProcessing  WorkerHealthCheck `json:"queue_processing"`
}

// WorkerDetailedHealthResponse mirrors
// types::api::worker::DetailedHealthResponse (the worker's
// /health/detailed).
type WorkerDetailedHealthResponse struct {
	Status           string                `json:"status"`
	Timestamp        DateTimeUtc           `json:"timestamp"`
	WorkerID         string                `json:"worker_id"`
	Checks           WorkerDetailedChecks  `json:"checks"`
	SystemInfo       WorkerSystemInfo      `json:"system_info"`
	DistributedCache *DistributedCacheInfo `json:"distributed_cache"`
}

// WorkerDetailedChecks mirrors types::api::worker::WorkerDetailedChecks.
type WorkerDetailedChecks struct {
	Database         WorkerHealthCheck `json:"database"`
	CommandProcessor WorkerHealthCheck `json:"command_processor"`
	QueueProcessing  WorkerHealthCheck `json:"queue_processing"`
	EventSystem      WorkerHealthCheck `json:"event_system"`
	StepProcessing   WorkerHealthCheck `json:"step_processing"`
	CircuitBreakers  WorkerHealthCheck `json:"circuit_breakers"`
}

// DistributedCacheInfo mirrors types::api::worker::DistributedCacheInfo.
type DistributedCacheInfo struct {
	Enabled  bool   `json:"enabled"`
	Provider string `json:"provider"`
	Healthy  bool   `json:"healthy"`
}

// WorkerHealthCheck mirrors types::api::worker::HealthCheck.
type WorkerHealthCheck struct {
	Status      string      `json:"status"`
	Message     *string     `json:"message"`
	DurationMs  uint64      `json:"duration_ms"`
	LastChecked DateTimeUtc `json:"last_checked"`
}

// WorkerSystemInfo mirrors types::api::worker::WorkerSystemInfo.
type WorkerSystemInfo struct {
	Version                string               `json:"version"`
	Environment            string               `json:"environment"`
	UptimeSeconds          uint64               `json:"uptime_seconds"`
	WorkerType             string               `json:"worker_type"`
	DatabasePoolSize       uint32               `json:"database_pool_size"`
	CommandProcessorActive bool                 `json:"command_processor_active"`
	SupportedNamespaces    []string             `json:"supported_namespaces"`
	PoolUtilization        *PoolUtilizationInfo `json:"pool_utilization"`
}

// WorkerTemplateListResponse mirrors types::api::worker::TemplateListResponse
// (the worker's GET /v1/templates).
type WorkerTemplateListResponse struct {
	SupportedNamespaces []string    `json:"supported_namespaces"`
	TemplateCount       uint64      `json:"template_count"`
	CacheStats          *CacheStats `json:"cache_stats"`
	WorkerCapabilities  []string    `json:"worker_capabilities"`
}

// CacheStats mirrors types::base::CacheStats.
type CacheStats struct {
	TotalCached           uint64   `json:"total_cached"`
	CacheHits             uint64   `json:"cache_hits"`
	CacheMisses           uint64   `json:"cache_misses"`
	CacheEvictions        uint64   `json:"cache_evictions"`
	OldestEntryAgeSeconds uint64   `json:"oldest_entry_age_seconds"`
	AverageAccessCount    float64  `json:"average_access_count"`
	SupportedNamespaces   []string `json:"supported_namespaces"`
}

// WorkerTemplateResponse mirrors types::api::worker::TemplateResponse (the
// worker's GET /v1/templates/{namespace}/{name}/{version}).
type WorkerTemplateResponse struct {
	Template        ResolvedTaskTemplate `json:"template"`
	HandlerMetadata HandlerMetadata      `json:"handler_metadata"`
	Cached          bool                 `json:"cached"`
	CacheAgeSeconds *uint64              `json:"cache_age_seconds"`
	AccessCount     *uint64              `json:"access_count"`
}

// ResolvedTaskTemplate mirrors models::core::task_template::ResolvedTaskTemplate.
type ResolvedTaskTemplate struct {
	Template    TaskTemplate `json:"template"`
	Environment string       `json:"environment"`
	ResolvedAt  DateTimeUtc  `json:"resolved_at"`
}

// TaskTemplate mirrors models::core::task_template::TaskTemplate, the
// fields a client reads (the rest are Option or #[serde(default)]
// collections whose inner shapes the worker does not change).
type TaskTemplate struct {
	Name               string                   `json:"name"`
	NamespaceName      string                   `json:"namespace_name"`
	Version            string                   `json:"version"`
	Description        *string                  `json:"description"`
	Metadata           *TemplateMetadata        `json:"metadata"`
	SystemDependencies SystemDependencies       `json:"system_dependencies" rust:"default"`
	InputSchema        *Value                   `json:"input_schema"`
	Steps              []TemplateStepDefinition `json:"steps" rust:"default"`
}

// TemplateMetadata mirrors models::core::task_template::TemplateMetadata.
type TemplateMetadata struct {
	Author           *string      `json:"author"`
	Tags             []string     `json:"tags" rust:"default"`
	DocumentationURL *string      `json:"documentation_url"`
	CreatedAt        *DateTimeUtc `json:"created_at"`
	UpdatedAt        *DateTimeUtc `json:"updated_at"`
}

// SystemDependencies mirrors models::core::task_template::SystemDependencies.
type SystemDependencies struct {
	Primary   string   `json:"primary" rust:"default"`
	Secondary []string `json:"secondary" rust:"default"`
}

// TemplateStepDefinition mirrors models::core::task_template::StepDefinition.
type TemplateStepDefinition struct {
	Name             string             `json:"name"`
	Description      *string            `json:"description"`
	Handler          HandlerDefinition  `json:"handler"`
	StepType         string             `json:"type" rust:"default" enum:"standard,decision,deferred_convergence,batchable,batch_worker"`
	SystemDependency *string            `json:"system_dependency"`
	Dependencies     []string           `json:"dependencies" rust:"default"`
	Retry            RetryConfiguration `json:"retry" rust:"default"`
	TimeoutSeconds   *uint32            `json:"timeout_seconds"`
}

// HandlerDefinition mirrors models::core::task_template::HandlerDefinition.
type HandlerDefinition struct {
	Callable       string           `json:"callable"`
	Method         *string          `json:"method"`
	Resolver       *string          `json:"resolver"`
	Initialization map[string]Value `json:"initialization" rust:"default"`
}

// RetryConfiguration mirrors models::core::task_template::RetryConfiguration.
type RetryConfiguration struct {
	Retryable     bool    `json:"retryable" rust:"default"`
	MaxAttempts   uint32  `json:"max_attempts" rust:"default"`
	Backoff       string  `json:"backoff" rust:"default" enum:"none,linear,exponential,fibonacci"`
	BackoffBaseMs *uint64 `json:"backoff_base_ms"`
	MaxBackoffMs  *uint64 `json:"max_backoff_ms"`
}

// HandlerMetadata mirrors types::base::HandlerMetadata.
type HandlerMetadata struct {
	Namespace              string      `json:"namespace"`
	Name                   string      `json:"name"`
	Version                string      `json:"version"`
	HandlerClass           string      `json:"handler_class"`
	ConfigSchema           *Value      `json:"config_schema"`
	DefaultDependentSystem *string     `json:"default_dependent_system"`
	RegisteredAt           DateTimeUtc `json:"registered_at"`
}

// TemplateValidationResponse mirrors
// types::api::worker::TemplateValidationResponse (the worker's POST
// /v1/templates/{namespace}/{name}/{version}/validate).
type TemplateValidationResponse struct {
	Valid                bool     `json:"valid"`
	Errors               []string `json:"errors"`
	RequiredCapabilities []string `json:"required_capabilities"`
	StepHandlers         []string `json:"step_handlers"`
}

// MetricsResponse mirrors types::web::MetricsResponse (the worker's GET
// /metrics/worker).
type MetricsResponse struct {
	Metrics   map[string]MetricValue `json:"metrics"`
	Timestamp DateTimeUtc            `json:"timestamp"`
	WorkerID  string                 `json:"worker_id"`
}

// MetricValue mirrors types::web::MetricValue.
type MetricValue struct {
	Value      float64           `json:"value"`
	MetricType string            `json:"metric_type"`
	Labels     map[string]string `json:"labels"`
	Help       string            `json:"help"`
}

// DomainEventStats mirrors types::web::DomainEventStats (the worker's GET
// /metrics/events).
type DomainEventStats struct {
	Router       EventRouterStats       `json:"router"`
	InProcessBus InProcessEventBusStats `json:"in_process_bus"`
	CapturedAt   DateTimeUtc            `json:"captured_at"`
	WorkerID     string                 `json:"worker_id"`
}

// EventRouterStats mirrors metrics::worker::EventRouterStats.
type EventRouterStats struct {
	TotalRouted        uint64 `json:"total_routed"`
	DurableRouted      uint64 `json:"durable_routed"`
	FastRouted         uint64 `json:"fast_routed"`
	BroadcastRouted    uint64 `json:"broadcast_routed"`
	FastDeliveryErrors uint64 `json:"fast_delivery_errors"`
	RoutingErrors      uint64 `json:"routing_errors"`
}

// InProcessEventBusStats mirrors metrics::worker::InProcessEventBusStats.
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
