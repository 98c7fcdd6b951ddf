package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
)

// pending is a result waiting for its commit.
type pending struct {
	flight    *flight
	result    store.StepResult
	errorType string
	replaced  bool // the result was replaced by a storage-failure result
}

// completer commits results in batches (group commit): one writer takes
// everything that has accumulated, up to completion.batch_size, and commits
// it in one store.CompleteSteps transaction. A lone result is written at
// once; results arriving while a write is in flight wait for the next one.
// A failed write is retried with backoff; a result is never dropped while
// the process lives.
type completer struct {
	c *Core

	mu       sync.Mutex
	queue    []pending
	kick     chan struct{} // buffered 1: results arrived
	stop     chan struct{} // closed by flush
	finished chan struct{} // closed when run returns
	stopOnce sync.Once
}

func newCompleter(c *Core) *completer {
	return &completer{c: c, kick: make(chan struct{}, 1), stop: make(chan struct{}), finished: make(chan struct{})}
}

// submit queues a result for commit; it never blocks.
func (p *completer) submit(r pending) {
	p.mu.Lock()
	p.queue = append(p.queue, r)
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// waiting reports how many results wait for a write to start.
func (p *completer) waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// takeBatch removes up to n results from the front of the queue.
func (p *completer) takeBatch(batch []pending, n int) []pending {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := min(n-len(batch), len(p.queue))
	batch = append(batch, p.queue[:k]...)
	p.queue = p.queue[k:]
	if len(p.queue) == 0 {
		p.queue = nil // let the backing array go
	}
	return batch
}

// requeue puts results back at the front of the queue.
func (p *completer) requeue(rs []pending) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queue = append(append([]pending(nil), rs...), p.queue...)
}

// flush asks the completer to commit everything it holds and return, and
// waits for it (or for ctx; then results still held are lost with the
// process, and their steps are reclaimed after their claim deadline).
func (p *completer) flush(ctx context.Context) error {
	p.stopOnce.Do(func() { close(p.stop) })
	select {
	case <-p.finished:
		return nil
	case <-ctx.Done():
		p.c.cancelRun() // abort the write in progress
		<-p.finished
		if n := p.waiting(); n > 0 {
			return fmt.Errorf("stopped before %d results were committed: %w", n, ctx.Err())
		}
		return nil
	}
}

// run is the completer loop. One writer: under load PostgreSQL is the
// bottleneck, and a second writer only made the batches smaller (measured
// on two cores; see docs/benchmarks.md).
func (p *completer) run() {
	defer p.c.bg.Done()
	defer close(p.finished)
	size := p.c.cfg.Completion.BatchSize
	for {
		batch := p.takeBatch(nil, size)
		if len(batch) == 0 {
			select {
			case <-p.kick:
				continue
			case <-p.stop:
				if p.waiting() == 0 {
					return
				}
				continue
			}
		}
		if wait := p.c.cfg.Completion.FlushInterval; wait > 0 && len(batch) < size {
			batch = p.fill(batch, size, wait)
		}
		if !p.write(batch) {
			return // Stop ran out of time
		}
	}
}

// fill waits up to wait for more results to share the batch's transaction.
func (p *completer) fill(batch []pending, size int, wait time.Duration) []pending {
	t := time.NewTimer(wait)
	defer t.Stop()
	for len(batch) < size {
		select {
		case <-p.kick:
			batch = p.takeBatch(batch, size)
		case <-t.C:
			return batch
		case <-p.stop:
			return p.takeBatch(batch, size)
		}
	}
	return batch
}

// Retry policy of failed writes.
const (
	writeRetryMin       = 50 * time.Millisecond
	writeRetryMax       = 5 * time.Second
	splitAfterFailures  = 3 // a failing batch is split in halves after this many tries
	replaceAfterFailure = 5 // a lone result failing this often while the database answers is replaced
)

// write commits batch, retrying until it succeeds. It returns false when
// the worker's run context ended (Stop ran out of time).
func (p *completer) write(batch []pending) bool {
	c := p.c
	delay := writeRetryMin
	failures := 0
	for {
		results := make([]store.StepResult, len(batch))
		for i, r := range batch {
			results[i] = r.result
		}
		ctx, cancel := c.opCtx()
		var out store.CompleteOutcome
		var err error
		if c.cfg.Completion.ProcessSuccesses {
			next, reserved, unlock := p.continuation(results)
			out, err = c.store.CompleteAndProcessSteps(ctx, results, next)
			p.continued(reserved, out.Claimed, out.ClaimErr, err)
			unlock()
		} else {
			out, err = c.store.CompleteSteps(ctx, results)
		}
		cancel()
		if err == nil {
			if out.Predicted {
				c.metrics.predicted.Inc()
			}
			p.committed(batch, out)
			return true
		}
		if c.runCtx.Err() != nil {
			p.requeue(batch)
			return false
		}
		failures++
		c.metrics.completionErrs.Inc()
		c.log.Warn("committing step results failed; retrying", "results", len(batch), "err", err, "retry_in", delay)
		switch {
		case len(batch) > 1 && failures >= splitAfterFailures:
			// One bad result must not hold the others back: try halves.
			half := len(batch) / 2
			p.requeue(batch[half:])
			batch, failures, delay = batch[:half], 0, writeRetryMin
		case len(batch) == 1 && failures >= replaceAfterFailure && !batch[0].replaced && p.databaseAnswers():
			r, rerr := replaceUnstorable(batch[0], err)
			if rerr != nil {
				c.log.Error("step result cannot be stored, nor a failure saying so; retrying it",
					"step_uuid", batch[0].result.StepUUID, "task_uuid", batch[0].result.TaskUUID,
					"correlation_id", batch[0].result.CorrelationID, "err", err, "replace_err", rerr)
				break
			}
			c.log.Error("step result cannot be stored; recording a failure instead",
				"step_uuid", batch[0].result.StepUUID, "task_uuid", batch[0].result.TaskUUID,
				"correlation_id", batch[0].result.CorrelationID, "err", err)
			batch[0] = r
			failures, delay = 0, writeRetryMin
		}
		select {
		case <-time.After(delay):
		case <-c.runCtx.Done():
			p.requeue(batch)
			return false
		}
		delay = min(2*delay, writeRetryMax)
	}
}

