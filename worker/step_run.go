package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// ErrNoStepRun is returned by YieldCheckpoint when its context is not one
// a worker Core passed to a handler.
var ErrNoStepRun = errors.New("not called with the context of a step the worker runs")

// Checkpoint is a batch step's progress: where it got to, how many items
// it processed, and what it carries forward (any JSON, or nil).
type Checkpoint struct {
	Cursor             json.RawMessage `json:"cursor"`
	ItemsProcessed     int64           `json:"items_processed"`
	AccumulatedResults json.RawMessage `json:"accumulated_results"`
}

// YieldCheckpoint saves cp as the checkpoint of the step whose handler got
// ctx, and asks the worker to run the step again as soon as the handler
// returns: what the handler then returns is discarded, and it is called
// anew with StepContext.Checkpoint holding the saved record ({"cursor",
// "items_processed", "accumulated_results", "timestamp", "history"}). The
// worker keeps the claim, the attempt does not count again, and the step's
// timeout runs on from the first call. A step that fails or whose worker
// dies later resumes from the record on its next attempt.
//
// It returns an error wrapping ErrClaimLost when the worker no longer holds
// the step, ErrNoStepRun when ctx is not a handler's, and the store's error
// otherwise; the step is then not run again.
func YieldCheckpoint(ctx context.Context, cp Checkpoint) error {
	r := runOf(ctx)
	if r == nil {
		return ErrNoStepRun
	}
	return r.yield(ctx, cp)
}

// stepRun is one execution of a claimed step, from dispatch to its result:
// it travels in the handler's context so that executors reach the step's
// template definition and can checkpoint.
type stepRun struct {
	core   *Core
	flight *flight
	// tpl and def are the step's template and template step; nil when the
	// worker did not register the task's template.
	tpl *template.Template
	def *template.Step
	// defJSON is def as the step event's step_definition, encoded when
	// the worker started.
	defJSON json.RawMessage

	mu         sync.Mutex
	checkpoint json.RawMessage // the record saved by the last yield
	yielded    bool            // a yield waits for the handler to return
}

type runKey struct{}

func runOf(ctx context.Context) *stepRun {
	r, _ := ctx.Value(runKey{}).(*stepRun)
	return r
}

// newStepRun looks up the step's template definition among the templates
// the worker registered.
func (c *Core) newStepRun(f *flight) *stepRun {
	r := &stepRun{core: c, flight: f}
	t := f.step.Task
	if tpl := c.registered().byKey[t.Namespace+"/"+t.Name+"/"+t.Version]; tpl != nil {
		r.tpl = tpl
		name := f.step.Step.TemplateStepName
		if name == "" {
			name = f.step.Step.Name
		}
		r.def, _ = tpl.Step(name)
		r.defJSON = c.registered().defs[r.def]
	}
	return r
}

// decls are the step's declared domain events (none when the worker did
// not register the task's template).
func (r *stepRun) decls() []template.PublishedEvent {
	if r.def == nil {
		return nil
	}
	return r.def.PublishesEvents
}

// yield saves the checkpoint while the claim is held and marks the step
// for another run.
func (r *stepRun) yield(ctx context.Context, cp Checkpoint) error {
	c, cs := r.core, r.flight.step
	if len(cp.Cursor) == 0 {
		cp.Cursor = json.RawMessage(`null`)
	}
	if string(cp.AccumulatedResults) == "null" {
		cp.AccumulatedResults = nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Claims.VisibilityTimeout)
	defer cancel()
	rec, err := c.store.SaveCheckpoint(ctx, c.cfg.WorkerID, cs.Step.UUID, cs.Step.Attempts, store.Checkpoint{
		Cursor: cp.Cursor, ItemsProcessed: cp.ItemsProcessed, AccumulatedResults: cp.AccumulatedResults,
	})
	if errors.Is(err, store.ErrInvalidState) {
		return fmt.Errorf("%w: %v", ErrClaimLost, err)
	}
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.checkpoint, r.yielded = rec, true
	r.mu.Unlock()
	c.metrics.checkpoints.Inc()
	return nil
}

// takeYield reports whether a yield is waiting and returns its record.
func (r *stepRun) takeYield() (json.RawMessage, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	y := r.yielded
	r.yielded = false
	return r.checkpoint, y
}

// stepWithCheckpoint is a copy of cs carrying the checkpoint record rec.
func stepWithCheckpoint(cs *store.ClaimedStep, rec json.RawMessage) *store.ClaimedStep {
	cp := *cs
	cp.Step.Checkpoint = rec
	return &cp
}

// yieldedResult stands for a run that yielded a checkpoint but could not
// run again because its context ended (timeout, shutdown, lost claim): the
// runner treats it like any failure of a run whose context ended.
func yieldedResult() Result {
	return systemFailure("the handler yielded a checkpoint after its run ended", stepresult.ErrorTypeUnexpected, true)
}
