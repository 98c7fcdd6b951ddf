package orchestration

import (
	"context"
	"time"

	"github.com/tasker-go/tasker/shared/dag"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// processNextResults is the result consumer's handler: the claim is part of
// the unit of work that processes the results (store.ProcessNextResults),
// so a batch costs one commit, and a batch that fails is visible again at
// once. Unreadable messages are acked in the same unit and logged: they can
// never succeed, and must not circulate. It returns the claimed message ids
// (for the consumer to hide them after a failure).
func (c *Core) processNextResults(ctx context.Context, n int, claimed func(int)) ([]int64, error) {
	start := time.Now()
	out, ids, err := c.store.ProcessNextResults(ctx, n, c.results.cfg.Visibility, c.decide, claimed)
	if err != nil {
		return ids, err
	}
	for _, p := range out.Unreadable {
		c.log.Error("dropped unreadable step result message", "payload", p)
	}
	if len(out.Acked) > 0 {
		c.observeResults(out, len(out.Acked), start)
	}
	return ids, nil
}

// observeResults records a processed batch in the metrics and reports the
// tasks it moved.
func (c *Core) observeResults(out store.ProcessOutcome, n int, start time.Time) {
	c.metrics.batchSize.WithLabelValues("results").Observe(float64(n))
	c.metrics.batchSeconds.WithLabelValues("results").Observe(time.Since(start).Seconds())
	for st, k := range out.Steps {
		c.metrics.results.Steps(st, k)
	}
	c.metrics.duplicates.Add(float64(out.Duplicate))
	c.metrics.stepsCreated.Add(float64(out.StepsCreated))
	c.observeOutcomes(out.Tasks)
	if c.tracer != nil && len(out.Traced) > 0 {
		c.traceResults(out, start)
	}
	if len(out.DomainEvents) > 0 {
		c.events.Published(out.DomainEvents)
		if c.eventBus != nil {
			c.eventBus.Publish(out.DomainEvents)
		}
	}
}

// decide is the retry policy. A success completes the step. A failure is
// retried only when the template allows retries, the handler said the failure
// is retryable, and attempts remain; the delay is the handler's Retry-After
// (capped) or the template's backoff. Anything else is a permanent error.
func (c *Core) decide(st store.Step, rt store.ReportedTask) store.Decision {
	r := stepresult.Parse(st.Results)
	c.metrics.results.HandlerTime(r.Metadata.ExecutionTimeMs)
	if r.Success && st.StepType == string(template.StepDecision) {
		x, err := c.decisionExtension(st, rt, r.Result)
		if err != nil {
			c.log.Warn("decision step failed: its outcome cannot be applied", "task", st.TaskUUID, "step", st.Name, "err", err)
			return store.Decision{To: state.StepError, Reason: "decision outcome: " + err.Error()}
		}
		return store.Decision{To: state.StepComplete, Extend: x}
	}
	if r.Success {
		if st.StepType == string(template.StepBatchable) {
			return batchDecision(st, rt, r)
		}
		return store.Decision{To: state.StepComplete}
	}
	return batchWorkerFailure(st, c.decideFailure(st, r))
}

// decideFailure is the retry policy of a failed step.
func (c *Core) decideFailure(st store.Step, r stepresult.Result) store.Decision {
	if st.State != state.StepEnqueuedAsErrorForOrchestration {
		return store.Decision{To: state.StepError, Reason: "failure reported as success state"}
	}
	switch {
	case !st.Retry.Retryable:
		return store.Decision{To: state.StepError, Reason: "step is not retryable"}
	case !r.Retryable():
		return store.Decision{To: state.StepError, Reason: "handler reported a permanent failure"}
	case !dag.AttemptsLeft(st.Attempts, st.Retry.MaxAttempts):
		return store.Decision{To: state.StepError, Reason: "attempts exhausted"}
	}
	delay, ok := r.RetryAfter(time.Now())
	reason := "retry after backoff"
	if ok {
		delay = min(delay, c.backoff.RetryAfterCap)
		reason = "retry after handler's Retry-After"
	} else {
		p := BackoffPolicy{
			Strategy: st.Retry.Backoff, Base: time.Duration(st.Retry.BackoffBase) * time.Millisecond,
			Max: time.Duration(st.Retry.MaxBackoffMs) * time.Millisecond, Jitter: st.Retry.Jitter && c.backoff.Jitter,
			JitterFraction: c.backoff.JitterMaxFraction,
		}
		delay = p.Delay(st.Attempts, nil)
	}
	return store.Decision{To: state.StepWaitingForRetry, Delay: delay, Reason: reason}
}
