package worker

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/tasker-go/tasker/shared/stepresult"
)

// Result is the outcome of one run of a step, as executors report it and
// the worker records it: a success carrying the value the handler
// returned, or a failure with its message and classification. Typed
// handlers never build one (they return (Out, error)); executors that host
// handlers outside Go make one with ResultOf or DecodeResult.
type Result struct {
	success    bool
	value      any
	metadata   map[string]any
	message    string
	errorType  string
	errorCode  string
	retryable  bool
	retryAfter *time.Duration
	backtrace  []string
	// system marks failures the worker made (panic, timeout, missing
	// handler): stored with status "error" instead of "failed".
	system bool
	// eventRequests are the events an executor reported in its result
	// JSON; events the published events the result carries.
	eventRequests []EventRequest
	events        []stepresult.DomainEvent
}

// ResultOf is the result a worker records for a handler that returned value
// and err: a success carrying value (any JSON-encodable value; nil is
// stored as {}, a json.RawMessage as it is, an empty one as {}) when err is nil, else the
// failure Classify(err) describes, with err's message.
func ResultOf(value any, err error) Result {
	if err == nil {
		return success(value, nil)
	}
	c := Classify(err)
	msg := err.Error()
	if msg == "" {
		msg = "step failed with " + c.Type
	}
	r := failure(msg, c.Type, !c.Permanent).withErrorCode(c.Code)
	if c.RetryAfter > 0 {
		r = r.withRetryAfter(c.RetryAfter)
	}
	if len(c.Metadata) > 0 {
		r = r.withMetadata(c.Metadata)
	}
	return r
}

// success is a successful result.
func success(value any, metadata map[string]any) Result {
	return Result{success: true, value: value, metadata: metadata}
}

// failure is a failed result.
func failure(message, errorType string, retryable bool) Result {
	return Result{message: message, errorType: errorType, retryable: retryable}
}

// systemFailure is a failure the worker reports on a handler's behalf.
func systemFailure(message, errorType string, retryable bool) Result {
	return Result{message: message, errorType: errorType, retryable: retryable, system: true}
}

func (r Result) withRetryAfter(d time.Duration) Result {
	r.retryAfter = &d
	return r
}

func (r Result) withErrorCode(code string) Result {
	r.errorCode = code
	return r
}

func (r Result) withBacktrace(lines []string) Result {
	r.backtrace = lines
	return r
}

// withMetadata merges md into the result's metadata (md wins) without
// changing r's map.
func (r Result) withMetadata(md map[string]any) Result {
	merged := make(map[string]any, len(r.metadata)+len(md))
	maps.Copy(merged, r.metadata)
	maps.Copy(merged, md)
	r.metadata = merged
	return r
}

// IsSuccess reports whether r is a success.
func (r Result) IsSuccess() bool { return r.success }

// Value returns the success value.
func (r Result) Value() any { return r.value }

// Message returns the failure message.
func (r Result) Message() string { return r.message }

// ErrorType returns the failure's error type.
func (r Result) ErrorType() string { return r.errorType }

// ErrorCode returns the failure's error code.
func (r Result) ErrorCode() string { return r.errorCode }

// Retryable reports whether a failure may be retried.
func (r Result) Retryable() bool { return r.retryable }

// RetryAfter returns the requested retry delay, if any.
func (r Result) RetryAfter() (time.Duration, bool) {
	if r.retryAfter == nil {
		return 0, false
	}
	return *r.retryAfter, true
}

// Metadata returns the handler metadata.
func (r Result) Metadata() map[string]any { return r.metadata }

// Backtrace returns the failure's stack trace, if any.
func (r Result) Backtrace() []string { return r.backtrace }

// encodeValue turns a success value into JSON.
func encodeValue(v any) (json.RawMessage, error) {
	if v == nil {
		return json.RawMessage(`{}`), nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		if len(raw) == 0 {
			return json.RawMessage(`{}`), nil
		}
		if !json.Valid(raw) {
			return nil, fmt.Errorf("result is not valid JSON")
		}
		return raw, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding result: %w", err)
	}
	return b, nil
}
