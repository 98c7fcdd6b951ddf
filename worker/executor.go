package worker

import (
	"context"
	"fmt"

	"github.com/tasker-go/tasker/shared/stepresult"
)

// Executor runs one claimed step and returns its result. It is the seam
// that hosts handlers of every kind: Go handlers in process (GoExecutor),
// Ruby and Python handlers behind the C ABI (ChannelExecutor), WASM modules.
//
// Execute should return when ctx ends; the worker does not wait for it past
// the step's timeout. The worker recovers panics, enforces the timeout and
// turns the Result into the stored step execution result, so an executor
// only runs business logic.
type Executor interface {
	Execute(ctx context.Context, step *StepContext) Result
}

// GoExecutor runs the Go handlers of a Registry.
type GoExecutor struct {
	reg *Registry
}

// NewGoExecutor returns an executor over reg.
func NewGoExecutor(reg *Registry) *GoExecutor { return &GoExecutor{reg: reg} }

// Execute runs the handler registered under the step's callable, or fails
// with handler_not_found.
func (g *GoExecutor) Execute(ctx context.Context, step *StepContext) Result {
	h, ok := g.reg.Lookup(step.Callable())
	if !ok {
		return handlerNotFound(step.Callable())
	}
	return h.Handle(ctx, step)
}

// router sends a step to the Go handler registered under its callable, else
// to the fallback executor, else fails it with handler_not_found.
type router struct {
	reg      *Registry
	fallback Executor
}

func (r router) Execute(ctx context.Context, step *StepContext) Result {
	if h, ok := r.reg.Lookup(step.Callable()); ok {
		return h.Handle(ctx, step)
	}
	if r.fallback != nil {
		return r.fallback.Execute(ctx, step)
	}
	return handlerNotFound(step.Callable())
}

func handlerNotFound(callable string) Result {
	return systemFailure(fmt.Sprintf("no handler is registered for callable %q", callable),
		stepresult.ErrorTypeHandlerNotFound, false)
}
