package corecompat

// Mirrors of crates/tasker-shared/src/types/api/orchestration.rs and the
// models it embeds: what tasker-core's OrchestrationApiClient decodes.

// TaskResponse mirrors types::api::orchestration::TaskResponse (POST and
// GET /v1/tasks/{uuid}, DELETE /v1/tasks/{uuid}, items of GET /v1/tasks).
type TaskResponse struct {
	TaskUUID             string                `json:"task_uuid"`
	Name                 string                `json:"name"`
	Namespace            string                `json:"namespace"`
	Version              string                `json:"version"`
	Status               string                `json:"status"`
	CreatedAt            DateTimeUtc           `json:"created_at"`
	UpdatedAt            DateTimeUtc           `json:"updated_at"`
	CompletedAt          *DateTimeUtc          `json:"completed_at"`
	Context              Value                 `json:"context"`
	Initiator            string                `json:"initiator"`
	SourceSystem         string                `json:"source_system"`
	Reason               string                `json:"reason"`
	Priority             *int32                `json:"priority"`
	Tags                 *[]string             `json:"tags"`
	CorrelationID        Uuid                  `json:"correlation_id"`
	ParentCorrelationID  *Uuid                 `json:"parent_correlation_id"`
	TotalSteps           int64                 `json:"total_steps"`
	PendingSteps         int64                 `json:"pending_steps"`
	InProgressSteps      int64                 `json:"in_progress_steps"`
	CompletedSteps       int64                 `json:"completed_steps"`
	FailedSteps          int64                 `json:"failed_steps"`
	ReadySteps           int64                 `json:"ready_steps"`
	ExecutionStatus      string                `json:"execution_status"`
	RecommendedAction    string                `json:"recommended_action"`
	CompletionPercentage float64               `json:"completion_percentage"`
	HealthStatus         string                `json:"health_status"`
	Steps                []StepReadinessStatus `json:"steps"`
}

// StepReadinessStatus mirrors database::sql_functions::StepReadinessStatus
// (the items of TaskResponse.steps).
type StepReadinessStatus struct {
	WorkflowStepUUID      Uuid           `json:"workflow_step_uuid"`
	TaskUUID              Uuid           `json:"task_uuid"`
	NamedStepUUID         Uuid           `json:"named_step_uuid"`
	Name                  string         `json:"name"`
	CurrentState          string         `json:"current_state"`
	DependenciesSatisfied bool           `json:"dependencies_satisfied"`
	RetryEligible         bool           `json:"retry_eligible"`
	ReadyForExecution     bool           `json:"ready_for_execution"`
	LastFailureAt         *NaiveDateTime `json:"last_failure_at"`
	NextRetryAt           *NaiveDateTime `json:"next_retry_at"`
	TotalParents          int32          `json:"total_parents"`
	CompletedParents      int32          `json:"completed_parents"`
	Attempts              int32          `json:"attempts"`
	MaxAttempts           int32          `json:"max_attempts"`
	BackoffRequestSeconds *int32         `json:"backoff_request_seconds"`
	LastAttemptedAt       *NaiveDateTime `json:"last_attempted_at"`
}

// TaskListResponse mirrors types::api::orchestration::TaskListResponse
// (GET /v1/tasks).
type TaskListResponse struct {
	Tasks      []TaskResponse `json:"tasks"`
	Pagination PaginationInfo `json:"pagination"`
}

// PaginationInfo mirrors models::core::task::PaginationInfo.
type PaginationInfo struct {
	Page        uint32 `json:"page"`
	PerPage     uint32 `json:"per_page"`
	TotalCount  uint64 `json:"total_count"`
	TotalPages  uint32 `json:"total_pages"`
	HasNext     bool   `json:"has_next"`
	HasPrevious bool   `json:"has_previous"`
}

