package wasm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Exports every module of the handler ABI provides, and the reactor
// initialiser called once per instance.
const (
	exportABIVersion = "tasker_abi_version"
	exportAlloc      = "tasker_alloc"
	exportFree       = "tasker_free"
	exportInitialize = "_initialize"
	// ABIVersion is the version of the handler ABI this host speaks.
	ABIVersion = 1
)

// ErrModuleNotFound: no <module>.wasm in the module paths.
var ErrModuleNotFound = errors.New("wasm module not found")

// fileStamp identifies one version of a module file.
type fileStamp struct {
	path    string
	size    int64
	modTime time.Time
}

func stampOf(path string, fi os.FileInfo) fileStamp {
	return fileStamp{path: path, size: fi.Size(), modTime: fi.ModTime()}
}

// module is one module name: the version new steps get, replaced when its
// file changes.
type module struct {
	name string

	mu        sync.Mutex
	cur       *version
	checked   time.Time // when the file was last looked at
	failed    fileStamp // a file version that did not load
	failedErr error
}

// version is one compiled version of a module with its pool of idle
// instances. It is closed once it is replaced and its last instance is
// returned.
type version struct {
	x        *Executor
	name     string
	stamp    fileStamp
	compiled wazero.CompiledModule
	handlers map[string]bool

	mu      sync.Mutex
	idle    []*instance
	active  int
	retired bool
}

// compile loads and checks one module file.
func (x *Executor) compile(ctx context.Context, name string, st fileStamp) (*version, error) {
	data, err := os.ReadFile(st.path)
	if err != nil {
		return nil, fmt.Errorf("reading wasm module %s: %w", name, err)
	}
	if !x.cfg.UninterruptibleLoops {
		if data, err = instrumentLoops(data); err != nil {
			// The file is not a module wazero would take either: say so
			// as a compilation error.
			return nil, fmt.Errorf("compiling wasm module %s (%s): %w", name, st.path, err)
		}
	}
	cm, err := x.rt.CompileModule(ctx, data)
	if err != nil {
		return nil, fmt.Errorf("compiling wasm module %s (%s): %w", name, st.path, err)
	}
	v := &version{x: x, name: name, stamp: st, compiled: cm, handlers: map[string]bool{}}
	exports := cm.ExportedFunctions()
	var missing []string
	for _, req := range []struct {
		name   string
		params []api.ValueType
		result []api.ValueType
	}{
		{exportABIVersion, nil, []api.ValueType{api.ValueTypeI32}},
		{exportAlloc, []api.ValueType{api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}},
		{exportFree, []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, nil},
	} {
		def, ok := exports[req.name]
		if !ok || !sameTypes(def.ParamTypes(), req.params) || !sameTypes(def.ResultTypes(), req.result) {
			missing = append(missing, fmt.Sprintf("%s%s", req.name, signature(req.params, req.result)))
		}
	}
	if len(missing) > 0 {
		_ = cm.Close(ctx)
		return nil, fmt.Errorf("wasm module %s (%s) does not implement the handler ABI: missing export %v", name, st.path, missing)
	}
	if _, ok := cm.ExportedMemories()["memory"]; !ok {
		_ = cm.Close(ctx)
		return nil, fmt.Errorf("wasm module %s (%s) does not export its memory as \"memory\"", name, st.path)
	}
	for fn, def := range exports {
		if isHandlerSignature(def) && !reservedExport(fn) {
			v.handlers[fn] = true
		}
	}
	return v, nil
}

func reservedExport(name string) bool {
	switch name {
	case exportABIVersion, exportAlloc, exportFree, exportInitialize, "_start":
		return true
	}
	return false
}

// isHandlerSignature: (i32 address, i32 length) -> i64 packed result.
func isHandlerSignature(def api.FunctionDefinition) bool {
	return sameTypes(def.ParamTypes(), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}) &&
		sameTypes(def.ResultTypes(), []api.ValueType{api.ValueTypeI64})
}

func sameTypes(a, b []api.ValueType) bool { return slices.Equal(a, b) }

