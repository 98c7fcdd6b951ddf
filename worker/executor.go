package worker

import "context"

// Executor runs one step and returns its result. It is the seam that hosts
// handlers of every kind: the typed Go handlers of a Registry (itself an
// Executor), Ruby and Python handlers behind the C ABI (ChannelExecutor),
// WASM modules.
//
// Execute should return when ctx ends; the worker does not wait for it past
// the step's timeout. The worker recovers panics, enforces the timeout and
// turns the Result into the stored step execution result, so an executor
// only runs business logic.
type Executor interface {
	Execute(ctx context.Context, step *StepContext) Result
}

// router sends a step to the Go handler registered under its callable, else
// to the fallback executor, else fails it with handler_not_found.
type router struct {
	reg      *Registry
	fallback Executor
}

func (r router) Execute(ctx context.Context, step *StepContext) Result {
	if e, ok := r.reg.Lookup(step.Callable()); ok {
		return e.Execute(ctx, step)
	}
	if r.fallback != nil {
		return r.fallback.Execute(ctx, step)
	}
	return handlerNotFound(step.Callable())
}