// StepResponse mirrors types::api::orchestration::StepResponse (GET
// /v1/tasks/{uuid}/workflow_steps and …/{step_uuid}, PATCH …/{step_uuid}).
type StepResponse struct {
	StepUUID              string  `json:"step_uuid"`
	TaskUUID              string  `json:"task_uuid"`
	Name                  string  `json:"name"`
	CreatedAt             string  `json:"created_at"`
	UpdatedAt             string  `json:"updated_at"`
	CompletedAt           *string `json:"completed_at"`
	Results               *Value  `json:"results"`
	CurrentState          string  `json:"current_state"`
	DependenciesSatisfied bool    `json:"dependencies_satisfied"`
	RetryEligible         bool    `json:"retry_eligible"`
	ReadyForExecution     bool    `json:"ready_for_execution"`
	TotalParents          int32   `json:"total_parents"`
	CompletedParents      int32   `json:"completed_parents"`
	Attempts              int32   `json:"attempts"`
	MaxAttempts           int32   `json:"max_attempts"`
	LastFailureAt         *string `json:"last_failure_at"`
	NextRetryAt           *string `json:"next_retry_at"`
	LastAttemptedAt       *string `json:"last_attempted_at"`
}

// StepAuditResponse mirrors types::api::orchestration::StepAuditResponse
// (items of GET /v1/tasks/{uuid}/workflow_steps/{step_uuid}/audit).
type StepAuditResponse struct {
	AuditUUID        string  `json:"audit_uuid"`
	WorkflowStepUUID string  `json:"workflow_step_uuid"`
	TransitionUUID   string  `json:"transition_uuid"`
	TaskUUID         string  `json:"task_uuid"`
	RecordedAt       string  `json:"recorded_at"`
	WorkerUUID       *string `json:"worker_uuid"`
	CorrelationID    *string `json:"correlation_id"`
	Success          bool    `json:"success"`
	ExecutionTimeMs  *int64  `json:"execution_time_ms"`
	Result           *Value  `json:"result"`
	StepName         string  `json:"step_name"`
	FromState        *string `json:"from_state"`
	ToState          string  `json:"to_state"`
}

// HealthResponse mirrors types::api::orchestration::HealthResponse (/health,
// /health/live, /health/ready as the client decodes them).
type HealthResponse struct {
	Status    string `json:"status"`
	Timestamp string `json:"timestamp"`
}

// DetailedHealthResponse mirrors
// types::api::orchestration::DetailedHealthResponse (/health/detailed).
type DetailedHealthResponse struct {
	Status    string               `json:"status"`
	Timestamp string               `json:"timestamp"`
	Checks    DetailedHealthChecks `json:"checks"`
	Info      HealthInfo           `json:"info"`
}

// DetailedHealthChecks mirrors
// types::api::orchestration::DetailedHealthChecks.
type DetailedHealthChecks struct {
	WebDatabase           HealthCheck `json:"web_database"`
	OrchestrationDatabase HealthCheck `json:"orchestration_database"`
	CircuitBreaker        HealthCheck `json:"circuit_breaker"`
	OrchestrationSystem   HealthCheck `json:"orchestration_system"`
	CommandProcessor      HealthCheck `json:"command_processor"`
	PoolUtilization       HealthCheck `json:"pool_utilization"`
	QueueDepth            HealthCheck `json:"queue_depth"`
	ChannelSaturation     HealthCheck `json:"channel_saturation"`
}

// HealthCheck mirrors types::api::orchestration::HealthCheck.
type HealthCheck struct {
	Status     string  `json:"status"`
	Message    *string `json:"message"`
	DurationMs uint64  `json:"duration_ms"`
}

// HealthInfo mirrors types::api::orchestration::HealthInfo.
type HealthInfo struct {
	Version                       string               `json:"version"`
	Environment                   string               `json:"environment"`
	OperationalState              string               `json:"operational_state"`
	WebDatabasePoolSize           uint32               `json:"web_database_pool_size"`
	OrchestrationDatabasePoolSize uint32               `json:"orchestration_database_pool_size"`
	CircuitBreakerState           string               `json:"circuit_breaker_state"`
	PoolUtilization               *PoolUtilizationInfo `json:"pool_utilization"`
}

// PoolUtilizationInfo mirrors types::api::health::PoolUtilizationInfo.
type PoolUtilizationInfo struct {
	TaskerPool PoolDetail `json:"tasker_pool"`
	PgmqPool   PoolDetail `json:"pgmq_pool"`
}

