package worker

import (
	"context"
	"slices"
)

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

// CallableSet is implemented by executors that know which handler
// callables they can run: the Registry of Go handlers, the ChannelExecutor
// host of the C ABI (the callables its host declared at bootstrap), a WASM
// host (the modules it loaded). A worker claims only the steps whose
// callable its executors list, so workers with different handler sets can
// serve one namespace without taking each other's steps; a step no live
// worker can run waits in its queue (orchestration reports it as unserved).
// A Fallback executor that does not implement CallableSet makes its worker
// claim every step of its namespaces, as before routing.
type CallableSet interface {
	// Callables lists the callables the executor runs. It is read when the
	// worker starts, and again whenever a CallableWatcher says it changed.
	Callables() []string
}

var _ CallableSet = (*Registry)(nil)

// AsyncExecutor is an Executor whose handlers run outside Go and report
// their results from threads of their own: the ChannelExecutor that Ruby
// and Python poll through the C ABI. When it is the Fallback, the worker
// calls ExecuteAsync instead of Execute for the steps it serves, so no
// goroutine waits while a foreign handler runs: the result is validated,
// built into the stored result and queued for commit on the thread that
// reports it.
type AsyncExecutor interface {
	Executor
	// ExecuteAsync starts the step and returns without waiting for it; it
	// must not block. It calls done exactly once, from any goroutine or
	// from within ExecuteAsync: with the step's result and ok true, or
	// with ok false when ctx ended before a result came. done does the
	// worker's processing of the result (it may start the step again after
	// a checkpoint yield) before it returns.
	ExecuteAsync(ctx context.Context, step *StepContext, done func(r Result, ok bool))
}

// router sends a step to the Go handler registered under its callable, else
// to the fallback executor, else fails it with handler_not_found.
type router struct {
	reg      *Registry
	fallback Executor
}

// served lists the callables the worker claims: the registry's and the
// fallback's, sorted and unique; nil (claim every step) when the fallback
// does not say what it runs.
func (r router) served() []string {
	out := r.reg.Callables()
	if r.fallback != nil {
		cs, ok := r.fallback.(CallableSet)
		if !ok {
			return nil
		}
		out = append(out, cs.Callables()...)
	}
	slices.Sort(out)
	return append([]string{}, slices.Compact(out)...)
}

// async returns the fallback when it runs callable asynchronously: the
// callable has no Go handler and the fallback is an AsyncExecutor.
func (r router) async(callable string) (AsyncExecutor, bool) {
	if _, ok := r.reg.Lookup(callable); ok {
		return nil, false
	}
	ax, ok := r.fallback.(AsyncExecutor)
	return ax, ok
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
