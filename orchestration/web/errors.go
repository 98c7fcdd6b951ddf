package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/shared/store"
)

// Error codes: the api package's, named here for the mapping below.
const (
	CodeBadRequest           = api.CodeBadRequest
	CodeNotFound             = api.CodeNotFound
	CodeMethodNotAllowed     = api.CodeMethodNotAllowed
	CodeNotAcceptable        = api.CodeNotAcceptable
	CodeTimeout              = api.CodeTimeout
	CodeConflict             = api.CodeConflict
	CodePayloadTooLarge      = api.CodePayloadTooLarge
	CodeHeadersTooLarge      = api.CodeHeadersTooLarge
	CodeUnsupportedMediaType = api.CodeUnsupportedMediaType
	CodeInternalError        = api.CodeInternalError
	CodeDatabaseError        = api.CodeDatabaseError
	CodeServiceUnavailable   = api.CodeServiceUnavailable
	CodeBackpressure         = api.CodeBackpressure
	CodeUnsupported          = api.CodeUnsupported
)

// APIError is every error response, an api.ErrorResponse, with an HTTP
// status. It satisfies huma's StatusError and HeadersError.
type APIError struct {
	Status int           `json:"-"`
	Body   api.ErrorBody `json:"error"`
}

func (e *APIError) Error() string { return e.Body.Code + ": " + e.Body.Message }

// GetStatus is the HTTP status.
func (e *APIError) GetStatus() int { return e.Status }

// ContentType keeps errors plain JSON (huma's own model is problem+json).
func (e *APIError) ContentType(string) string { return "application/json" }

// GetHeaders sets Retry-After on 503s.
func (e *APIError) GetHeaders() http.Header {
	h := http.Header{}
	if e.Body.RetryAfterSeconds > 0 {
		h.Set("Retry-After", strconv.Itoa(e.Body.RetryAfterSeconds))
	}
	return h
}

func newError(status int, code, format string, args ...any) *APIError {
	return &APIError{Status: status, Body: api.ErrorBody{Code: code, Message: fmt.Sprintf(format, args...)}}
}

func badRequest(format string, args ...any) *APIError {
	return newError(http.StatusBadRequest, CodeBadRequest, format, args...)
}

// invalidBody reports problems with a request body, one detail each.
func invalidBody(details []api.FieldError) *APIError {
	e := badRequest("invalid request body: %s", summarize(details))
	e.Body.Details = details
	return e
}

// invalidParam reports a malformed path or query parameter.
func invalidParam(name, format string, args ...any) *APIError {
	msg := fmt.Sprintf(format, args...)
	e := badRequest("invalid parameter %s: %s", name, msg)
	e.Body.Details = []api.FieldError{{Parameter: name, Message: msg}}
	return e
}

func summarize(details []api.FieldError) string {
	parts := make([]string, 0, min(len(details), 5))
	for i, d := range details {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(details)-5))
			break
		}
		switch {
		case d.Parameter != "":
			parts = append(parts, d.Parameter+": "+d.Message)
		case d.Pointer != "":
			parts = append(parts, d.Pointer+": "+d.Message)
		default:
			parts = append(parts, d.Message)
		}
	}
	return strings.Join(parts, "; ")
}

// unavailableRetryAfter is the Retry-After of SERVICE_UNAVAILABLE: a
// database restart or a failover usually takes a few seconds.
const unavailableRetryAfter = 5

func unavailable(format string, args ...any) *APIError {
	e := newError(http.StatusServiceUnavailable, CodeServiceUnavailable, format, args...)
	e.Body.RetryAfterSeconds = unavailableRetryAfter
	return e
}

