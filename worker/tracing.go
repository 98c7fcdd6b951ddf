package worker

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/telemetry"
)

// startStepSpans records the step's claim (from the claim's start, as the
// database stamped it, to now) and starts the span of its handler run, both
// children of the trace stored with the task, which may have been started
// by another process. It returns the context the handler runs with (Go
// handlers start their own spans from it) and a copy of the claimed step
// whose Task.TraceParent is the run span's, so that the step event given to
// handlers outside Go names the run span as their parent. Called only when
// tracing is on and the task was created with a trace context (a task
// created untraced, before tracing was turned on, stays untraced).
func (c *Core) startStepSpans(ctx context.Context, cs *store.ClaimedStep, started time.Time) (context.Context, trace.Span, *store.ClaimedStep) {
	t := c.opts.Tracer
	attrs := stepAttributes(cs, c.cfg.WorkerID)
	if cs.Step.LastAttemptedAt != nil && !cs.Step.LastAttemptedAt.After(started) {
		_, claim := t.StartFrom(ctx, cs.Task.TraceParent, telemetry.SpanStepClaim, *cs.Step.LastAttemptedAt, attrs...)
		claim.End(trace.WithTimestamp(started))
	}
	ctx, span := t.StartFrom(ctx, cs.Task.TraceParent, telemetry.SpanStepExecute, started, attrs...)
	cp := *cs
	cp.Task.TraceParent = telemetry.Traceparent(ctx)
	return ctx, span, &cp
}

// stepAttributes are the attributes of a worker's step spans, named as
// tasker-core names them.
func stepAttributes(cs *store.ClaimedStep, workerID string) []attribute.KeyValue {
	return []attribute.KeyValue{
		telemetry.AttrTaskUUID.String(cs.Task.UUID.String()),
		telemetry.AttrStepUUID.String(cs.Step.UUID.String()),
		telemetry.AttrStepName.String(cs.Step.Name),
		telemetry.AttrNamespace.String(cs.Task.Namespace),
		telemetry.AttrTaskName.String(cs.Task.Name),
		telemetry.AttrCallable.String(cs.Step.HandlerCallable),
		telemetry.AttrAttempt.Int(cs.Step.Attempts),
		telemetry.AttrWorkerID.String(workerID),
		telemetry.AttrCorrelationID.String(cs.Task.CorrelationID.String()),
	}
}

// endStepSpan records the handler's outcome on its run span.
func endStepSpan(span trace.Span, res Result) {
	if res.success {
		span.SetAttributes(telemetry.AttrOutcome.String("success"))
		return
	}
	span.SetAttributes(telemetry.AttrOutcome.String("failure"))
	span.SetStatus(codes.Error, res.message)
}
