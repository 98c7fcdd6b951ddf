package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tasker-go/tasker/shared/stepresult"
)

// resultJSON is what DecodeResult reads: tasker-core's StepExecutionResult
// and the older, flatter shape.
type resultJSON struct {
	Success               *bool                             `json:"success"`
	Result                json.RawMessage                   `json:"result"`
	Status                string                            `json:"status"`
	Metadata              map[string]json.RawMessage        `json:"metadata"`
	Error                 *errorJSON                        `json:"error"`
	ErrorMessage          string                            `json:"error_message"`
	OrchestrationMetadata *stepresult.OrchestrationMetadata `json:"orchestration_metadata"`
	RetryAfterSeconds     *float64                          `json:"retry_after_seconds"`
	DomainEvents          []EventRequest                    `json:"domain_events"`
}

type errorJSON struct {
	Message    string          `json:"message"`
	ErrorType  string          `json:"error_type"`
	ErrorCode  string          `json:"error_code"`
	Retryable  *bool           `json:"retryable"`
	Backtrace  json.RawMessage `json:"backtrace"`
	StackTrace string          `json:"stack_trace"`
}

// executionMetadataKeys are the fields of a StepExecutionResult's
// "metadata" that describe the execution rather than carry the handler's
// own metadata.
var executionMetadataKeys = map[string]bool{
	"execution_time_ms": true, "handler_version": true, "retryable": true, "completed_at": true,
	"worker_id": true, "worker_hostname": true, "started_at": true, "custom": true, "error_code": true,
	"error_type": true, "context": true, "attempt": true, "error_message": true, "message": true,
}

// DecodeResult reads a handler result from JSON, as foreign handlers (C
// ABI, WASM) return it. It reads tasker-core's StepExecutionResult:
//
//	{"step_uuid": "...", "success": false, "result": <any JSON>, "status": "failed",
//	 "metadata": {"retryable": true, "error_type": "...", "error_code": "...", "custom": {...}, ...},
//	 "error": {"message": "...", "error_type": "RetryableError", "retryable": true, "backtrace": ["..."]},
//	 "orchestration_metadata": {"backoff_hint": {"backoff_type": "ServerRequested", "delay_seconds": 5}}}
//
// and the older shape
//
//	{"success": false, "result": ..., "metadata": {...},
//	 "error": {"message", "error_type", "error_code", "retryable", "backtrace"},
//	 "retry_after_seconds": 30}
//
// Either shape may carry "domain_events": [{"event_name": "...", "payload":
// {...}}], events the handler published (see StepContext.PublishEvent); the
// worker checks them against the step's declarations when it stores the
// result.
//
// "success" is required. A failure's message is error.message, else the
// top-level "error_message", metadata.error_message or metadata.message,
// else one made from its error type; with none of these the result is
// invalid. The failure is retryable per error.retryable, else
// metadata.retryable, else a status of "permanent_error" says no, else
// yes. Its error type and code come from error, else metadata; the
// backtrace from error.backtrace (a list, or one string of lines) or
// error.stack_trace. The Retry-After is retry_after_seconds, else
// orchestration_metadata (a Retry-After header or backoff_hint
// .delay_seconds). Handler metadata is metadata.custom, else the keys of
// metadata that are not execution fields. Unknown keys are ignored.
//
// Errors wrap ErrMalformedJSON (not JSON, not UTF-8) or ErrInvalidResult.
func DecodeResult(data []byte) (Result, error) {
	if !utf8.Valid(data) || !json.Valid(data) {
		return Result{}, fmt.Errorf("decoding handler result: %w", ErrMalformedJSON)
	}
	var rj resultJSON
	if err := json.Unmarshal(data, &rj); err != nil {
		return Result{}, invalidResult("%s", jsonFieldError(err))
	}
	if rj.Success == nil {
		return Result{}, invalidResult(`"success" is required`)
	}
	md, err := readMetadata(rj.Metadata)
	if err != nil {
		return Result{}, err
	}
	var r Result
	if *rj.Success {
		var value any
		if len(rj.Result) > 0 {
			value = rj.Result
		}
		r = success(value, md.custom)
	} else if r, err = readFailure(&rj, md); err != nil {
		return Result{}, err
	}
	switch {
	case rj.RetryAfterSeconds != nil:
		if *rj.RetryAfterSeconds < 0 {
			return Result{}, invalidResult("retry_after_seconds must not be negative")
		}
		r = r.withRetryAfter(secondsDuration(*rj.RetryAfterSeconds))
	case rj.OrchestrationMetadata != nil:
		if h := rj.OrchestrationMetadata.BackoffHint; h != nil && h.DelaySeconds < 0 {
			return Result{}, invalidResult("orchestration_metadata.backoff_hint.delay_seconds must not be negative")
		}
		sr := stepresult.Result{OrchestrationMetadata: rj.OrchestrationMetadata}
		if d, ok := sr.RetryAfter(time.Now()); ok {
			r = r.withRetryAfter(d)
		}
	}
	for i, e := range rj.DomainEvents {
		if e.Name == "" {
			return Result{}, invalidResult("domain_events[%d]: event_name is required", i)
		}
	}
	r.eventRequests = rj.DomainEvents
	return r, nil
}

