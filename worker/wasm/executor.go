package wasm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"

	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/worker"
)

// Executor runs the steps of WASM handlers. It is a worker.Executor: give
// it to a worker as OpenOptions.Fallback (beside a Registry of Go
// handlers), or register it for single callables. It is safe for
// concurrent use; Close releases it.
type Executor struct {
	cfg   Config
	log   *slog.Logger
	rt    wazero.Runtime
	cache wazero.CompilationCache

	mu      sync.Mutex
	modules map[string]*module
	closed  bool

	watch *watcher
}

// New validates cfg and starts a WASM runtime. Modules are loaded when a
// step first needs them (Preload loads them up front). log may be nil
// (slog.Default()).
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Executor, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	var cache wazero.CompilationCache
	if cfg.CompilationCacheDir != "" {
		if cache, err = wazero.NewCompilationCacheWithDir(cfg.CompilationCacheDir); err != nil {
			return nil, fmt.Errorf("wasm: CompilationCacheDir: %w", err)
		}
	} else {
		cache = wazero.NewCompilationCache()
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithMemoryLimitPages(cfg.memoryLimitPages()).
		// The step's timeout stops a module through the checks
		// instrumentLoops adds, not wazero's, which leave the native code
		// at every loop iteration (see loopcheck.go).
		WithCloseOnContextDone(false).
		WithCompilationCache(cache))
	if err := instantiateLoopCheck(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		_ = cache.Close(ctx)
		return nil, fmt.Errorf("wasm: instantiating the loop check: %w", err)
	}
	if err := instantiateWASI(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		_ = cache.Close(ctx)
		return nil, fmt.Errorf("wasm: instantiating WASI: %w", err)
	}
	return &Executor{cfg: cfg, log: log, rt: rt, cache: cache, modules: map[string]*module{}, watch: newWatcher()}, nil
}

// Close releases every module and instance. Steps still running fail.
func (x *Executor) Close(ctx context.Context) error {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return nil
	}
	x.closed = true
	x.mu.Unlock()
	x.watch.stopWatching()
	return errors.Join(x.rt.Close(ctx), x.cache.Close(ctx))
}

// Resolve returns the module and function a callable names: through
// Config.Callables, else the wasm:<module>/<function> form. ok is false
// for a callable that names no WASM handler.
func (x *Executor) Resolve(callable string) (module, function string, ok bool, err error) {
	target, mapped := x.cfg.Callables[callable]
	if !mapped {
		rest, found := strings.CutPrefix(callable, CallablePrefix)
		if !found {
			return "", "", false, nil
		}
		target = rest
	}
	module, function, err = splitTarget(target)
	if err != nil {
		return "", "", true, fmt.Errorf("callable %q: %w", callable, err)
	}
	return module, function, true, nil
}

// Execute runs the step's handler in an instance of its module that no
// other step uses meanwhile.
func (x *Executor) Execute(ctx context.Context, step *worker.StepContext) worker.Result {
	callable := step.Callable()
	name, fn, ok, err := x.Resolve(callable)
	switch {
	case err != nil:
		return fail(err.Error(), stepresult.ErrorTypeHandlerNotFound)
	case !ok:
		return fail(fmt.Sprintf("no handler is registered for callable %q (WASM callables are %smodule/function or mapped in the configuration)",
			callable, CallablePrefix), stepresult.ErrorTypeHandlerNotFound)
	}
	v, err := x.current(ctx, name)
	if err != nil {
		return fail(err.Error(), stepresult.ErrorTypeHandlerNotFound)
	}
	if !v.handlers[fn] {
		v.release(nil)
		return fail(fmt.Sprintf("wasm module %s (%s) exports no handler %q; it exports %v",
			v.name, v.stamp.path, fn, v.handlerNames()), stepresult.ErrorTypeHandlerNotFound)
	}
	inst, out, err := x.run(ctx, v, fn, step)
	v.release(inst)
	if err != nil {
		if ctx.Err() != nil {
			// The worker reports the timeout (or releases the step when
			// it is stopping).
			return worker.ResultOf(nil, err)
		}
		return fail(err.Error(), stepresult.ErrorTypeHandlerPanic)
	}
	res, err := worker.DecodeResult(out)
	if err != nil {
		return fail(fmt.Sprintf("wasm handler %s/%s: %v", name, fn, err), stepresult.ErrorTypeInvalidResult)
	}
	return res
}

