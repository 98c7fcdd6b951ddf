package api

import (
	"bytes"
	"encoding/json"
)

// Error codes (ErrorBody.Code): tasker-core's vocabulary plus a few for
// statuses it never sends.
const (
	CodeBadRequest           = "BAD_REQUEST"
	CodeUnauthorized         = "UNAUTHORIZED"
	CodeForbidden            = "FORBIDDEN"
	CodeNotFound             = "NOT_FOUND"
	CodeMethodNotAllowed     = "METHOD_NOT_ALLOWED"
	CodeNotAcceptable        = "NOT_ACCEPTABLE"
	CodeTimeout              = "TIMEOUT"
	CodeConflict             = "CONFLICT"
	CodePayloadTooLarge      = "PAYLOAD_TOO_LARGE"
	CodeHeadersTooLarge      = "HEADERS_TOO_LARGE"
	CodeUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
	CodeInternalError        = "INTERNAL_ERROR"
	CodeDatabaseError        = "DATABASE_ERROR"
	CodeServiceUnavailable   = "SERVICE_UNAVAILABLE"
	CodeBackpressure         = "BACKPRESSURE"
	CodeUnsupported          = "UNSUPPORTED"
)

// ErrorResponse is every error answer: {"error": {"code", "message", …}}.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is the content of the error envelope.
type ErrorBody struct {
	Code    string       `json:"code" doc:"Machine-readable error code, e.g. NOT_FOUND or BAD_REQUEST"`
	Message string       `json:"message" doc:"What went wrong, for people"`
	Details []FieldError `json:"details,omitempty" doc:"Each problem with the request (BAD_REQUEST only)"`
	// RetryAfterSeconds accompanies every 503 (and the Retry-After header).
	RetryAfterSeconds int `json:"retry_after_seconds,omitempty" doc:"When to try again (503 only)"`
}

// FieldError is one problem with a request. Pointer is a JSON pointer into
// the request body ("" is the whole body); Parameter names a path, query or
// header parameter instead, and then Pointer is left out.
type FieldError struct {
	Pointer   string `json:"pointer,omitempty"`
	Parameter string `json:"parameter,omitempty"`
	Message   string `json:"message"`
}

// MarshalJSON always writes pointer for body problems, even when it is ""
// (the whole body).
func (d FieldError) MarshalJSON() ([]byte, error) {
	var v any = struct {
		Pointer string `json:"pointer"`
		Message string `json:"message"`
	}{d.Pointer, d.Message}
	if d.Parameter != "" {
		v = struct {
			Parameter string `json:"parameter"`
			Message   string `json:"message"`
		}{d.Parameter, d.Message}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(b.Bytes()), nil
}
