package telemetry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// InstrumentationName is the tracer name of every span Tasker records.
const InstrumentationName = "github.com/tasker-go/tasker"

// Span names.
const (
	SpanTaskCreate  = "tasker.task.create"
	SpanStepEnqueue = "tasker.step.enqueue"
	SpanStepClaim   = "tasker.step.claim"
	SpanStepExecute = "tasker.step.execute"
	SpanStepResult  = "tasker.step.result"
	SpanTaskFinal   = "tasker.task.finalize"
)

// Attribute keys, named as tasker-core names its span fields.
const (
	AttrTaskUUID      = attribute.Key("task_uuid")
	AttrStepUUID      = attribute.Key("step_uuid")
	AttrStepName      = attribute.Key("step_name")
	AttrNamespace     = attribute.Key("namespace")
	AttrTaskName      = attribute.Key("task_name")
	AttrAttempt       = attribute.Key("attempt")
	AttrWorkerID      = attribute.Key("worker_id")
	AttrCorrelationID = attribute.Key("correlation_id")
	AttrCallable      = attribute.Key("callable")
	AttrOutcome       = attribute.Key("outcome")
	// AttrTaskEvent and AttrReason say what ended a task that no result
	// finished: the transition's event (cancel, staleness_timeout) and
	// the operator's or the staleness detector's reason.
	AttrTaskEvent = attribute.Key("task_event")
	AttrReason    = attribute.Key("reason")
)

// Tracer records Tasker's spans. A nil *Tracer is valid and records nothing:
// it is what processes get when tracing is off, and every method checks for
// it first.
type Tracer struct {
	t trace.Tracer
}

// NewTracer wraps a tracer provider (the SDK's, or a test's with an
// in-memory exporter). A nil provider gives a nil Tracer.
func NewTracer(tp trace.TracerProvider) *Tracer {
	if tp == nil {
		return nil
	}
	return &Tracer{t: tp.Tracer(InstrumentationName)}
}

// Enabled reports whether t records spans.
func (t *Tracer) Enabled() bool { return t != nil }

// Start starts a span as a child of the span in ctx. With a nil Tracer it
// returns ctx and a span that records nothing.
func (t *Tracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if t == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	return t.t.Start(ctx, name, opts...)
}

// StartFrom starts a span whose parent is the W3C traceparent stored with a
// task (a root span when it is empty or malformed). start, when not zero,
// backdates the span (a claim that has already happened).
func (t *Tracer) StartFrom(ctx context.Context, traceparent, name string, start time.Time, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if t == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	ctx = ContextWithTraceparent(ctx, traceparent)
	opts := []trace.SpanStartOption{trace.WithAttributes(attrs...)}
	if !start.IsZero() {
		opts = append(opts, trace.WithTimestamp(start))
	}
	return t.t.Start(ctx, name, opts...)
}

var propagator = propagation.TraceContext{}

// Traceparent is the W3C traceparent header value of the span in ctx, ""
// when ctx carries no valid span.
func Traceparent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	propagator.Inject(ctx, c)
	return c["traceparent"]
}

// ContextWithTraceparent returns ctx with the remote span context of a W3C
// traceparent value as its parent; ctx unchanged when the value is empty or
// malformed.
func ContextWithTraceparent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagator.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// Propagator is the W3C trace-context propagator Tasker uses on HTTP
// requests.
func Propagator() propagation.TextMapPropagator { return propagator }
