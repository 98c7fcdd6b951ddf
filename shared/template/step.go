package template

import "encoding/json"

// Defaults applied while decoding (see the package documentation).
const (
	DefaultHandlerMethod    = "call"
	DefaultMaxAttempts      = 3
	DefaultBackoff          = BackoffExponential
	DefaultBackoffBaseMs    = 1000
	DefaultMaxBackoffMs     = 30000
	DefaultBatchSize        = 1000
	DefaultBatchParallelism = 10
	DefaultCursorField      = "id"
	DefaultSystemDependency = "default"
	DefaultEventCondition   = ConditionSuccess
	DefaultDeliveryMode     = DeliveryDurable
	DefaultFailureStrategy  = FailureContinueOnFailure
	defaultJitter           = true
	defaultRetryable        = true
)

// Limits enforced by Validate.
const (
	MaxAttemptsLimit  = 100       // retry.max_attempts is 0..100
	MaxBackoffLimitMs = 3_600_000 // backoff_base_ms and max_backoff_ms cap
	MaxTimeoutSeconds = 86_400    // timeout_seconds is 0..86400

	maxNamespaceLength    = 29
	maxTemplateNameLength = 255
	maxVersionLength      = 50
	maxStepNameLength     = 128
	maxCallableLength     = 500
	maxLegacyDelaySeconds = MaxBackoffLimitMs / 1000
	maxLifecycleMinutes   = 1<<31 - 1 // stays an int4 in SQL
)

// Step is one node of a template's DAG.
type Step struct {
	Name             string           `json:"name"`
	Description      string           `json:"description,omitempty"`
	Handler          Handler          `json:"handler"`
	Type             StepType         `json:"type"`         // YAML alias key: step_type
	Dependencies     []string         `json:"dependencies"` // YAML alias key: depends_on
	Retry            Retry            `json:"retry"`
	TimeoutSeconds   int              `json:"timeout_seconds,omitempty"` // 0 = unset
	SystemDependency string           `json:"system_dependency,omitempty"`
	PublishesEvents  []PublishedEvent `json:"publishes_events,omitempty"`
	BatchConfig      *BatchConfig     `json:"batch_config,omitempty"`
	// ResultSchema is the JSON Schema of the handler result (tooling only).
	ResultSchema json.RawMessage `json:"result_schema,omitempty"`
	// Composition is tasker-core's declarative handler composition; kept,
	// not interpreted.
	Composition json.RawMessage `json:"composition,omitempty"`
	// Lifecycle is a step-level lifecycle block some tasker-core fixtures
	// carry (max_steps_in_process_minutes, max_retries,
	// backoff_multiplier); kept, not interpreted.
	Lifecycle json.RawMessage `json:"lifecycle,omitempty"`
}

// Handler names the code that runs a step.
type Handler struct {
	// Callable is the handler address: a registry key, a Ruby class path
	// or a Python/TypeScript module path.
	Callable string `json:"callable"`
	// Method is the entry method of multi-method handlers; default "call".
	Method string `json:"method"`
	// Resolver optionally names the resolver that maps Callable to code.
	Resolver string `json:"resolver,omitempty"`
	// Initialization is the step's static configuration, given to the
	// handler as its inputs. Never nil after parsing.
	Initialization map[string]any `json:"initialization"`
}

// StepType says how a step is created and what its handler returns.
type StepType string

// Step types.
const (
	StepStandard            StepType = "standard"
	StepDecision            StepType = "decision"
	StepDeferredConvergence StepType = "deferred_convergence"
	StepBatchable           StepType = "batchable"
	StepBatchWorker         StepType = "batch_worker"
)

// Valid reports whether t is a known step type.
func (t StepType) Valid() bool {
	switch t {
	case StepStandard, StepDecision, StepDeferredConvergence, StepBatchable, StepBatchWorker:
		return true
	}
	return false
}

// Retry is a step's retry policy.
type Retry struct {
	Retryable     bool    `json:"retryable"`       // default true
	MaxAttempts   int     `json:"max_attempts"`    // default 3; 0..100
	Backoff       Backoff `json:"backoff"`         // default exponential
	BackoffBaseMs int     `json:"backoff_base_ms"` // default 1000
	MaxBackoffMs  int     `json:"max_backoff_ms"`  // default 30000
	Jitter        bool    `json:"jitter"`          // our addition; default true
	// InitialDelaySeconds and MaxDelaySeconds are the legacy Ruby keys
	// initial_delay and max_delay. They are kept as written; when the _ms
	// keys are absent they supply BackoffBaseMs and MaxBackoffMs.
	InitialDelaySeconds *float64 `json:"initial_delay,omitempty"`
	MaxDelaySeconds     *float64 `json:"max_delay,omitempty"`
}

// Backoff is the shape of the delay between attempts.
type Backoff string

// Backoff shapes.
const (
	BackoffNone        Backoff = "none"
	BackoffLinear      Backoff = "linear"
	BackoffExponential Backoff = "exponential"
	BackoffFibonacci   Backoff = "fibonacci"
)

// Valid reports whether b is a known backoff shape.
func (b Backoff) Valid() bool {
	switch b {
	case BackoffNone, BackoffLinear, BackoffExponential, BackoffFibonacci:
		return true
	}
	return false
}

// PublishedEvent is a domain event a step publishes.
type PublishedEvent struct {
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	Condition    EventCondition  `json:"condition"` // default success
	Schema       json.RawMessage `json:"schema,omitempty"`
	DeliveryMode DeliveryMode    `json:"delivery_mode"` // default durable
	Publisher    string          `json:"publisher,omitempty"`
}

// EventCondition says which step outcomes publish an event.
type EventCondition string

// Event conditions.
const (
	ConditionSuccess          EventCondition = "success"
	ConditionFailure          EventCondition = "failure"
	ConditionRetryableFailure EventCondition = "retryable_failure"
	ConditionPermanentFailure EventCondition = "permanent_failure"
	ConditionAlways           EventCondition = "always"
)

// Valid reports whether c is a known condition.
func (c EventCondition) Valid() bool {
	switch c {
	case ConditionSuccess, ConditionFailure, ConditionRetryableFailure, ConditionPermanentFailure, ConditionAlways:
		return true
	}
	return false
}

// DeliveryMode says how an event is delivered.
type DeliveryMode string

// Delivery modes.
const (
	DeliveryDurable   DeliveryMode = "durable"
	DeliveryFast      DeliveryMode = "fast"
	DeliveryBroadcast DeliveryMode = "broadcast"
)

// Valid reports whether m is a known delivery mode.
func (m DeliveryMode) Valid() bool {
	return m == DeliveryDurable || m == DeliveryFast || m == DeliveryBroadcast
}

// BatchConfig configures batch processing for batchable and batch_worker
// steps.
type BatchConfig struct {
	BatchSize       int             `json:"batch_size"`      // default 1000
	Parallelism     int             `json:"parallelism"`     // default 10
	CursorField     string          `json:"cursor_field"`    // default "id"
	WorkerTemplate  string          `json:"worker_template"` // required: a batch_worker step
	FailureStrategy FailureStrategy `json:"failure_strategy"`
}

// FailureStrategy says what a failed batch worker means for its batch.
type FailureStrategy string

// Failure strategies.
const (
	FailureContinueOnFailure FailureStrategy = "continue_on_failure"
	FailureFailFast          FailureStrategy = "fail_fast"
	FailureIsolate           FailureStrategy = "isolate"
)

// Valid reports whether s is a known failure strategy.
func (s FailureStrategy) Valid() bool {
	return s == FailureContinueOnFailure || s == FailureFailFast || s == FailureIsolate
}
