// Package stepresult defines the step execution result: the JSON a worker
// stores in workflow_steps.results and orchestration reads to decide what
// happens next (docs/handlers.md). Handlers in every language produce it.
package stepresult

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Status values.
const (
	StatusCompleted = "completed"
	StatusFailed    = "failed" // a business failure the handler reported
	StatusError     = "error"  // a system error (panic, timeout, missing handler)
)

// Standard error types.
const (
	ErrorTypePermanent        = "PermanentError"
	ErrorTypeRetryable        = "RetryableError"
	ErrorTypeValidation       = "ValidationError"
	ErrorTypeTimeout          = "TimeoutError"
	ErrorTypeUnexpected       = "UnexpectedError"
	ErrorTypeHandlerNotFound  = "handler_not_found"
	ErrorTypeHandlerPanic     = "handler_panic"
	ErrorTypeHandlerTimeout   = "handler_timeout"
	ErrorTypeWorkerLost       = "worker_lost"
	ErrorTypeInvalidResult    = "invalid_result"
	ErrorTypeManualCompletion = "manual_completion"
)

// Result is a step execution result.
type Result struct {
	StepUUID              uuid.UUID              `json:"step_uuid"`
	Success               bool                   `json:"success"`
	Result                json.RawMessage        `json:"result"`
	Status                string                 `json:"status"`
	Metadata              Metadata               `json:"metadata"`
	Error                 *Error                 `json:"error,omitempty"`
	OrchestrationMetadata *OrchestrationMetadata `json:"orchestration_metadata,omitempty"`
	// DomainEvents are the events the handler published (see DomainEvent).
	DomainEvents []DomainEvent `json:"domain_events,omitempty"`
}

// Metadata describes the execution.
type Metadata struct {
	ExecutionTimeMs int64          `json:"execution_time_ms"`
	Retryable       bool           `json:"retryable"`
	ErrorType       string         `json:"error_type,omitempty"`
	ErrorCode       string         `json:"error_code,omitempty"`
	StartedAt       *time.Time     `json:"started_at,omitempty"`
	CompletedAt     *time.Time     `json:"completed_at,omitempty"`
	WorkerID        string         `json:"worker_id,omitempty"`
	WorkerHostname  string         `json:"worker_hostname,omitempty"`
	HandlerVersion  string         `json:"handler_version,omitempty"`
	Attempt         int            `json:"attempt,omitempty"`
	Custom          map[string]any `json:"custom,omitempty"`
	Context         map[string]any `json:"context,omitempty"`
}

// Error describes a failure.
type Error struct {
	Message    string         `json:"message"`
	ErrorType  string         `json:"error_type"`
	Retryable  bool           `json:"retryable"`
	StatusCode *int           `json:"status_code,omitempty"`
	Backtrace  []string       `json:"backtrace,omitempty"`
	Context    map[string]any `json:"context,omitempty"`
}

// OrchestrationMetadata carries hints for orchestration (Retry-After).
type OrchestrationMetadata struct {
	Headers      map[string]string `json:"headers,omitempty"`
	ErrorContext string            `json:"error_context,omitempty"`
	BackoffHint  *BackoffHint      `json:"backoff_hint,omitempty"`
	Custom       map[string]any    `json:"custom,omitempty"`
}

// BackoffHint is a handler's request for a retry delay.
type BackoffHint struct {
	BackoffType  string         `json:"backoff_type"`
	DelaySeconds float64        `json:"delay_seconds"`
	Context      map[string]any `json:"context,omitempty"`
}

// Success builds a successful result. result is any JSON value.
func Success(step uuid.UUID, result json.RawMessage, custom map[string]any) Result {
	if len(result) == 0 {
		result = json.RawMessage(`{}`)
	}
	return Result{StepUUID: step, Success: true, Result: result, Status: StatusCompleted,
		Metadata: Metadata{Custom: custom}}
}

// Failure builds a failed result.
func Failure(step uuid.UUID, status, message, errorType string, retryable bool) Result {
	return Result{
		StepUUID: step, Success: false, Result: json.RawMessage(`{}`), Status: status,
		Metadata: Metadata{Retryable: retryable, ErrorType: errorType},
		Error:    &Error{Message: message, ErrorType: errorType, Retryable: retryable},
	}
}

// Retryable reports whether the handler said a failure may be retried.
func (r Result) Retryable() bool {
	if r.Success {
		return false
	}
	if r.Error != nil && r.Error.Retryable {
		return true
	}
	return r.Metadata.Retryable
}

// RetryAfter returns the delay the handler asked for: a Retry-After header
// (seconds or an HTTP date) or a backoff hint.
func (r Result) RetryAfter(now time.Time) (time.Duration, bool) {
	if r.OrchestrationMetadata == nil {
		return 0, false
	}
	for k, v := range r.OrchestrationMetadata.Headers {
		if !strings.EqualFold(k, "Retry-After") {
			continue
		}
		v = strings.TrimSpace(v)
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
			return time.Duration(secs * float64(time.Second)), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0), true
		}
	}
	if h := r.OrchestrationMetadata.BackoffHint; h != nil && h.DelaySeconds >= 0 {
		return time.Duration(h.DelaySeconds * float64(time.Second)), true
	}
	return 0, false
}

// Parse decodes a stored result. A result that does not decode is treated as
// a non-retryable failure so it can never make a task hang.
func Parse(raw json.RawMessage) Result {
	var r Result
	if len(raw) == 0 || json.Unmarshal(raw, &r) != nil {
		return Failure(uuid.Nil, StatusError, "stored step result is not a valid execution result",
			ErrorTypeInvalidResult, false)
	}
	return r
}