// continuation reserves handler slots for the steps the batch's successes
// may make ready, so the write can claim them for this worker at once (see
// store.Continuation): one per success, up to claims.batch_size. Nothing
// is reserved while the worker does not hold its liveness lock or is
// stopping. It returns nil when nothing is reserved; unlock, to call once
// the claimed steps are dispatched, lets closeClaims proceed (see
// Core.claimGate).
func (p *completer) continuation(results []store.StepResult) (next *store.Continuation, reserved int, unlock func()) {
	c := p.c
	none := func() {}
	successes := 0
	for _, r := range results {
		if r.Success {
			successes++
		}
	}
	if successes == 0 {
		return nil, 0, none
	}
	if held, _ := c.live.state(); !held {
		return nil, 0, none
	}
	c.claimGate.RLock()
	select {
	case <-c.stopClaims:
		c.claimGate.RUnlock()
		return nil, 0, none
	default:
	}
	n, _ := c.slots.reserve(min(successes, c.cfg.Claims.BatchSize))
	if n == 0 {
		c.claimGate.RUnlock()
		return nil, 0, none
	}
	reg := c.registered()
	queues := make([]string, len(reg.namespaces))
	for i, ns := range reg.namespaces {
		queues[i] = messaging.WorkerQueue(ns)
	}
	return &store.Continuation{Claimer: c.claimer(), Queues: queues, Max: n,
		Visibility: c.cfg.Claims.VisibilityTimeout}, n, c.claimGate.RUnlock
}

// continued starts the handlers of the steps a write claimed and gives
// back the slots it did not use. After a write whose outcome is unknown, or
// whose claimed steps could not be read, it may have claimed steps no
// handler runs: they are released at once (or, should that fail, when
// their claim lapses).
func (p *completer) continued(reserved int, claimed []store.ClaimedStep, claimErr, err error) {
	c := p.c
	if reserved == 0 {
		return
	}
	c.slots.settle(reserved, len(claimed))
	for i := range claimed {
		q := messaging.WorkerQueue(claimed[i].Task.Namespace)
		c.dispatch(&claimed[i], q, claimed[i].Deadline)
		c.stats.claimed.Add(1)
		c.metrics.claimed.WithLabelValues(claimed[i].Task.Namespace).Inc()
	}
	if (err != nil && store.OutcomeUnknown(err)) || (err == nil && claimErr != nil) {
		for _, ns := range c.registered().namespaces {
			c.reconcileClaims(messaging.WorkerQueue(ns))
		}
	}
}

func (p *completer) databaseAnswers() bool {
	ctx, cancel := p.c.opCtx()
	defer cancel()
	return p.c.store.Ping(ctx) == nil
}

// replaceUnstorable swaps a result the database keeps rejecting for a
// non-retryable failure saying so, so the step still gets a result.
func replaceUnstorable(r pending, cause error) (pending, error) {
	res := stepresult.Failure(r.result.StepUUID, stepresult.StatusError,
		fmt.Sprintf("the handler's result could not be stored: %v", cause), stepresult.ErrorTypeInvalidResult, false)
	raw, err := json.Marshal(res)
	if err != nil {
		return r, fmt.Errorf("encoding the replacement failure: %w", err)
	}
	r.result.Result, r.result.Success = raw, false
	r.errorType, r.replaced = stepresult.ErrorTypeInvalidResult, true
	return r, nil
}

// committed updates the flight table and metrics after a commit.
func (p *completer) committed(batch []pending, out store.CompleteOutcome) {
	c := p.c
	recorded := make(map[uuid.UUID]bool, len(out.Recorded))
	for _, id := range out.Recorded {
		recorded[id] = true
	}
	for _, r := range batch {
		c.flights.remove(r.flight)
		ns := r.flight.step.Task.Namespace
		switch {
		case !recorded[r.result.StepUUID]:
			c.stats.stale.Add(1)
			c.metrics.stale.Inc()
			c.log.Info("result was stale (step no longer claimed by this worker); dropped",
				"step_uuid", r.result.StepUUID, "step", r.flight.step.Step.Name, "correlation_id", r.result.CorrelationID)
		case r.result.Success:
			c.metrics.completed.WithLabelValues(ns).Inc()
		default:
			c.metrics.failed.WithLabelValues(ns, r.errorType).Inc()
		}
	}
	if len(out.Processed) > 0 {
		processed := make(map[uuid.UUID]bool, len(out.Processed))
		for _, id := range out.Processed {
			processed[id] = true
		}
		for _, r := range batch {
			if processed[r.result.StepUUID] {
				c.metrics.results.HandlerTime(r.result.ExecutionMs)
			}
		}
		c.metrics.results.Steps(state.StepComplete, len(out.Processed))
		c.metrics.results.Outcomes(out.Tasks)
		c.stats.processed.Add(int64(len(out.Processed)))
	}
	c.stats.recorded.Add(int64(len(out.Recorded)))
	c.stats.batches.Add(1)
	c.metrics.completionBatch.Observe(float64(len(batch)))
}