// run calls fn in an instance of v. The instance it returns (nil when it
// must not serve again) goes back to v.
func (x *Executor) run(ctx context.Context, v *version, fn string, step *worker.StepContext) (*instance, []byte, error) {
	event, err := worker.StepEvent(ctx, step)
	if err != nil {
		return nil, nil, err
	}
	state := &callState{}
	cctx := context.WithValue(ctx, callStateKey{}, state)
	inst := v.take()
	if inst == nil {
		if inst, err = v.instantiate(cctx); err != nil {
			return nil, nil, err
		}
	}
	out, err := inst.call(cctx, v.name, fn, event)
	var ce *callError
	if errors.As(err, &ce) {
		inst.close()
		inst = nil
	}
	if denied := state.deniedFiles(); len(denied) > 0 {
		// The sandbox refused a file: whatever the handler made of it,
		// the step fails and says why.
		msg := fmt.Sprintf("wasm handler %s/%s: %s", v.name, fn, describeDenied(denied))
		if err != nil {
			msg += " (" + err.Error() + ")"
		}
		return inst, nil, errors.New(msg)
	}
	return inst, out, err
}

// fail is a permanent failure of the given error type.
func fail(msg, errorType string) worker.Result {
	return worker.ResultOf(nil, worker.Permanent(worker.WithErrorType(errors.New(msg), errorType)))
}

// Handlers lists the handlers a module exports (loading it if needed).
func (x *Executor) Handlers(ctx context.Context, module string) ([]string, error) {
	if err := checkModuleName(module); err != nil {
		return nil, err
	}
	v, err := x.current(ctx, module)
	if err != nil {
		return nil, err
	}
	defer v.release(nil)
	return v.handlerNames(), nil
}

// Callables lists the callables the executor serves, for the worker's
// routing (worker.CallableSet): what ListCallables finds now. A module that
// does not load is logged and left out, so steps of its callables wait for
// a worker that can run them. The worker reads the list again when
// CallablesChanged says it changed.
func (x *Executor) Callables() []string {
	out, err := x.ListCallables(context.Background())
	if err != nil {
		x.log.Warn("wasm: some modules do not load; their callables are not served", "err", err)
	}
	return out
}

var _ worker.CallableSet = (*Executor)(nil)

// ListCallables lists every callable the executor serves: wasm:<module>/<function>
// for each handler of each module on the module paths, and each mapped
// callable whose handler exists, sorted. A module that does not load is
// reported in the error; the others are still listed.
func (x *Executor) ListCallables(ctx context.Context) ([]string, error) {
	names, err := x.moduleNames()
	if err != nil {
		return nil, err
	}
	serves := map[string]bool{}
	var errs []error
	for _, name := range names {
		fns, err := x.Handlers(ctx, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, fn := range fns {
			serves[CallablePrefix+name+"/"+fn] = true
		}
	}
	for callable, target := range x.cfg.Callables {
		if serves[CallablePrefix+target] {
			serves[callable] = true
		}
	}
	out := make([]string, 0, len(serves))
	for c := range serves {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, errors.Join(errs...)
}

// moduleNames lists the modules on the module paths.
func (x *Executor) moduleNames() ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, dir := range x.cfg.ModulePaths {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("wasm: reading module path: %w", err)
		}
		for _, e := range entries {
			name, ok := strings.CutSuffix(e.Name(), ".wasm")
			if !ok || e.IsDir() || seen[name] || checkModuleName(name) != nil {
				continue
			}
			seen[name] = true
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Check reports the callables among those given that name a WASM handler
// which no module exports (a missing module, a missing function, a module
// that does not load), one error per callable. Callables that are not
// WASM callables are ignored.
func (x *Executor) Check(ctx context.Context, callables []string) error {
	var errs []error
	for _, c := range callables {
		name, fn, ok, err := x.Resolve(c)
		switch {
		case err != nil:
			errs = append(errs, err)
			continue
		case !ok:
			continue
		}
		v, err := x.current(ctx, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("callable %q: %w", c, err))
			continue
		}
		if !v.handlers[fn] {
			errs = append(errs, fmt.Errorf("callable %q: wasm module %s (%s) exports no handler %q; it exports %v",
				c, name, filepath.Base(v.stamp.path), fn, v.handlerNames()))
		}
		v.release(nil)
	}
	return errors.Join(errs...)
}
