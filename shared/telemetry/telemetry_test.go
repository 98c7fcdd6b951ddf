package telemetry_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/tasker-go/tasker/internal/otlptest"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/telemetry"
)

func TestSetupOffStartsNothing(t *testing.T) {
	p, err := telemetry.Setup(t.Context(), config.Telemetry{Protocol: "grpc"}, "svc")
	require.NoError(t, err)
	require.Nil(t, p.Tracer)
	require.False(t, p.Tracer.Enabled())
	ctx, span := p.Tracer.Start(t.Context(), "x")
	require.Equal(t, t.Context(), ctx)
	require.False(t, span.SpanContext().IsValid())
	ctx, _ = p.Tracer.StartFrom(t.Context(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "x", time.Time{})
	require.Equal(t, t.Context(), ctx, "a nil tracer does not even parse the traceparent")
	require.NoError(t, p.Shutdown(t.Context()))
}

func TestSetupRejectsAnUnknownProtocolFromTheEnvironment(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
	_, err := telemetry.Setup(t.Context(), config.Telemetry{Enabled: true, Protocol: "grpc"}, "svc")
	require.ErrorContains(t, err, `OTEL_EXPORTER_OTLP_PROTOCOL="http/json"`)
}

// The HTTP exporter sends the spans to the configured collector, and the
// service name comes from the configuration.
func TestSetupExportsOverHTTP(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, append([]byte(r.URL.Path+" "), b...))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "")
	p, err := telemetry.Setup(t.Context(), config.Telemetry{Enabled: true, Protocol: config.ProtocolHTTPProtobuf,
		Endpoint: srv.URL, ServiceName: "tasker-test-service"}, "default-name")
	require.NoError(t, err)
	require.True(t, p.Tracer.Enabled())
	_, span := p.Tracer.Start(t.Context(), "exported-span-name")
	span.End()
	require.NoError(t, p.Shutdown(t.Context()))
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, bodies, 1)
	require.True(t, bytes.HasPrefix(bodies[0], []byte("/v1/traces ")), "posted to %q", strings.SplitN(string(bodies[0]), " ", 2)[0])
	require.Contains(t, string(bodies[0]), "exported-span-name")
	require.Contains(t, string(bodies[0]), "tasker-test-service")
}

// The gRPC exporter sends the spans, with their parent, attributes, the
// service name and the OTEL_EXPORTER_OTLP_HEADERS headers, to a real OTLP
// gRPC receiver (the collector's TraceService).
func TestSetupExportsOverGRPC(t *testing.T) {
	col := otlptest.NewGRPC(t)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "")
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=secret-123")
	p, err := telemetry.Setup(t.Context(), config.Telemetry{Enabled: true, Protocol: config.ProtocolGRPC,
		Endpoint: col.Endpoint}, "tasker-grpc-test")
	require.NoError(t, err)
	parent, root := p.Tracer.Start(t.Context(), "grpc-root")
	_, child := p.Tracer.Start(parent, "grpc-child", trace.WithAttributes(telemetry.AttrStepName.String("step_one"),
		telemetry.AttrAttempt.Int(2)))
	child.End()
	root.End()
	require.NoError(t, p.Shutdown(t.Context()), "shutdown flushes to the receiver")

	spans := map[string]otlptest.Span{}
	for _, s := range col.Spans() {
		spans[s.Name] = s
	}
	require.Len(t, spans, 2)
	r, c := spans["grpc-root"], spans["grpc-child"]
	require.Equal(t, "tasker-grpc-test", r.Service, "the default service name")
	require.Equal(t, root.SpanContext().TraceID().String(), c.TraceID())
	require.Equal(t, r.SpanID(), c.ParentID())
	require.Empty(t, r.ParentID())
	require.Equal(t, "step_one", c.Attr("step_name"))
	require.Equal(t, "2", c.Attr("attempt"))
	md := col.Metadata()
	require.NotEmpty(t, md)
	require.Equal(t, []string{"secret-123"}, md[0].Get("x-api-key"))
}

func TestTraceparentRoundTrip(t *testing.T) {
	require.Empty(t, telemetry.Traceparent(t.Context()))
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx, span := tp.Tracer("t").Start(t.Context(), "s")
	defer span.End()
	v := telemetry.Traceparent(ctx)
	require.Equal(t, "00-"+span.SpanContext().TraceID().String()+"-"+span.SpanContext().SpanID().String()+"-01", v)
	back := trace.SpanContextFromContext(telemetry.ContextWithTraceparent(t.Context(), v))
	require.Equal(t, span.SpanContext().TraceID(), back.TraceID())
	require.True(t, back.IsRemote())
	require.Equal(t, t.Context(), telemetry.ContextWithTraceparent(t.Context(), ""))
	require.False(t, trace.SpanContextFromContext(telemetry.ContextWithTraceparent(t.Context(), "garbage")).IsValid())

	// A span started from a stored traceparent is its child.
	child, cs := telemetry.NewTracer(tp).StartFrom(t.Context(), v, "child", time.Time{})
	defer cs.End()
	require.Equal(t, span.SpanContext().TraceID(), trace.SpanContextFromContext(child).TraceID())
}

func TestLogHandlerAddsTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(telemetry.NewLogHandler(slog.NewTextHandler(&buf, nil))).With("component", "c")
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx, span := tp.Tracer("t").Start(t.Context(), "s")
	defer span.End()

	log.InfoContext(ctx, "in a span")
	line := buf.String()
	require.Contains(t, line, "trace_id="+span.SpanContext().TraceID().String())
	require.Contains(t, line, "span_id="+span.SpanContext().SpanID().String())
	require.Contains(t, line, "component=c")

	buf.Reset()
	log.WithGroup("g").InfoContext(t.Context(), "no span", "k", 1)
	require.NotContains(t, buf.String(), "trace_id")
	require.Contains(t, buf.String(), "g.k=1")
}

// With tracing off the hot paths hold a nil *Tracer; calling it costs no
// allocation.
func TestNilTracerAllocatesNothing(t *testing.T) {
	var tr *telemetry.Tracer
	ctx := t.Context()
	allocs := testing.AllocsPerRun(100, func() {
		_, span := tr.StartFrom(ctx, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "x", time.Time{})
		span.End()
		_, span = tr.Start(ctx, "y")
		span.End()
	})
	require.Zero(t, allocs)
}

func BenchmarkTracerOff(b *testing.B) {
	var tr *telemetry.Tracer
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if tr != nil {
			_, span := tr.StartFrom(ctx, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "x", time.Time{})
			span.End()
		}
	}
}

func BenchmarkTracerOnStepSpan(b *testing.B) {
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tr := telemetry.NewTracer(tp)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, span := tr.StartFrom(ctx, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "x", time.Time{},
			telemetry.AttrStepName.String("s"))
		span.End()
	}
}
