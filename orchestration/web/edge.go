package web

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/httpcheck"
)

// checkRequest is the rule at the edge every route passes before any
// handler runs (see package httpcheck): the request line and headers within
// httpcheck.MaxHeaderBytes (431), path and query parameters valid UTF-8
// without NUL (400 naming the parameter), and for POST, PUT and PATCH the
// body read whole here, within max_body_bytes (413) and request_timeout
// (408), and every JSON string and number in it acceptable (400 naming the
// JSON pointer). A body that cannot be read (cut short, malformed chunked
// encoding, the client gone) is the client's error: 400, logged at info.
func (s *Server) checkRequest(routes chi.Routes) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n := httpcheck.HeaderBytes(r); n > httpcheck.MaxHeaderBytes {
				writeError(w, newError(http.StatusRequestHeaderFieldsTooLarge, CodeHeadersTooLarge,
					"the request line and headers are %d bytes; at most %d are accepted", n, httpcheck.MaxHeaderBytes))
				return
			}
			if problems := httpcheck.Params(r, routes); len(problems) > 0 {
				writeError(w, invalidRequest(detailsOf(problems)))
				return
			}
			if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
				body, e := s.readBody(w, r)
				if e != nil {
					writeError(w, e)
					return
				}
				if problems := httpcheck.JSON(body); len(problems) > 0 {
					writeError(w, invalidBody(detailsOf(problems)))
					return
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
				r.ContentLength = int64(len(body))
			}
			next.ServeHTTP(w, r)
		})
	}
}

// readBody reads the whole request body.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *APIError) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return nil, newError(http.StatusRequestEntityTooLarge, CodePayloadTooLarge,
			"the request body is %d bytes; at most %d are accepted", r.ContentLength, s.cfg.MaxBodyBytes)
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(s.cfg.RequestTimeout)) // unsupported by test recorders only
	defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	var ne net.Error
	switch {
	case err == nil:
		return buf.Bytes(), nil
	case errors.As(err, &tooLarge):
		return nil, newError(http.StatusRequestEntityTooLarge, CodePayloadTooLarge,
			"the request body is larger than %d bytes", s.cfg.MaxBodyBytes)
	case errors.As(err, &ne) && ne.Timeout():
		s.log.Info("client error: the request body did not arrive in time", "method", r.Method, "path", r.URL.Path,
			"remote", r.RemoteAddr)
		return nil, newError(http.StatusRequestTimeout, CodeTimeout, "the request body did not arrive within %s", s.cfg.RequestTimeout)
	default:
		s.log.Info("client error: unreadable request body", "method", r.Method, "path", r.URL.Path,
			"remote", r.RemoteAddr, "err", err)
		return nil, badRequest("the request body could not be read: %s", err)
	}
}

// detailsOf converts edge problems to error details.
func detailsOf(problems []httpcheck.Problem) []api.FieldError {
	out := make([]api.FieldError, len(problems))
	for i, p := range problems {
		out[i] = api.FieldError{Pointer: p.Pointer, Parameter: p.Parameter, Message: p.Message}
	}
	return out
}

// invalidRequest reports problems with path or query parameters.
func invalidRequest(details []api.FieldError) *APIError {
	if len(details) == 1 {
		e := badRequest("invalid parameter %s: %s", details[0].Parameter, details[0].Message)
		e.Body.Details = details
		return e
	}
	e := badRequest("invalid request: %s", summarize(details))
	e.Body.Details = details
	return e
}
