package worker

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/tasker-go/tasker/shared/store"
)

// CallableWatcher is a CallableSet whose callables change while the worker
// runs (a WASM host whose module directory gains or loses modules). The
// worker reads Callables again each time the channel closes, claims steps
// of the new list from then on, and updates its row in the workers
// registry, without a restart.
type CallableWatcher interface {
	CallableSet
	// CallablesChanged returns a channel closed when Callables may return
	// a different list; a new call returns the channel of the next change.
	CallablesChanged() <-chan struct{}
}

// watcher is the fallback executor as a CallableWatcher, or nil.
func (r router) watcher() CallableWatcher {
	w, _ := r.fallback.(CallableWatcher)
	return w
}

// routes tells claim loops that the callables the worker claims changed.
type routes struct {
	mu      sync.Mutex
	changed chan struct{} // closed at the next change
}

func newRoutes() *routes { return &routes{changed: make(chan struct{})} }

// next returns a channel closed at the next change.
func (r *routes) next() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

func (r *routes) bump() {
	r.mu.Lock()
	defer r.mu.Unlock()
	close(r.changed)
	r.changed = make(chan struct{})
}

// callablesLoop follows a fallback executor whose callables change: each
// time they do, the worker claims by the new list (waking its claim loops,
// since steps of a new callable may be waiting) and registers it.
func (c *Core) callablesLoop(w CallableWatcher, changed <-chan struct{}) {
	defer c.bg.Done()
	for {
		select {
		case <-c.stopBG:
			return
		case <-changed:
		}
		changed = w.CallablesChanged()
		r := router{reg: c.opts.Registry, fallback: c.opts.Fallback}
		callables := r.served()
		reg := c.registered()
		if slices.Equal(callables, reg.callables) {
			continue
		}
		added, removed := diff(reg.callables, callables)
		reg.callables = callables
		c.reg.Store(&reg)
		c.routes.bump()
		c.log.Info("the callables this worker claims changed", "added", added, "removed", removed)
		ctx, cancel := c.opCtx()
		if err := c.register(ctx); err != nil {
			c.log.Warn("updating the worker's callables in the workers registry failed; orchestration may report their steps as unserved until it is registered again", "err", err)
		}
		cancel()
	}
}

// diff lists what b has that a has not, and the reverse.
func diff(a, b []string) (added, removed []string) {
	for _, s := range b {
		if !slices.Contains(a, s) {
			added = append(added, s)
		}
	}
	for _, s := range a {
		if !slices.Contains(b, s) {
			removed = append(removed, s)
		}
	}
	return added, removed
}

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
// run, and how many handlers the worker runs at once (the overview's
// saturation). Start fails when it cannot; after the liveness lock is
// taken again it is retried by the liveness loop.
func (c *Core) register(ctx context.Context) error {
	reg := c.registered()
	limit, _ := c.slots.snapshot()
	err := c.store.RegisterWorker(ctx, store.WorkerRegistration{
		Lock: c.live.key, WorkerID: c.cfg.WorkerID, Namespaces: reg.namespaces, Callables: reg.callables,
		MaxConcurrent: c.cfg.Handlers.MaxConcurrent, ConcurrencyLimit: limit,
	})
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	// The scaler may have moved the limit while the row was written (its
	// update found no row yet, or was overwritten): write the new one.
	if now, _ := c.slots.snapshot(); now != limit {
		c.recordLimit(now)
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
