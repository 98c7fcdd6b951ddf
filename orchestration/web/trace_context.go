package web

import (
	"net/http"

	"go.opentelemetry.io/otel/propagation"

	"github.com/tasker-go/tasker/shared/telemetry"
)

// traceContext continues the caller's trace: with tracing on, the W3C
// traceparent header of a request becomes the parent of the spans the
// request starts (a created task's trace joins the caller's). With tracing
// off it adds nothing to the request path.
func (s *Server) traceContext(next http.Handler) http.Handler {
	if s.core.Tracer() == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := telemetry.Propagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
