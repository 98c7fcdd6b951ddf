package worker

import (
	"errors"
	"maps"
	"time"
)

// Error types the worker and the standard wrappers record (tasker-core's
// names). A handler may use any other string with WithErrorType.
const (
	// ErrorTypeUnexpected is the type of a plain error.
	ErrorTypeUnexpected = "UnexpectedError"
	// ErrorTypePermanent is the type of an error marked with Permanent.
	ErrorTypePermanent = "PermanentError"
	// ErrorTypeRetryable is the type of an error marked with RetryAfter.
	ErrorTypeRetryable = "RetryableError"
	// ErrorTypeValidation is the type of bad input: a task context that
	// does not decode into the handler's input type, or a step
	// configuration that does not decode with Config.
	ErrorTypeValidation = "ValidationError"
	// ErrorTypeTimeout is tasker-core's type for a timeout a handler
	// reports itself (the worker's own step timeout is handler_timeout).
	ErrorTypeTimeout = "TimeoutError"
)

// Error is a handler failure with the classification the worker records
// for it. Build one with the wrappers (Permanent, RetryAfter,
// WithErrorType, WithErrorCode, WithMetadata), which compose in any order,
// or as a literal:
//
//	return out, &worker.Error{Err: err, Type: "PaymentDeclined", Code: "CARD_DECLINED", Permanent: true}
//
// A handler error that has no *Error in its chain (see errors.As) is a
// plain error: the step fails as a retryable UnexpectedError. That is
// tasker-core's rule: a raised exception that is not one of its permanent
// classes is retried. Orchestration retries a retryable failure only while
// the template's retry.retryable allows it and attempts remain.
//
// The message recorded is the handler's error's own message, so wrapping
// with fmt.Errorf("charging %s: %w", id, err) keeps both the context and
// the classification.
type Error struct {
	// Err is the cause. Error returns its message.
	Err error
	// Type is the error type recorded ("" means ErrorTypePermanent for a
	// permanent error, ErrorTypeRetryable for one with a RetryAfter, else
	// ErrorTypeUnexpected).
	Type string
	// Code is an application error code (recorded as error_code).
	Code string
	// Permanent says that running the step again cannot succeed: the step
	// fails without a retry.
	Permanent bool
	// RetryAfter, when positive, asks orchestration to wait this long
	// before the next attempt instead of the template's backoff (capped by
	// backoff.retry_after_cap). Ignored for a permanent error.
	RetryAfter time.Duration
	// Metadata is stored with the failure (as metadata.custom), merged over
	// what the handler set with Step.SetMetadata.
	Metadata map[string]any
}

// Error returns the cause's message.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	if e.Type != "" {
		return "step failed with " + e.Type
	}
	return "step failed"
}

// Unwrap returns the cause, so errors.Is and errors.As see through it.
func (e *Error) Unwrap() error { return e.Err }

// Permanent marks err as permanent: the step fails without a retry, with
// error type PermanentError unless one is set (as River's JobCancel). It
// returns nil for a nil err.
func Permanent(err error) error {
	return annotate(err, func(e *Error) { e.Permanent, e.RetryAfter = true, 0 })
}

// RetryAfter marks err as retryable and asks orchestration to wait d
// before the next attempt instead of the template's backoff; d is capped
// by backoff.retry_after_cap, and d <= 0 leaves the template's backoff in
// charge. The error type is RetryableError unless one is set. The attempt
// counts: the step is retried only while attempts remain. It returns nil
// for a nil err.
func RetryAfter(err error, d time.Duration) error {
	return annotate(err, func(e *Error) { e.Permanent, e.RetryAfter = false, max(d, 0) })
}

// WithErrorType sets the error type recorded for err (for example
// "PaymentDeclined"); it does not change whether err is retried. It
// returns nil for a nil err.
func WithErrorType(err error, errorType string) error {
	return annotate(err, func(e *Error) { e.Type = errorType })
}

// WithErrorCode sets the application error code recorded for err. It
// returns nil for a nil err.
func WithErrorCode(err error, code string) error {
	return annotate(err, func(e *Error) { e.Code = code })
}

// WithMetadata attaches metadata to err, merged over any it already
// carries. It returns nil for a nil err.
func WithMetadata(err error, md map[string]any) error {
	return annotate(err, func(e *Error) {
		if e.Metadata == nil {
			e.Metadata = make(map[string]any, len(md))
		}
		maps.Copy(e.Metadata, md)
	})
}

// Classify returns the classification the worker records for a handler's
// error: that of the first *Error in err's chain (a plain error is a
// retryable UnexpectedError), with the default error type filled in and
// Err set to err itself. It returns nil for a nil err.
func Classify(err error) *Error {
	if err == nil {
		return nil
	}
	c := inherit(err)
	switch {
	case c.Permanent:
		c.RetryAfter = 0
		if c.Type == "" {
			c.Type = ErrorTypePermanent
		}
	case c.Type != "":
	case c.RetryAfter > 0:
		c.Type = ErrorTypeRetryable
	default:
		c.Type = ErrorTypeUnexpected
	}
	return c
}

// annotate wraps err in an *Error carrying the classification err already
// has, changed by set: so the outermost *Error always holds the whole
// classification, whatever order the wrappers were applied in.
func annotate(err error, set func(*Error)) error {
	if err == nil {
		return nil
	}
	e := inherit(err)
	set(e)
	return e
}

// inherit returns an *Error wrapping err with the classification of the
// first *Error in err's chain.
func inherit(err error) *Error {
	e := &Error{Err: err}
	var inner *Error
	if errors.As(err, &inner) && inner != nil {
		e.Type, e.Code, e.Permanent, e.RetryAfter = inner.Type, inner.Code, inner.Permanent, inner.RetryAfter
		e.Metadata = maps.Clone(inner.Metadata)
	}
	return e
}
