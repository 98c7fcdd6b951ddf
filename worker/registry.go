package worker

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/tasker-go/tasker/shared/stepresult"
)

// Registry maps handler.callable strings to what runs their steps: typed
// handlers added with Register, or any Executor added with
// RegisterExecutor. It is itself the Executor of the Go handlers a worker
// runs, and safe for concurrent use.
type Registry struct {
	mu       sync.RWMutex
	handlers map[string]Executor
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{handlers: map[string]Executor{}} }

// RegisterExecutor makes e run the steps of callable. Typed handlers go
// through Register; this is for executors that serve one callable (a
// handler hosted elsewhere, or a wrapper around another registry's
// executor). Registering an empty callable, a nil executor or a callable
// twice is an error: two handlers for one name is always a mistake.
func (r *Registry) RegisterExecutor(callable string, e Executor) error {
	if callable == "" {
		return fmt.Errorf("registering handler: empty callable")
	}
	if e == nil {
		return fmt.Errorf("registering handler %q: nil handler", callable)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.handlers[callable]; dup {
		return fmt.Errorf("registering handler %q: already registered", callable)
	}
	r.handlers[callable] = e
	return nil
}

// Lookup returns the executor of callable's handler.
func (r *Registry) Lookup(callable string) (Executor, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.handlers[callable]
	return e, ok
}

// Callables lists the registered callables, sorted.
func (r *Registry) Callables() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.handlers))
	for c := range r.handlers {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Execute runs the handler registered under the step's callable, or fails
// the step with handler_not_found.
func (r *Registry) Execute(ctx context.Context, step *StepContext) Result {
	if e, ok := r.Lookup(step.Callable()); ok {
		return e.Execute(ctx, step)
	}
	return handlerNotFound(step.Callable())
}

func handlerNotFound(callable string) Result {
	return systemFailure(fmt.Sprintf("no handler is registered for callable %q", callable),
		stepresult.ErrorTypeHandlerNotFound, false)
}