// errorFor is THE mapping from Go errors to API errors: every handler error
// passes through it (see register), so status codes are decided here and
// nowhere else. Database failures are told apart by the store's sentinels
// (store.Classify is applied first, for errors that reached PostgreSQL
// without the store), never by driver error types.
//
//	*APIError                                already mapped
//	*orchestration.ValidationError           400 BAD_REQUEST with details
//	ErrTemplateNotFound, store.ErrNotFound   404 NOT_FOUND
//	store.ErrConflict                        409 CONFLICT
//	store.ErrInvalidState, ErrInvalidInput   400 BAD_REQUEST
//	orchestration.ErrUnsupported             422 UNSUPPORTED
//	orchestration.ErrBackpressure            503 BACKPRESSURE + Retry-After
//	server stopping, store.ErrUnavailable    503 SERVICE_UNAVAILABLE + Retry-After
//	deadline exceeded,
//	store.ErrStatementTimeout                408 TIMEOUT
//	request cancelled (client gone)          503 SERVICE_UNAVAILABLE + Retry-After
//	store.ErrDatabase                        500 DATABASE_ERROR
//	anything else                            500 INTERNAL_ERROR
func (s *Server) errorFor(ctx context.Context, err error) *APIError {
	err = store.Classify(err)
	var ae *APIError
	var ve *orchestration.ValidationError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ve):
		details := make([]api.FieldError, len(ve.Errors))
		for i, fe := range ve.Errors {
			details[i] = api.FieldError{Pointer: fe.Pointer, Message: fe.Message}
		}
		return invalidBody(details)
	case errors.Is(err, orchestration.ErrTemplateNotFound), errors.Is(err, store.ErrNotFound):
		return newError(http.StatusNotFound, CodeNotFound, "%s", err)
	case errors.Is(err, store.ErrConflict):
		return newError(http.StatusConflict, CodeConflict, "%s", err)
	case errors.Is(err, store.ErrInvalidState), errors.Is(err, store.ErrInvalidInput):
		return badRequest("%s", err)
	case errors.Is(err, orchestration.ErrUnsupported):
		return newError(http.StatusUnprocessableEntity, CodeUnsupported, "%s", err)
	case errors.Is(err, orchestration.ErrBackpressure):
		secs := int(math.Ceil(s.cfg.Backpressure.RetryAfter.Seconds()))
		e := newError(http.StatusServiceUnavailable, CodeBackpressure,
			"the system is too busy to accept new tasks; retry in %d seconds", max(secs, 1))
		e.Body.RetryAfterSeconds = max(secs, 1)
		return e
	case s.isStopping():
		return unavailable("the server is shutting down")
	case errors.Is(err, store.ErrUnavailable):
		// Checked before deadlines: a connection that could not be made or
		// taken before the deadline is the database's unavailability.
		s.log.Warn("database unavailable", "err", err)
		return unavailable("the database is unavailable; retry in %d seconds", unavailableRetryAfter)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(ctx.Err(), context.DeadlineExceeded),
		errors.Is(err, store.ErrStatementTimeout):
		return newError(http.StatusRequestTimeout, CodeTimeout, "the request did not finish within %s", s.cfg.RequestTimeout)
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this answer.
		return unavailable("the request was cancelled")
	case errors.Is(err, store.ErrDatabase):
		s.log.Error("database error", "err", err)
		return newError(http.StatusInternalServerError, CodeDatabaseError, "a database operation failed")
	default:
		s.log.Error("internal error", "err", err)
		return newError(http.StatusInternalServerError, CodeInternalError, "an internal error occurred")
	}
}

// requestMarker tags requests served by this package, so the error hook
// below only reshapes huma errors that belong to our API.
type requestMarker struct{}

func init() {
	// huma builds the errors of its own request handling (bad parameters,
	// unreadable or oversized bodies, unacceptable Accept headers) through
	// this process-wide hook. Ours reshapes them into the envelope for
	// requests of this package and leaves every other huma API alone.
	prev := huma.NewErrorWithContext
	huma.NewErrorWithContext = func(hctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
		if hctx == nil || hctx.Context().Value(requestMarker{}) == nil {
			return prev(hctx, status, msg, errs...)
		}
		return fromHuma(status, msg, errs)
	}
}

// fromHuma converts an error huma raised while reading a request.
func fromHuma(status int, msg string, errs []error) *APIError {
	var details []api.FieldError
	for _, err := range errs {
		if err == nil {
			continue
		}
		var se huma.StatusError
		if errors.As(err, &se) {
			if ae, ok := se.(*APIError); ok {
				return ae
			}
		}
		var d huma.ErrorDetailer
		if errors.As(err, &d) {
			details = append(details, detailFromLocation(d.ErrorDetail()))
			continue
		}
		details = append(details, api.FieldError{Message: err.Error()})
	}
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		e := badRequest("%s", msg)
		if len(details) > 0 {
			e.Body.Message = "invalid request: " + summarize(details)
			if len(details) == 1 && details[0].Parameter != "" {
				e.Body.Message = "invalid parameter " + details[0].Parameter + ": " + details[0].Message
			}
			e.Body.Details = details
		}
		return e
	case http.StatusRequestEntityTooLarge:
		return newError(status, CodePayloadTooLarge, "the request body is too large")
	case http.StatusRequestTimeout:
		return newError(status, CodeTimeout, "%s", msg)
	case http.StatusNotFound:
		return newError(status, CodeNotFound, "%s", msg)
	case http.StatusNotAcceptable:
		return newError(status, CodeNotAcceptable, "responses are available as application/json only")
	case http.StatusUnsupportedMediaType:
		return newError(status, CodeUnsupportedMediaType, "%s", msg)
	case http.StatusServiceUnavailable:
		return unavailable("%s", msg)
	default:
		return newError(http.StatusInternalServerError, CodeInternalError, "an internal error occurred")
	}
}

// detailFromLocation turns huma's "query.page" / "body.tags[0]" locations
// into parameters and JSON pointers.
func detailFromLocation(d *huma.ErrorDetail) api.FieldError {
	loc := d.Location
	for _, p := range []string{"query.", "path.", "header."} {
		if rest, ok := strings.CutPrefix(loc, p); ok {
			return api.FieldError{Parameter: rest, Message: d.Message}
		}
	}
	rest, _ := strings.CutPrefix(loc, "body")
	var b strings.Builder
	for _, seg := range strings.FieldsFunc(rest, func(r rune) bool { return r == '.' || r == '[' || r == ']' }) {
		b.WriteString("/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(seg))
	}
	return api.FieldError{Pointer: b.String(), Message: d.Message}
}

// writeError writes an envelope outside huma (router fallbacks, panics,
// the metrics route).
func writeError(w http.ResponseWriter, e *APIError) {
	for k, v := range e.GetHeaders() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(e)
}
