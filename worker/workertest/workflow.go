package workertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/worker"
)

// StepRun is what happened to one step of a workflow run.
type StepRun struct {
	Name string
	// Attempts is how many times the handler ran (0 when the step never ran
	// because an ancestor failed).
	Attempts int
	// Result is the last attempt's result.
	Result worker.Result
	// Events are the domain events the last attempt published (the ones
	// a worker would attach to its result; orchestration then publishes
	// those whose condition matches the outcome).
	Events []stepresult.DomainEvent
}

// Ran reports whether the step's handler ran at all.
func (s StepRun) Ran() bool { return s.Attempts > 0 }

// Succeeded reports whether the step's last attempt succeeded.
func (s StepRun) Succeeded() bool { return s.Attempts > 0 && s.Result.IsSuccess() }

// WorkflowRun is the outcome of RunTemplate.
type WorkflowRun struct {
	// Order is the order the steps were considered in (a topological order).
	Order []string
	// Steps maps each step name to its run.
	Steps map[string]*StepRun
}

// Complete reports whether every step succeeded.
func (w *WorkflowRun) Complete() bool {
	for _, s := range w.Steps {
		if !s.Succeeded() {
			return false
		}
	}
	return true
}

// Failed lists the steps whose handler ran and failed for good, in Order.
func (w *WorkflowRun) Failed() []string {
	var out []string
	for _, n := range w.Order {
		if s := w.Steps[n]; s.Ran() && !s.Result.IsSuccess() {
			out = append(out, n)
		}
	}
	return out
}

// Step returns the run of the named step (nil when the template has no
// such step).
func (w *WorkflowRun) Step(name string) *StepRun { return w.Steps[name] }

// RunTemplate runs every step of t in memory with the handlers in r, for a
// task with the given context (any JSON-encodable value or JSON text).
//
// It mirrors a worker and orchestration closely enough to test handlers:
// the context is checked against the template's input_schema first; a step
// runs once all its dependencies succeeded and sees the results of all its
// completed ancestors; a failure is retried at once (backoff is skipped)
// while the handler says it is retryable, the template's retry.retryable is
// true and attempts remain (max_attempts 0 still allows the first attempt);
// a step's timeout_seconds bounds each attempt. A step whose ancestor failed
// is left with no attempts.
//
// The error reports problems with the setup, not handler failures: an
// invalid context, a callable with no handler, a step type that needs the
// orchestrator (decision, batchable, batch_worker, deferred_convergence).
func RunTemplate(ctx context.Context, t *template.Template, r *worker.Registry, taskContext any) (*WorkflowRun, error) {
	rawCtx, err := encodeJSON(taskContext)
	if err != nil {
		return nil, fmt.Errorf("encoding task context: %w", err)
	}
	if errs := t.ValidateContext(rawCtx); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("task context does not match the input_schema of %s: %s", t.Key(), strings.Join(msgs, "; "))
	}
	var setup []error
	for i := range t.Steps {
		s := &t.Steps[i]
		if s.Type != "" && s.Type != template.StepStandard {
			setup = append(setup, fmt.Errorf("step %q is of type %s, which RunTemplate does not run", s.Name, s.Type))
		}
		if _, ok := r.Lookup(s.Handler.Callable); !ok {
			setup = append(setup, fmt.Errorf("step %q: no handler registered for callable %q", s.Name, s.Handler.Callable))
		}
	}
	if len(setup) > 0 {
		return nil, fmt.Errorf("running %s: %w", t.Key(), errors.Join(setup...))
	}

	taskID := uuid.NewSHA1(idSpace, []byte("template/"+t.Key()))
	run := &WorkflowRun{Order: t.TopologicalOrder(), Steps: map[string]*StepRun{}}
	stored := map[string]worker.Result{} // successful steps' results
	for _, name := range run.Order {
		s, _ := t.Step(name)
		sr := &StepRun{Name: name}
		run.Steps[name] = sr
		if !parentsSucceeded(s, run) {
			continue
		}
		b := NewStep(name).
			WithTaskUUID(taskID).
			WithTask(t.NamespaceName, t.Name, t.Version).
			WithContext(rawCtx).
			WithConfig(s.Handler.Initialization).
			WithMethod(s.Handler.Method).
			WithCallable(s.Handler.Callable).
			WithRetryable(s.Retry.Retryable).
			WithTimeout(s.TimeoutSeconds).
			WithEvents(s.PublishesEvents...)
		for _, anc := range ancestors(t, name) {
			if res, ok := stored[anc]; ok {
				b.WithDependency(anc, res.Value())
			}
		}
		h, _ := r.Lookup(s.Handler.Callable)
		limit := max(s.Retry.MaxAttempts, 1)
		for attempt := 1; ; attempt++ {
			b.WithAttempt(attempt, s.Retry.MaxAttempts)
			data, err := b.Data()
			if err != nil {
				return nil, fmt.Errorf("building step %q: %w", name, err)
			}
			sr.Attempts = attempt
			sc := worker.NewStepContext(data)
			sr.Result = runAttempt(ctx, h, sc, s.TimeoutSeconds)
			sr.Events = sc.PublishedEvents()
			if sr.Result.IsSuccess() || !sr.Result.Retryable() || !s.Retry.Retryable || attempt >= limit {
				break
			}
			if err := ctx.Err(); err != nil {
				return run, fmt.Errorf("running %s: %w", t.Key(), err)
			}
		}
		if sr.Result.IsSuccess() {
			stored[name] = sr.Result
		}
	}
	return run, nil
}

func runAttempt(ctx context.Context, e worker.Executor, step *worker.StepContext, timeoutSeconds int) worker.Result {
	if timeoutSeconds > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(timeoutSeconds)*time.Second)
		defer cancel()
	}
	return execute(ctx, e, step)
}

func parentsSucceeded(s *template.Step, run *WorkflowRun) bool {
	for _, d := range s.Dependencies {
		if p := run.Steps[d]; p == nil || !p.Succeeded() {
			return false
		}
	}
	return true
}

// ancestors lists every step name reachable backwards from name.
func ancestors(t *template.Template, name string) []string {
	seen := map[string]bool{}
	var out []string
	var walk func(string)
	walk = func(n string) {
		s, ok := t.Step(n)
		if !ok {
			return
		}
		for _, d := range s.Dependencies {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
				walk(d)
			}
		}
	}
	walk(name)
	return out
}