func signature(params, results []api.ValueType) string {
	name := func(ts []api.ValueType) string {
		s := "("
		for i, t := range ts {
			if i > 0 {
				s += ", "
			}
			s += api.ValueTypeName(t)
		}
		return s + ")"
	}
	return name(params) + " -> " + name(results)
}

// handlerNames lists the handlers the version exports, sorted.
func (v *version) handlerNames() []string {
	out := make([]string, 0, len(v.handlers))
	for fn := range v.handlers {
		out = append(out, fn)
	}
	sort.Strings(out)
	return out
}

// find locates <name>.wasm on the module paths.
func (x *Executor) find(name string) (string, os.FileInfo, error) {
	for _, dir := range x.cfg.ModulePaths {
		p := filepath.Join(dir, name+".wasm")
		fi, err := os.Stat(p)
		if err == nil && fi.Mode().IsRegular() {
			return p, fi, nil
		}
	}
	return "", nil, fmt.Errorf("%w: no %s.wasm in %v", ErrModuleNotFound, name, x.cfg.ModulePaths)
}

// current returns the version of the module that new steps get, loading
// it, or a newer file, when needed. When a changed file does not load the
// previous version keeps serving (the problem is logged once).
func (x *Executor) current(ctx context.Context, name string) (*version, error) {
	x.mu.Lock()
	m := x.modules[name]
	if m == nil {
		m = &module{name: name}
		x.modules[name] = m
	}
	x.mu.Unlock()

	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if m.cur != nil && now.Sub(m.checked) < x.cfg.ReloadInterval {
		return m.cur.acquire(), nil
	}
	m.checked = now
	path, fi, err := x.find(name)
	if err != nil {
		if m.cur != nil {
			// The file went away: keep serving what was loaded.
			return m.cur.acquire(), nil
		}
		return nil, err
	}
	st := stampOf(path, fi)
	if m.cur != nil && m.cur.stamp == st {
		return m.cur.acquire(), nil
	}
	if m.failed == st {
		if m.cur != nil {
			return m.cur.acquire(), nil
		}
		return nil, m.failedErr
	}
	v, err := x.compile(ctx, name, st)
	if err != nil {
		m.failed, m.failedErr = st, err
		if m.cur != nil {
			x.log.Warn("wasm module changed but does not load; the previous version keeps serving", "module", name, "error", err)
			return m.cur.acquire(), nil
		}
		return nil, err
	}
	if m.cur != nil {
		x.log.Info("wasm module reloaded", "module", name, "path", path)
		m.cur.retire()
	}
	m.cur = v
	return v.acquire(), nil
}

// acquire counts a step using v.
func (v *version) acquire() *version {
	v.mu.Lock()
	v.active++
	v.mu.Unlock()
	return v
}

// release ends a step's use of v, keeping inst (when not nil) for the
// next step.
func (v *version) release(inst *instance) {
	v.mu.Lock()
	v.active--
	keep := inst != nil && !v.retired && len(v.idle) < v.x.cfg.MaxIdleInstances && !v.x.cfg.FreshInstances
	if keep {
		v.idle = append(v.idle, inst)
	}
	closeNow := v.retired && v.active == 0
	v.mu.Unlock()
	if inst != nil && !keep {
		inst.close()
	}
	if closeNow {
		_ = v.compiled.Close(context.Background())
	}
}

// retire stops v from serving new steps: its idle instances are closed now,
// the compiled module once the last step using it ends.
func (v *version) retire() {
	v.mu.Lock()
	v.retired = true
	idle := v.idle
	v.idle = nil
	closeNow := v.active == 0
	v.mu.Unlock()
	for _, inst := range idle {
		inst.close()
	}
	if closeNow {
		_ = v.compiled.Close(context.Background())
	}
}

// take returns an idle instance, or nil.
func (v *version) take() *instance {
	v.mu.Lock()
	defer v.mu.Unlock()
	if n := len(v.idle); n > 0 {
		inst := v.idle[n-1]
		v.idle = v.idle[:n-1]
		return inst
	}
	return nil
}
