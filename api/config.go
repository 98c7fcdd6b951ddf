package api

import (
	"encoding/json"
	"time"
)

// ConfigResponse is the orchestration server's configuration with every
// secret redacted (GET /config): tasker-core's summary sections, and the
// whole effective configuration under "config".
type ConfigResponse struct {
	Metadata        ConfigMetadata      `json:"metadata"`
	Auth            SafeAuthConfig      `json:"auth"`
	CircuitBreakers SafeCircuitBreaker  `json:"circuit_breakers"`
	DatabasePools   SafeDatabasePools   `json:"database_pools"`
	DeploymentMode  string              `json:"deployment_mode" doc:"How orchestration learns of work: Hybrid (LISTEN/NOTIFY plus polling)"`
	Messaging       SafeMessagingConfig `json:"messaging"`
	Config          json.RawMessage     `json:"config" doc:"The effective configuration (TOML keys), secrets replaced by ***"`
}

// WorkerConfigResponse is a worker's configuration with every secret
// redacted (the worker's GET /config).
type WorkerConfigResponse struct {
	Metadata   ConfigMetadata      `json:"metadata"`
	WorkerID   string              `json:"worker_id"`
	WorkerType string              `json:"worker_type"`
	Auth       SafeAuthConfig      `json:"auth"`
	Messaging  SafeMessagingConfig `json:"messaging"`
	Config     json.RawMessage     `json:"config" doc:"The effective configuration (TOML keys), secrets replaced by ***"`
}

// ConfigMetadata says when and for which environment the answer was made.
type ConfigMetadata struct {
	Timestamp   time.Time `json:"timestamp"`
	Environment string    `json:"environment"`
	Version     string    `json:"version"`
}

// SafeAuthConfig describes authentication without any key or secret.
type SafeAuthConfig struct {
	Enabled            bool     `json:"enabled"`
	VerificationMethod string   `json:"verification_method"`
	JWTIssuer          string   `json:"jwt_issuer"`
	JWTAudience        string   `json:"jwt_audience"`
	APIKeyHeader       string   `json:"api_key_header"`
	APIKeyCount        int      `json:"api_key_count"`
	StrictValidation   bool     `json:"strict_validation"`
	AllowedAlgorithms  []string `json:"allowed_algorithms"`
}

// SafeCircuitBreaker describes the circuit breaker (there is none: Enabled
// is false and the numbers are zero).
type SafeCircuitBreaker struct {
	Enabled          bool   `json:"enabled"`
	FailureThreshold uint32 `json:"failure_threshold"`
	TimeoutSeconds   uint32 `json:"timeout_seconds"`
	SuccessThreshold uint32 `json:"success_threshold"`
}

// SafeDatabasePools describes the database pool the API uses (the
// process's one pool).
type SafeDatabasePools struct {
	WebAPIPoolSize       uint32 `json:"web_api_pool_size"`
	WebAPIMaxConnections uint32 `json:"web_api_max_connections"`
}

// SafeMessagingConfig names the queue backend and the queues in use.
type SafeMessagingConfig struct {
	Backend string   `json:"backend" doc:"postgres or rabbitmq"`
	Queues  []string `json:"queues"`
}
