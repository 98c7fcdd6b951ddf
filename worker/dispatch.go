package worker

import (
	"context"
	"errors"
	"runtime/debug"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/tasker-go/tasker/shared/store"
)

// dispatch starts the handler of a claimed step; the caller has reserved its
// slot. deadline is the claim's deadline (the message's visibility).
//
// A Go handler runs on a goroutine of its own. A step served by an
// AsyncExecutor (handlers in another language, behind the C ABI) is handed
// to it right here, and its result is processed on the thread that reports
// it: no goroutine waits while a foreign handler runs.
func (c *Core) dispatch(cs *store.ClaimedStep, queue string, deadline time.Time) {
	ctx, cancel := context.WithCancelCause(c.runCtx)
	f := &flight{step: cs, queue: queue, cancel: cancel}
	c.flights.add(f, deadline)
	c.handlers.Add(1)
	if ax, ok := c.exec.async(cs.Step.HandlerCallable); ok {
		c.begin(ctx, f).startAsync(ax)
		return
	}
	go c.run(ctx, f)
}

// execution is one claimed step from dispatch to its result: the handler's
// contexts, what it runs with, and when it started.
type execution struct {
	c *Core
	f *flight
	// ctx is the flight's context, cancelled with ErrClaimLost or
	// ErrShuttingDown; tctx adds the step's timeout; rctx is what the
	// handler gets (tctx with the stepRun, and the span when tracing).
	ctx     context.Context
	tctx    context.Context
	tcancel context.CancelFunc
	rctx    context.Context
	timeout time.Duration
	started time.Time
	run     *stepRun
	step    *store.ClaimedStep // the step as handlers see it
	sc      *StepContext       // the current run's (a new one after each checkpoint yield)
	span    trace.Span         // nil unless traced
}

// begin starts the step's clock, timeout and span.
func (c *Core) begin(ctx context.Context, f *flight) *execution {
	timeout := stepTimeout(&f.step.Step, c.cfg.Handlers.DefaultTimeout)
	tctx, tcancel := context.WithTimeoutCause(ctx, timeout, ErrStepTimeout)
	c.metrics.inFlight.Inc()
	e := &execution{c: c, f: f, ctx: ctx, tctx: tctx, tcancel: tcancel, timeout: timeout, started: time.Now(),
		run: c.newStepRun(f), step: f.step}
	e.rctx = context.WithValue(tctx, runKey{}, e.run)
	if c.opts.Tracer != nil && f.step.Task.TraceParent != "" {
		e.rctx, e.span, e.step = c.startStepSpans(e.rctx, f.step, e.started)
	}
	e.sc = newStepContext(e.step, e.run.decls())
	return e
}

// run executes one step with a Go executor and hands its result to the
// completer (running the handler again each time it yields a checkpoint).
func (c *Core) run(ctx context.Context, f *flight) {
	e := c.begin(ctx, f)
	var res Result
	var returned, again bool
	for {
		res, returned = invoke(e.rctx, c.exec, e.sc)
		if res, again = e.afterRun(res, returned); !again {
			break
		}
	}
	e.finish(res, returned)
}

// afterRun looks at a checkpoint yield of the run that just ended. When the
// handler yielded and the step may go on, it reports again, with e.sc the
// next run's (from the checkpoint, under the same claim and timeout). A
// yield whose run ended first (timeout, shutdown, lost claim) replaces the
// result with yieldedResult.
func (e *execution) afterRun(res Result, returned bool) (Result, bool) {
	rec, yielded := e.run.takeYield()
	if !yielded {
		return res, false
	}
	if returned && e.tctx.Err() == nil {
		e.sc = newStepContext(stepWithCheckpoint(e.step, rec), e.run.decls())
		return res, true
	}
	return yieldedResult(), false
}

// startAsync hands the current run to ax. done may be called on any thread,
// or before ExecuteAsync returns; a second call is ignored, and a panic of
// ExecuteAsync becomes the step's result.
func (e *execution) startAsync(ax AsyncExecutor) {
	var reported atomic.Bool
	done := func(r Result, ok bool) {
		if !reported.Swap(true) {
			e.resume(ax, r, ok)
		}
	}
	defer func() {
		if p := recover(); p != nil {
			done(panicResult(p, debug.Stack()), true)
		}
	}()
	ax.ExecuteAsync(e.rctx, e.sc, done)
}

// resume continues an asynchronous run once its executor reported, on the
// reporting thread: the step runs again after a checkpoint yield, else its
// result is processed and queued for commit.
func (e *execution) resume(ax AsyncExecutor, res Result, returned bool) {
	res, again := e.afterRun(res, returned)
	if again {
		e.startAsync(ax)
		return
	}
	e.finish(res, returned)
}

// finish turns the run's outcome into the step's result and hands it to
// the completer, or gives the step back (the worker is stopping), or drops
// it (the claim was lost). Every claimed step ends here exactly once, in
// one of: a result (success, handler failure, panic, timeout, missing
// handler), a release, or nothing because another worker owns the step now.
func (e *execution) finish(res Result, returned bool) {
	c, f := e.c, e.f
	defer c.handlers.Done()
	defer f.cancel(nil)
	if e.span != nil {
		defer e.span.End()
	}
	finished := time.Now()
	timedOut := errors.Is(context.Cause(e.tctx), ErrStepTimeout)
	e.tcancel()
	c.metrics.inFlight.Dec()
	c.metrics.handlerDuration.WithLabelValues(f.step.Task.Namespace).Observe(finished.Sub(e.started).Seconds())
	c.slots.done()

	switch cause := context.Cause(e.ctx); {
	case errors.Is(cause, ErrClaimLost):
		c.stats.lost.Add(1)
		c.metrics.lost.Inc()
		c.log.WarnContext(e.rctx, "claim lost while the handler ran; result dropped", "step_uuid", f.step.Step.UUID,
			"step", f.step.Step.Name, "correlation_id", f.step.Task.CorrelationID)
		return
	case cause != nil && (!returned || !res.success):
		// The worker is stopping (ErrShuttingDown, or Stop ran out of
		// time): give the step back rather than report a failure it did
		// not cause.
		c.flights.setPhase(f, phaseReleasing)
		return
	case timedOut && (!returned || !res.success):
		res = timeoutResult(e.timeout)
	default:
		res = res.withEvents(e.sc.events)
		c.countEvents(res.events)
	}
	if e.span != nil {
		endStepSpan(e.span, res)
	}
	raw, success, errorType := buildResult(f.step, res, runInfo{
		workerID: c.cfg.WorkerID, hostname: c.opts.Hostname, started: e.started, finished: finished,
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
			ExecutionMs: finished.Sub(e.started).Milliseconds(), ClaimedAt: f.step.Step.LastAttemptedAt,
			Queue: f.queue, MessageID: f.step.MessageID, ReadCount: f.step.ReadCount,
		},
	})
}
