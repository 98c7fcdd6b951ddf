package orchestration

import (
	"context"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/telemetry"
)

// startCreateSpan starts the task's root span (a child of the request's
// span, when its traceparent header carried one) and stores its
// traceparent with the task, so every later span of the task, in any
// process, joins this trace.
func (c *Core) startCreateSpan(ctx context.Context, nt *store.NewTask) (context.Context, trace.Span) {
	ctx, span := c.tracer.Start(ctx, telemetry.SpanTaskCreate, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			telemetry.AttrTaskUUID.String(nt.UUID.String()),
			telemetry.AttrNamespace.String(nt.Namespace),
			telemetry.AttrCorrelationID.String(nt.CorrelationID.String()),
		))
	nt.TraceParent = telemetry.Traceparent(ctx)
	return ctx, span
}

// traceCreated records the creation's outcome and, for each step the
// creation enqueued, an enqueue span (the step's message was sent in the
// creation's transaction).
func (c *Core) traceCreated(ctx context.Context, span trace.Span, out store.CreatedTask) {
	span.SetAttributes(attribute.String("task_state", string(out.Task.State)))
	now := time.Now()
	for i := range out.Steps {
		st := &out.Steps[i]
		if st.State != state.StepEnqueued {
			continue
		}
		_, s := c.tracer.Start(ctx, telemetry.SpanStepEnqueue, trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithTimestamp(now), trace.WithAttributes(
				telemetry.AttrTaskUUID.String(out.Task.UUID.String()),
				telemetry.AttrStepUUID.String(st.UUID.String()),
				telemetry.AttrStepName.String(st.Name),
				telemetry.AttrNamespace.String(out.Task.Namespace),
				telemetry.AttrCorrelationID.String(out.Task.CorrelationID.String()),
			))
		s.End(trace.WithTimestamp(now))
	}
}

// Tracer is the tracer the core records with; nil when tracing is off.
func (c *Core) Tracer() *telemetry.Tracer { return c.tracer }

// traceResults records, after a result batch committed, a span per
// processed result of a traced task (from the batch's start to now) and a
// finalization span per task the batch moved to a terminal state, each a
// child of the trace stored with its task.
func (c *Core) traceResults(out store.ProcessOutcome, start time.Time) {
	ctx := context.Background()
	now := time.Now()
	for _, r := range out.Traced {
		_, span := c.tracer.StartFrom(ctx, r.TraceParent, telemetry.SpanStepResult, start,
			telemetry.AttrTaskUUID.String(r.TaskUUID.String()),
			telemetry.AttrStepUUID.String(r.StepUUID.String()),
			telemetry.AttrStepName.String(r.StepName),
			telemetry.AttrNamespace.String(r.Namespace),
			telemetry.AttrAttempt.Int(r.Attempt),
			attribute.String("step_state", string(r.To)),
		)
		span.End(trace.WithTimestamp(now))
	}
	for _, t := range out.Tasks {
		if t.TraceParent == "" {
			continue
		}
		if t.EnqueuedSteps > 0 {
			_, span := c.tracer.StartFrom(ctx, t.TraceParent, telemetry.SpanStepEnqueue, start,
				telemetry.AttrTaskUUID.String(t.TaskUUID.String()),
				attribute.Int("enqueued_steps", t.EnqueuedSteps))
			span.End(trace.WithTimestamp(now))
		}
		if !t.To.Terminal() || t.From.Terminal() {
			continue
		}
		_, span := c.tracer.StartFrom(ctx, t.TraceParent, telemetry.SpanTaskFinal, start,
			telemetry.AttrTaskUUID.String(t.TaskUUID.String()),
			attribute.String("task_state", string(t.To)),
			attribute.Float64("task_duration_seconds", t.FinishedAt.Sub(t.CreatedAt).Seconds()))
		if t.To == state.TaskError {
			span.SetStatus(codes.Error, "task failed")
		}
		span.End(trace.WithTimestamp(now))
	}
}

// traceEndedBy records the finalization span of a task that an operator
// (a cancel, or a step fix that left nothing to run) or the staleness
// detector ended, rather than its last result, as a child of the trace
// stored with the task, from start (when the action began) to now, with
// what ended it: event is cancel, staleness_timeout or the step action
// (resolve_manually, complete_manually), reason the operator's or the
// detector's reason. The trace context of the request that asked for it (a cancel
// call's traceparent header) is linked to the span, not its parent. It
// does nothing when tracing is off or the task is untraced.
func (c *Core) traceEndedBy(ctx context.Context, t store.Task, event state.TaskEvent, reason string, start time.Time,
	attrs ...attribute.KeyValue) {
	if c.tracer == nil || t.TraceParent == "" {
		return
	}
	now := time.Now()
	attrs = append(attrs,
		telemetry.AttrTaskUUID.String(t.UUID.String()),
		attribute.String("task_state", string(t.State)),
		telemetry.AttrTaskEvent.String(string(event)),
		telemetry.AttrReason.String(reason),
		attribute.Float64("task_duration_seconds", now.Sub(t.CreatedAt).Seconds()))
	if t.Namespace != "" {
		attrs = append(attrs, telemetry.AttrNamespace.String(t.Namespace))
	}
	if t.CorrelationID != uuid.Nil {
		attrs = append(attrs, telemetry.AttrCorrelationID.String(t.CorrelationID.String()))
	}
	opts := []trace.SpanStartOption{trace.WithTimestamp(start), trace.WithAttributes(attrs...)}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
	}
	// The stored traceparent alone decides the parent: the caller's span
	// is dropped from the context first.
	parent := telemetry.ContextWithTraceparent(trace.ContextWithSpanContext(ctx, trace.SpanContext{}), t.TraceParent)
	_, span := c.tracer.Start(parent, telemetry.SpanTaskFinal, opts...)
	if t.State == state.TaskError {
		span.SetStatus(codes.Error, reason)
	}
	span.End(trace.WithTimestamp(now))
}