// PoolDetail mirrors types::api::health::PoolDetail.
type PoolDetail struct {
	ActiveConnections    uint32  `json:"active_connections"`
	IdleConnections      uint32  `json:"idle_connections"`
	MaxConnections       uint32  `json:"max_connections"`
	UtilizationPercent   float64 `json:"utilization_percent"`
	TotalAcquires        uint64  `json:"total_acquires"`
	SlowAcquires         uint64  `json:"slow_acquires"`
	AcquireErrors        uint64  `json:"acquire_errors"`
	AverageAcquireTimeMs float64 `json:"average_acquire_time_ms"`
	MaxAcquireTimeMs     float64 `json:"max_acquire_time_ms"`
}

// PerformanceMetrics mirrors types::api::orchestration::PerformanceMetrics
// (GET /v1/analytics/performance).
type PerformanceMetrics struct {
	TotalTasks                 int64   `json:"total_tasks"`
	ActiveTasks                int64   `json:"active_tasks"`
	CompletedTasks             int64   `json:"completed_tasks"`
	FailedTasks                int64   `json:"failed_tasks"`
	CompletionRate             float64 `json:"completion_rate"`
	ErrorRate                  float64 `json:"error_rate"`
	AverageTaskDurationSeconds float64 `json:"average_task_duration_seconds"`
	AverageStepDurationSeconds float64 `json:"average_step_duration_seconds"`
	TasksPerHour               int64   `json:"tasks_per_hour"`
	StepsPerHour               int64   `json:"steps_per_hour"`
	SystemHealthScore          float64 `json:"system_health_score"`
	AnalysisPeriodStart        string  `json:"analysis_period_start"`
	CalculatedAt               string  `json:"calculated_at"`
}

// BottleneckAnalysis mirrors types::api::orchestration::BottleneckAnalysis
// (GET /v1/analytics/bottlenecks).
type BottleneckAnalysis struct {
	SlowSteps           []SlowStepInfo      `json:"slow_steps"`
	SlowTasks           []SlowTaskInfo      `json:"slow_tasks"`
	ResourceUtilization ResourceUtilization `json:"resource_utilization"`
	Recommendations     []string            `json:"recommendations"`
}

// SlowStepInfo mirrors types::api::orchestration::SlowStepInfo.
type SlowStepInfo struct {
	NamespaceName          string  `json:"namespace_name"`
	TaskName               string  `json:"task_name"`
	Version                string  `json:"version"`
	StepName               string  `json:"step_name"`
	AverageDurationSeconds float64 `json:"average_duration_seconds"`
	MaxDurationSeconds     float64 `json:"max_duration_seconds"`
	ExecutionCount         int64   `json:"execution_count"`
	ErrorCount             int64   `json:"error_count"`
	ErrorRate              float64 `json:"error_rate"`
	LastExecutedAt         *string `json:"last_executed_at"`
}

// SlowTaskInfo mirrors types::api::orchestration::SlowTaskInfo.
type SlowTaskInfo struct {
	NamespaceName          string  `json:"namespace_name"`
	TaskName               string  `json:"task_name"`
	Version                string  `json:"version"`
	AverageDurationSeconds float64 `json:"average_duration_seconds"`
	MaxDurationSeconds     float64 `json:"max_duration_seconds"`
	ExecutionCount         int64   `json:"execution_count"`
	AverageStepCount       float64 `json:"average_step_count"`
	ErrorCount             int64   `json:"error_count"`
	ErrorRate              float64 `json:"error_rate"`
	LastExecutedAt         *string `json:"last_executed_at"`
}

// ResourceUtilization mirrors types::api::orchestration::ResourceUtilization.
type ResourceUtilization struct {
	DatabasePoolUtilization float64            `json:"database_pool_utilization"`
	SystemHealth            SystemHealthCounts `json:"system_health"`
}

