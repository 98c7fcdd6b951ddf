package config

import (
	"net/url"
)

// Telemetry protocols: how spans are sent to the OTLP collector.
const (
	// ProtocolGRPC is OTLP over gRPC (the collector's port 4317).
	ProtocolGRPC = "grpc"
	// ProtocolHTTPProtobuf is OTLP over HTTP with protobuf bodies (port
	// 4318).
	ProtocolHTTPProtobuf = "http/protobuf"
)

// Telemetry is the [telemetry] section: OpenTelemetry tracing. Off by
// default; when off no tracer is created and the hot paths pay one nil
// check. The standard OTEL_* environment variables configure what this
// section leaves empty (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS,
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and its
// argument), and OTEL_EXPORTER_OTLP_PROTOCOL overrides Protocol.
type Telemetry struct {
	// Enabled turns tracing on. Default false.
	Enabled bool `toml:"enabled"`
	// Protocol is "grpc" or "http/protobuf". Default "grpc".
	Protocol string `toml:"protocol"`
	// Endpoint is the collector's URL, such as "http://otel-collector:4317"
	// (an http:// URL sends without TLS). As with
	// OTEL_EXPORTER_OTLP_ENDPOINT, the HTTP exporter appends /v1/traces. Empty means
	// OTEL_EXPORTER_OTLP_ENDPOINT, or the exporter's default
	// (localhost:4317 for gRPC, localhost:4318 for HTTP). Default "".
	Endpoint string `toml:"endpoint"`
	// ServiceName names this process in traces. Empty means
	// OTEL_SERVICE_NAME, else "tasker-orchestration" or "tasker-worker".
	// Default "".
	ServiceName string `toml:"service_name"`
}

func defaultTelemetry() Telemetry {
	return Telemetry{Enabled: false, Protocol: ProtocolGRPC}
}

// Validate checks the section; see [Problems].
func (t *Telemetry) Validate() error {
	var ps Problems
	ps.oneOf("protocol", t.Protocol, ProtocolGRPC, ProtocolHTTPProtobuf)
	if t.Endpoint != "" {
		u, err := url.Parse(t.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.add("endpoint", "must be an http:// or https:// URL such as \"http://otel-collector:4317\", got "+quote(t.Endpoint))
		}
	}
	return ps.Err()
}