// readFailure builds the failure of a result whose "success" is false.
func readFailure(rj *resultJSON, md resultMetadata) (Result, error) {
	e := rj.Error
	if e == nil {
		e = &errorJSON{}
	}
	errorType := firstOf(e.ErrorType, md.errorType)
	message := firstOf(e.Message, rj.ErrorMessage, md.message)
	if message == "" && errorType != "" {
		message = "step failed with " + errorType
	}
	if message == "" {
		return Result{}, invalidResult(`a failure needs "error.message"`)
	}
	retryable := true
	switch {
	case e.Retryable != nil:
		retryable = *e.Retryable
	case md.retryable != nil:
		retryable = *md.retryable
	case rj.Status == "permanent_error":
		retryable = false
	}
	backtrace, err := readBacktrace(e)
	if err != nil {
		return Result{}, err
	}
	r := failure(message, errorType, retryable).withErrorCode(firstOf(e.ErrorCode, md.errorCode)).withBacktrace(backtrace)
	if len(md.custom) > 0 {
		r = r.withMetadata(md.custom)
	}
	return r, nil
}

func invalidResult(format string, args ...any) error {
	return fmt.Errorf("decoding handler result: %w: %s", ErrInvalidResult, fmt.Sprintf(format, args...))
}

// jsonFieldError says which field had the wrong type.
func jsonFieldError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			return fmt.Sprintf("want a JSON object, got %s", te.Value)
		}
		return fmt.Sprintf("%q must not be %s", field, te.Value)
	}
	return err.Error()
}

// resultMetadata is what DecodeResult takes from "metadata".
type resultMetadata struct {
	custom               map[string]any
	retryable            *bool
	errorType, errorCode string
	message              string
}

func readMetadata(m map[string]json.RawMessage) (resultMetadata, error) {
	var md resultMetadata
	if len(m) == 0 {
		return md, nil
	}
	str := func(key string) (string, error) {
		raw, ok := m[key]
		if !ok || string(raw) == "null" {
			return "", nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", invalidResult("metadata.%s must be a string", key)
		}
		return s, nil
	}
	var err error
	if md.errorType, err = str("error_type"); err != nil {
		return md, err
	}
	if md.errorCode, err = str("error_code"); err != nil {
		return md, err
	}
	msg1, err := str("error_message")
	if err != nil {
		return md, err
	}
	msg2, err := str("message")
	if err != nil {
		return md, err
	}
	md.message = firstOf(msg1, msg2)
	if raw, ok := m["retryable"]; ok && string(raw) != "null" {
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return md, invalidResult("metadata.retryable must be a boolean")
		}
		md.retryable = &b
	}
	if raw, ok := m["custom"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &md.custom); err != nil {
			return md, invalidResult("metadata.custom must be an object")
		}
		return md, nil
	}
	for k, raw := range m {
		if executionMetadataKeys[k] {
			continue
		}
		var v any
		_ = json.Unmarshal(raw, &v) // valid JSON: the whole document was
		if md.custom == nil {
			md.custom = map[string]any{}
		}
		md.custom[k] = v
	}
	return md, nil
}

func readBacktrace(e *errorJSON) ([]string, error) {
	raw := e.Backtrace
	if len(raw) == 0 || string(raw) == "null" {
		if e.StackTrace != "" {
			return strings.Split(strings.TrimRight(e.StackTrace, "\n"), "\n"), nil
		}
		return nil, nil
	}
	var lines []string
	if json.Unmarshal(raw, &lines) == nil {
		return lines, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return strings.Split(strings.TrimRight(one, "\n"), "\n"), nil
	}
	return nil, invalidResult("error.backtrace must be a list of strings or a string")
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// secondsDuration converts seconds to a Duration, saturating instead of
// overflowing.
func secondsDuration(s float64) time.Duration {
	const maxSeconds = float64(math.MaxInt64 / int64(time.Second))
	if s >= maxSeconds {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(s * float64(time.Second))
}