// SystemHealthCounts mirrors database::sql_functions::SystemHealthCounts.
type SystemHealthCounts struct {
	PendingTasks                         int64 `json:"pending_tasks"`
	InitializingTasks                    int64 `json:"initializing_tasks"`
	EnqueuingStepsTasks                  int64 `json:"enqueuing_steps_tasks"`
	StepsInProcessTasks                  int64 `json:"steps_in_process_tasks"`
	EvaluatingResultsTasks               int64 `json:"evaluating_results_tasks"`
	WaitingForDependenciesTasks          int64 `json:"waiting_for_dependencies_tasks"`
	WaitingForRetryTasks                 int64 `json:"waiting_for_retry_tasks"`
	BlockedByFailuresTasks               int64 `json:"blocked_by_failures_tasks"`
	CompleteTasks                        int64 `json:"complete_tasks"`
	ErrorTasks                           int64 `json:"error_tasks"`
	CancelledTasks                       int64 `json:"cancelled_tasks"`
	ResolvedManuallyTasks                int64 `json:"resolved_manually_tasks"`
	TotalTasks                           int64 `json:"total_tasks"`
	PendingSteps                         int64 `json:"pending_steps"`
	EnqueuedSteps                        int64 `json:"enqueued_steps"`
	InProgressSteps                      int64 `json:"in_progress_steps"`
	EnqueuedForOrchestrationSteps        int64 `json:"enqueued_for_orchestration_steps"`
	EnqueuedAsErrorForOrchestrationSteps int64 `json:"enqueued_as_error_for_orchestration_steps"`
	WaitingForRetrySteps                 int64 `json:"waiting_for_retry_steps"`
	CompleteSteps                        int64 `json:"complete_steps"`
	ErrorSteps                           int64 `json:"error_steps"`
	CancelledSteps                       int64 `json:"cancelled_steps"`
	ResolvedManuallySteps                int64 `json:"resolved_manually_steps"`
	TotalSteps                           int64 `json:"total_steps"`
}

// OrchestrationConfigResponse mirrors
// types::api::orchestration::OrchestrationConfigResponse (GET /config).
type OrchestrationConfigResponse struct {
	Metadata        ConfigMetadata           `json:"metadata"`
	Auth            SafeAuthConfig           `json:"auth"`
	CircuitBreakers SafeCircuitBreakerConfig `json:"circuit_breakers"`
	DatabasePools   SafeDatabasePoolConfig   `json:"database_pools"`
	DeploymentMode  string                   `json:"deployment_mode"`
	Messaging       SafeMessagingConfig      `json:"messaging"`
}

// WorkerConfigResponse mirrors types::api::orchestration::WorkerConfigResponse
// (the worker's GET /config).
type WorkerConfigResponse struct {
	Metadata   ConfigMetadata      `json:"metadata"`
	WorkerID   string              `json:"worker_id"`
	WorkerType string              `json:"worker_type"`
	Auth       SafeAuthConfig      `json:"auth"`
	Messaging  SafeMessagingConfig `json:"messaging"`
}

// ConfigMetadata mirrors types::api::orchestration::ConfigMetadata.
type ConfigMetadata struct {
	Timestamp   DateTimeUtc `json:"timestamp"`
	Environment string      `json:"environment"`
	Version     string      `json:"version"`
}

// SafeAuthConfig mirrors types::api::orchestration::SafeAuthConfig.
type SafeAuthConfig struct {
	Enabled            bool     `json:"enabled"`
	VerificationMethod string   `json:"verification_method"`
	JWTIssuer          string   `json:"jwt_issuer"`
	JWTAudience        string   `json:"jwt_audience"`
	APIKeyHeader       string   `json:"api_key_header"`
	APIKeyCount        uint64   `json:"api_key_count"`
	StrictValidation   bool     `json:"strict_validation"`
	AllowedAlgorithms  []string `json:"allowed_algorithms"`
}

// SafeCircuitBreakerConfig mirrors
// types::api::orchestration::SafeCircuitBreakerConfig.
type SafeCircuitBreakerConfig struct {
	Enabled          bool   `json:"enabled"`
	FailureThreshold uint32 `json:"failure_threshold"`
	TimeoutSeconds   uint32 `json:"timeout_seconds"`
	SuccessThreshold uint32 `json:"success_threshold"`
}

// SafeDatabasePoolConfig mirrors
// types::api::orchestration::SafeDatabasePoolConfig.
type SafeDatabasePoolConfig struct {
	WebAPIPoolSize       uint32 `json:"web_api_pool_size"`
	WebAPIMaxConnections uint32 `json:"web_api_max_connections"`
}

