// Package otlptest is a minimal OpenTelemetry collector for tests: it
// receives spans over OTLP HTTP (protobuf bodies on /v1/traces) or OTLP gRPC
// (the collector's TraceService) and keeps them, with the service.name of
// the process that sent them, so a test can assert what a process exported
// over the wire.
package otlptest

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// Span is one received span and the service that exported it.
type Span struct {
	Service string
	*tracepb.Span
}

// TraceID is the span's trace id in hex, as trace.TraceID.String prints it.
func (s Span) TraceID() string { return hex.EncodeToString(s.Span.TraceId) }

// SpanID is the span's id in hex.
func (s Span) SpanID() string { return hex.EncodeToString(s.Span.SpanId) }

// ParentID is the parent span's id in hex ("" for a root span).
func (s Span) ParentID() string { return hex.EncodeToString(s.ParentSpanId) }

// Attr is the string form of the span's attribute key ("" when absent).
func (s Span) Attr(key string) string {
	return attrString(s.Attributes, key)
}

func attrString(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.Key != key {
			continue
		}
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			return v.StringValue
		case *commonpb.AnyValue_IntValue:
			return strconv.FormatInt(v.IntValue, 10)
		case *commonpb.AnyValue_BoolValue:
			return strconv.FormatBool(v.BoolValue)
		case *commonpb.AnyValue_DoubleValue:
			return strconv.FormatFloat(v.DoubleValue, 'g', -1, 64)
		default:
			return kv.Value.String()
		}
	}
	return ""
}

// Collector keeps what its receiver was sent.
type Collector struct {
	// Endpoint is the collector's base URL (http://127.0.0.1:port), what
	// telemetry.endpoint or OTEL_EXPORTER_OTLP_ENDPOINT is set to.
	Endpoint string

	mu       sync.Mutex
	spans    []Span
	metadata []metadata.MD
	changed  chan struct{}
}

func newCollector() *Collector { return &Collector{changed: make(chan struct{}, 1)} }

// Spans is every span received so far.
func (c *Collector) Spans() []Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Span(nil), c.spans...)
}

// Metadata is the gRPC metadata (headers) of every export call received.
func (c *Collector) Metadata() []metadata.MD {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]metadata.MD(nil), c.metadata...)
}

// Changed is signalled (without blocking, so signals may merge) when spans
// arrive.
func (c *Collector) Changed() <-chan struct{} { return c.changed }

func (c *Collector) add(req *coltracepb.ExportTraceServiceRequest, md metadata.MD) {
	c.mu.Lock()
	for _, rs := range req.ResourceSpans {
		service := ""
		if rs.Resource != nil {
			service = attrString(rs.Resource.Attributes, "service.name")
		}
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				c.spans = append(c.spans, Span{Service: service, Span: sp})
			}
		}
	}
	if md != nil {
		c.metadata = append(c.metadata, md)
	}
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// NewHTTP starts an OTLP HTTP receiver on a loopback port; it stops when
// the test ends. It accepts only protobuf bodies on /v1/traces, as the
// OTLP/HTTP specification's binary encoding.
func NewHTTP(t testing.TB) *Collector {
	c := newCollector()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
			http.Error(w, "want application/x-protobuf, got "+ct, http.StatusUnsupportedMediaType)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.add(&req, nil)
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = io.Copy(w, bytes.NewReader(resp))
	}))
	t.Cleanup(srv.Close)
	c.Endpoint = srv.URL
	return c
}

// NewGRPC starts an OTLP gRPC receiver (the collector's TraceService,
// without TLS) on a loopback port; it stops when the test ends.
func NewGRPC(t testing.TB) *Collector {
	c := newCollector()
	var lc net.ListenConfig
	lis, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("otlptest: listening: %v", err)
	}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, &traceService{c: c})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	c.Endpoint = "http://" + lis.Addr().String()
	return c
}

type traceService struct {
	coltracepb.UnimplementedTraceServiceServer
	c *Collector
}

func (s *traceService) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.c.add(req, md)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}
