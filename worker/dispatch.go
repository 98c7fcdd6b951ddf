package worker

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/tasker-go/tasker/shared/store"
)

// dispatch starts the handler of a claimed step; the caller has reserved its
// slot. deadline is the claim's deadline (the message's visibility).
func (c *Core) dispatch(cs *store.ClaimedStep, queue string, deadline time.Time) {
	ctx, cancel := context.WithCancelCause(c.runCtx)
	f := &flight{step: cs, queue: queue, cancel: cancel}
	c.flights.add(f, deadline)
	c.handlers.Add(1)
	go c.run(ctx, f)
}

// run executes one step and hands its result to the completer (running
// the handler again each time it yields a checkpoint). Every
// claimed step ends in exactly one of: a result (success, handler failure,
// panic, timeout, missing handler), a release (the worker stopped), or
// nothing because the claim was lost (another worker owns the step now).
func (c *Core) run(ctx context.Context, f *flight) {
	defer c.handlers.Done()
	defer f.cancel(nil)
	ns := f.step.Task.Namespace
	timeout := stepTimeout(&f.step.Step, c.cfg.Handlers.DefaultTimeout)
	tctx, tcancel := context.WithTimeoutCause(ctx, timeout, ErrStepTimeout)

	c.metrics.inFlight.Inc()
	started := time.Now()
	sr := c.newStepRun(f)
	rctx := context.WithValue(tctx, runKey{}, sr)
	step := f.step
	var span trace.Span
	if c.opts.Tracer != nil && f.step.Task.TraceParent != "" {
		rctx, span, step = c.startStepSpans(rctx, f.step, started)
		defer span.End()
	}
	sc := newStepContext(step, sr.decls())
	var res Result
	var returned bool
	for {
		res, returned = invoke(rctx, c.exec, sc)
		rec, yielded := sr.takeYield()
		if !yielded {
			break
		}
		if returned && tctx.Err() == nil {
			// The handler yielded a checkpoint: run the step again from
			// it, under the same claim and timeout.
			sc = newStepContext(stepWithCheckpoint(step, rec), sr.decls())
			continue
		}
		res = yieldedResult()
		break
	}
	finished := time.Now()
	timedOut := errors.Is(context.Cause(tctx), ErrStepTimeout)
	tcancel()
	c.metrics.inFlight.Dec()
	c.metrics.handlerDuration.WithLabelValues(ns).Observe(finished.Sub(started).Seconds())
	c.slots.done()

	switch cause := context.Cause(ctx); {
	case errors.Is(cause, ErrClaimLost):
		c.stats.lost.Add(1)
		c.metrics.lost.Inc()
		c.log.WarnContext(rctx, "claim lost while the handler ran; result dropped", "step_uuid", f.step.Step.UUID,
			"step", f.step.Step.Name, "correlation_id", f.step.Task.CorrelationID)
		return
	case cause != nil && (!returned || !res.success):
		// The worker is stopping (ErrShuttingDown, or Stop ran out of
		// time): give the step back rather than report a failure it did
		// not cause.
		c.flights.setPhase(f, phaseReleasing)
		return
	case timedOut && (!returned || !res.success):
		res = timeoutResult(timeout)
	default:
		res = res.withEvents(sc.events)
		c.countEvents(res.events)
	}
	if span != nil {
		endStepSpan(span, res)
	}
	raw, success, errorType := buildResult(f.step, res, runInfo{
		workerID: c.cfg.WorkerID, hostname: c.opts.Hostname, started: started, finished: finished,
	})
	if !c.flights.setPhase(f, phaseCompleting) {
		return // the claim was lost meanwhile
	}
	c.completer.submit(pending{
		flight:    f,
		errorType: errorType,
		result: store.StepResult{
			StepUUID: f.step.Step.UUID, TaskUUID: f.step.Task.UUID, Attempt: f.step.Step.Attempts,
			WorkerID: c.cfg.WorkerID, CorrelationID: f.step.Task.CorrelationID, Success: success, Result: raw,
			ExecutionMs: finished.Sub(started).Milliseconds(), ClaimedAt: f.step.Step.LastAttemptedAt,
			Queue: f.queue, MessageID: f.step.MessageID, ReadCount: f.step.ReadCount,
		},
	})
}
