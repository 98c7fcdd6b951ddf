package worker

import (
	"context"
	"fmt"

	"github.com/tasker-go/tasker/shared/store"
)

// Callables are the handler callables the worker claims steps of (known
// after Start); nil when it claims every step of its namespaces (its
// fallback executor does not list what it runs, see CallableSet).
func (c *Core) Callables() []string {
	if cs := c.registered().callables; cs != nil {
		return append([]string{}, cs...)
	}
	return nil
}

// register records the worker in the workers registry under its liveness
// lock, so orchestration can tell which waiting steps no live worker can
// run. Start fails when it cannot; after the liveness lock is taken again
// it is retried by the liveness loop.
func (c *Core) register(ctx context.Context) error {
	reg := c.registered()
	err := c.store.RegisterWorker(ctx, store.WorkerRegistration{
		Lock: c.live.key, WorkerID: c.cfg.WorkerID, Namespaces: reg.namespaces, Callables: reg.callables,
	})
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return nil
}

// deregister removes the worker's registry row (Stop). A failure only
// leaves the row behind: it counts for nothing once the liveness lock is
// released, and the next worker to register removes it.
func (c *Core) deregister(ctx context.Context) {
	if err := c.store.DeregisterWorker(ctx, c.live.key); err != nil {
		c.log.Warn("removing the worker from the workers registry failed; its row is ignored once it stops", "err", err)
	}
}

// callablesLog is how the start-up log shows what the worker claims.
func callablesLog(cs []string) any {
	if cs == nil {
		return "all (unrouted)"
	}
	return cs
}
