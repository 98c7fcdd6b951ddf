package guest

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
)

// Handler runs one step: it returns the value dependants read (any value
// encoding/json encodes; a json.RawMessage is passed on as it is, without
// encoding or checking it) or an error that fails the step.
type Handler func(step *Step) (any, error)

// Error classifies a failure: by default a handler's error is retryable,
// of error type RetryableError. Build one with Permanent, WithErrorType or
// RetryAfter, or return it directly.
type Error struct {
	Err       error
	Type      string
	Code      string
	Permanent bool
	// RetryAfterSeconds asks orchestration to wait this long before the
	// next attempt (0: the template's backoff).
	RetryAfterSeconds float64
}

func (e *Error) Error() string {
	if e.Err == nil {
		return "step failed"
	}
	return e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.Err = err
		return &c
	}
	return &Error{Err: err}
}

// Permanent marks err as permanent: the step fails without a retry.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	c := classify(err)
	c.Permanent = true
	return c
}

// WithErrorType sets the error type recorded for err.
func WithErrorType(err error, errorType string) error {
	if err == nil {
		return nil
	}
	c := classify(err)
	c.Type = errorType
	return c
}

// RetryAfter marks err as retryable after the given number of seconds.
func RetryAfter(err error, seconds float64) error {
	if err == nil {
		return nil
	}
	c := classify(err)
	c.Permanent, c.RetryAfterSeconds = false, seconds
	return c
}

type resultJSON struct {
	Success           bool       `json:"success"`
	Result            any        `json:"result,omitempty"`
	Error             *errorJSON `json:"error,omitempty"`
	RetryAfterSeconds float64    `json:"retry_after_seconds,omitempty"`
}

type errorJSON struct {
	Message   string   `json:"message"`
	ErrorType string   `json:"error_type"`
	ErrorCode string   `json:"error_code,omitempty"`
	Retryable bool     `json:"retryable"`
	Backtrace []string `json:"backtrace,omitempty"`
}

// Invoke runs h on the step event and returns the result JSON the worker
// reads: {"success": true, "result": ...} or {"success": false, "error":
// {"message", "error_type", "error_code", "retryable"}}. A panic in h is a
// permanent failure of error type handler_panic. It is what Run does inside
// a module, and lets handlers be tested natively.
func Invoke(eventJSON []byte, h Handler) []byte {
	step, err := ParseStep(eventJSON)
	if err != nil {
		return failureJSON(Permanent(err), nil)
	}
	value, err, stack := call(h, step)
	if err != nil {
		return failureJSON(err, stack)
	}
	var out []byte
	if raw, ok := value.(json.RawMessage); ok && len(raw) > 0 {
		// Already JSON: passed on as it is (the worker rejects a result
		// that is not JSON as invalid_result).
		out = raw
	} else if out, err = json.Marshal(value); err != nil {
		return failureJSON(Permanent(fmt.Errorf("encoding the handler's result: %w", err)), nil)
	}
	// The envelope is written by hand: one less level of reflection.
	return append(append(append(make([]byte, 0, len(out)+28), `{"success":true,"result":`...), out...), '}')
}

func call(h Handler, step *Step) (value any, err error, stack []string) {
	defer func() {
		if r := recover(); r != nil {
			err = WithErrorType(Permanent(fmt.Errorf("handler panicked: %v", r)), "handler_panic")
			stack = strings.Split(strings.TrimSpace(string(debug.Stack())), "\n")
			if len(stack) > 24 {
				stack = stack[:24]
			}
		}
	}()
	value, err = h(step)
	return value, err, nil
}

func failureJSON(err error, backtrace []string) []byte {
	c := classify(err)
	typ := c.Type
	if typ == "" {
		typ = "RetryableError"
		if c.Permanent {
			typ = "PermanentError"
		}
	}
	msg := err.Error()
	if msg == "" {
		msg = "step failed with " + typ
	}
	out, mErr := json.Marshal(resultJSON{
		Error:             &errorJSON{Message: msg, ErrorType: typ, ErrorCode: c.Code, Retryable: !c.Permanent, Backtrace: backtrace},
		RetryAfterSeconds: c.RetryAfterSeconds,
	})
	if mErr != nil {
		return []byte(`{"success": false, "error": {"message": "encoding the failure failed", "retryable": false}}`)
	}
	return out
}