// SafeMessagingConfig mirrors types::api::orchestration::SafeMessagingConfig.
type SafeMessagingConfig struct {
	Backend string   `json:"backend"`
	Queues  []string `json:"queues"`
}

// TaskSummaryResponse mirrors types::api::orchestration::TaskSummaryResponse
// (GET /v1/tasks/{uuid}/summary).
type TaskSummaryResponse struct {
	Task     TaskSummaryMetadata `json:"task"`
	Template TemplateSummary     `json:"template"`
	Steps    []StepSummaryInfo   `json:"steps"`
	DLQ      DlqSummaryInfo      `json:"dlq"`
	Links    TaskSummaryLinks    `json:"links"`
}

// TaskSummaryMetadata mirrors types::api::orchestration::TaskSummaryMetadata.
type TaskSummaryMetadata struct {
	TaskUUID             string       `json:"task_uuid"`
	Name                 string       `json:"name"`
	Namespace            string       `json:"namespace"`
	Version              string       `json:"version"`
	Status               string       `json:"status"`
	CreatedAt            DateTimeUtc  `json:"created_at"`
	UpdatedAt            DateTimeUtc  `json:"updated_at"`
	CompletedAt          *DateTimeUtc `json:"completed_at"`
	Initiator            string       `json:"initiator"`
	SourceSystem         string       `json:"source_system"`
	Reason               string       `json:"reason"`
	CorrelationID        Uuid         `json:"correlation_id"`
	TotalSteps           int64        `json:"total_steps"`
	PendingSteps         int64        `json:"pending_steps"`
	InProgressSteps      int64        `json:"in_progress_steps"`
	CompletedSteps       int64        `json:"completed_steps"`
	FailedSteps          int64        `json:"failed_steps"`
	CompletionPercentage float64      `json:"completion_percentage"`
	HealthStatus         string       `json:"health_status"`
	ExecutionStatus      string       `json:"execution_status"`
	RecommendedAction    *string      `json:"recommended_action"`
}

// TemplateSummary mirrors types::api::orchestration::TemplateSummary (the
// summary's template part; not the template list's TemplateSummary).
type TemplateSummary struct {
	Steps []TemplateStepSummary `json:"steps"`
}

// TemplateStepSummary mirrors types::api::orchestration::TemplateStepSummary.
type TemplateStepSummary struct {
	Name         string   `json:"name"`
	StepType     string   `json:"step_type"`
	Handler      string   `json:"handler"`
	Dependencies []string `json:"dependencies"`
	Retryable    bool     `json:"retryable"`
	MaxAttempts  uint32   `json:"max_attempts"`
}

// StepSummaryInfo mirrors types::api::orchestration::StepSummaryInfo.
type StepSummaryInfo struct {
	StepUUID              string            `json:"step_uuid"`
	Name                  string            `json:"name"`
	CurrentState          string            `json:"current_state"`
	CreatedAt             *string           `json:"created_at"`
	CompletedAt           *string           `json:"completed_at"`
	LastAttemptedAt       *string           `json:"last_attempted_at"`
	Attempts              int32             `json:"attempts"`
	MaxAttempts           int32             `json:"max_attempts"`
	DependenciesSatisfied bool              `json:"dependencies_satisfied"`
	RetryEligible         bool              `json:"retry_eligible"`
	Error                 *StepErrorSummary `json:"error"`
}

// StepErrorSummary mirrors types::api::orchestration::StepErrorSummary.
type StepErrorSummary struct {
	ErrorType  *string `json:"error_type"`
	Retryable  bool    `json:"retryable"`
	StatusCode *uint16 `json:"status_code"`
}

// DlqSummaryInfo mirrors types::api::orchestration::DlqSummaryInfo.
type DlqSummaryInfo struct {
	InDLQ            bool    `json:"in_dlq"`
	DlqReason        *string `json:"dlq_reason"`
	ResolutionStatus *string `json:"resolution_status"`
}

// TaskSummaryLinks mirrors types::api::orchestration::TaskSummaryLinks.
type TaskSummaryLinks struct {
	Task  string `json:"task"`
	Steps string `json:"steps"`
	DLQ   string `json:"dlq"`
}
