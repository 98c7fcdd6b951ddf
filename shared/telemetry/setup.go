package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/tasker-go/tasker/shared/config"
)

// Provider is a running tracing pipeline: the Tracer to record with and the
// SDK provider to flush and stop at shutdown.
type Provider struct {
	// Tracer records spans; nil when tracing is off.
	Tracer *Tracer
	sdk    *sdktrace.TracerProvider
}

// Shutdown flushes the spans still buffered and stops the exporter. It does
// nothing when tracing is off.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil || p.sdk == nil {
		return nil
	}
	return p.sdk.Shutdown(ctx)
}

// Setup starts tracing as cfg says: with cfg.Enabled false it returns a
// Provider with a nil Tracer and starts nothing. Otherwise it creates the
// OTLP exporter (gRPC or HTTP), a batching SDK provider whose sampler comes
// from OTEL_TRACES_SAMPLER (parent-based always-on by default), and
// installs it and the W3C propagator as OpenTelemetry's globals, so that
// libraries that trace join the same traces. defaultService is the
// service.name used when neither cfg nor OTEL_SERVICE_NAME names one.
func Setup(ctx context.Context, cfg config.Telemetry, defaultService string) (*Provider, error) {
	if !cfg.Enabled {
		return &Provider{}, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	protocol, err := protocolOf(cfg.Protocol)
	if err != nil {
		return nil, err
	}
	var exp sdktrace.SpanExporter
	switch protocol {
	case config.ProtocolHTTPProtobuf:
		var opts []otlptracehttp.Option
		if cfg.Endpoint != "" {
			opts = append(opts, otlptracehttp.WithEndpointURL(tracesURL(cfg.Endpoint)))
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	default:
		var opts []otlptracegrpc.Option
		if cfg.Endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(cfg.Endpoint))
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: creating the OTLP %s exporter: %w", protocol, err)
	}
	res, err := serviceResource(ctx, cfg.ServiceName, defaultService)
	if err != nil {
		return nil, err
	}
	sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(sdk)
	otel.SetTextMapPropagator(propagator)
	return &Provider{Tracer: NewTracer(sdk), sdk: sdk}, nil
}

// tracesURL is the HTTP exporter's URL for a collector base URL: as with
// OTEL_EXPORTER_OTLP_ENDPOINT, the signal's path v1/traces is appended.
func tracesURL(base string) string {
	return strings.TrimSuffix(base, "/") + "/v1/traces"
}

// protocolOf is the OTLP protocol to use: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
// or OTEL_EXPORTER_OTLP_PROTOCOL when set, else the configured one.
func protocolOf(configured string) (string, error) {
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		v := os.Getenv(name)
		if v == "" {
			continue
		}
		if v != config.ProtocolGRPC && v != config.ProtocolHTTPProtobuf {
			return "", fmt.Errorf("telemetry: %s=%q: want %q or %q", name, v, config.ProtocolGRPC, config.ProtocolHTTPProtobuf)
		}
		return v, nil
	}
	if configured == "" {
		return config.ProtocolGRPC, nil
	}
	return configured, nil
}

// serviceResource describes this process: service.name from the
// configuration, else OTEL_SERVICE_NAME, else defaultService, merged with
// OTEL_RESOURCE_ATTRIBUTES and the SDK's own attributes.
func serviceResource(ctx context.Context, configured, defaultService string) (*resource.Resource, error) {
	name := configured
	if name == "" {
		name = os.Getenv("OTEL_SERVICE_NAME")
	}
	if name == "" {
		name = defaultService
	}
	res, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithHost(),
		resource.WithAttributes(semconv.ServiceName(name)))
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("telemetry: describing the service: %w", err)
	}
	return res, nil
}
