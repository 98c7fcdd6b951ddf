package config

import (
	"fmt"
	"strings"
	"time"
)

// WorkerWasm is the [worker.wasm] section: WebAssembly step handlers run
// inside the worker (docs/wasm.md). With no module_paths (the default) the
// worker runs no WASM handlers. tasker-worker's --wasm-* flags override
// these keys.
type WorkerWasm struct {
	// ModulePaths are the directories searched, in order, for
	// <module>.wasm; a step whose callable is wasm:<module>/<function> (or
	// mapped in callables) runs the function of that module. Empty (the
	// default) means no WASM handlers.
	ModulePaths []string `toml:"module_paths"`
	// Callables map template callables to WASM handlers, each
	// "CALLABLE=module/function", for templates whose callables cannot
	// use the wasm: prefix (tasker-core's). Empty (the default) maps
	// nothing.
	Callables []string `toml:"callables"`
	// MemoryLimitMiB caps each instance's linear memory, 1-4096. Default
	// 256.
	MemoryLimitMiB int `toml:"memory_limit_mib"`
	// MaxIdleInstances is how many initialised instances of each module
	// are kept for the next steps, at least 1 (FreshInstances keeps none).
	// Default 4.
	MaxIdleInstances int `toml:"max_idle_instances"`
	// FreshInstances gives every step a new instance, so nothing survives
	// between steps (at the cost of an instantiation per step). Default
	// false.
	FreshInstances bool `toml:"fresh_instances"`
	// ReloadInterval is how often the module files are checked for
	// replaced, added and removed modules. Default 1s.
	ReloadInterval time.Duration `toml:"reload_interval"`
	// CompilationCacheDir keeps compiled modules on disk across restarts.
	// Empty (the default) means compile on every start.
	CompilationCacheDir string `toml:"compilation_cache_dir"`
	// UninterruptibleLoops compiles modules without the checks that let a
	// step's timeout stop a running module: slightly faster, for trusted
	// modules only. Default false.
	UninterruptibleLoops bool `toml:"uninterruptible_loops"`
	// SystemClock grants modules the real wall clock, monotonic clock and
	// sleep (otherwise fixed and fake). Default false.
	SystemClock bool `toml:"system_clock"`
	// SystemRandom grants modules the host's random source (otherwise
	// deterministic). Default false.
	SystemRandom bool `toml:"system_random"`
	// Env are the environment variables modules see, each "NAME=value".
	// Empty (the default) gives them none.
	Env []string `toml:"env"`
}

func defaultWorkerWasm() WorkerWasm {
	return WorkerWasm{
		ModulePaths:      []string{},
		Callables:        []string{},
		MemoryLimitMiB:   256,
		MaxIdleInstances: 4,
		ReloadInterval:   time.Second,
		Env:              []string{},
	}
}

// Enabled reports whether the worker runs WASM handlers (module_paths is
// set).
func (w *WorkerWasm) Enabled() bool { return len(w.ModulePaths) > 0 }

// CallableMap is callables as a map: callable to "module/function".
func (w *WorkerWasm) CallableMap() map[string]string {
	out := make(map[string]string, len(w.Callables))
	for _, kv := range w.Callables {
		if callable, target, ok := cutMapping(kv); ok {
			out[callable] = target
		}
	}
	return out
}

// EnvMap is env as a map.
func (w *WorkerWasm) EnvMap() map[string]string {
	out := make(map[string]string, len(w.Env))
	for _, kv := range w.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		}
	}
	return out
}

// cutMapping splits "CALLABLE=module/function" at its last '=' (callables
// may contain one; module/function never does).
func cutMapping(kv string) (callable, target string, ok bool) {
	i := strings.LastIndexByte(kv, '=')
	if i <= 0 {
		return "", "", false
	}
	return kv[:i], kv[i+1:], true
}

// Validate checks the section; see [Problems].
func (w *WorkerWasm) Validate() error {
	var ps Problems
	for _, dir := range w.ModulePaths {
		if strings.TrimSpace(dir) == "" || strings.ContainsRune(dir, 0) {
			ps.add("module_paths", fmt.Sprintf("%q is not a directory path", dir))
		}
	}
	seen := map[string]bool{}
	for _, kv := range w.Callables {
		callable, target, ok := cutMapping(kv)
		module, function, split := strings.Cut(target, "/")
		switch {
		case !ok:
			ps.add("callables", fmt.Sprintf("%q: want CALLABLE=module/function", kv))
		case !split || function == "" || !validModuleName(module):
			ps.add("callables", fmt.Sprintf("%q: the handler %q is not module/function (a module name is letters, digits, '-', '_' and '.', not first)", kv, target))
		case seen[callable]:
			ps.add("callables", fmt.Sprintf("callable %q is mapped twice", callable))
		}
		seen[callable] = true
	}
	if len(w.Callables) > 0 && !w.Enabled() {
		ps.add("callables", "mappings need module_paths")
	}
	ps.intBetween("memory_limit_mib", int64(w.MemoryLimitMiB), 1, 4096)
	ps.intBetween("max_idle_instances", int64(w.MaxIdleInstances), 1, 100000)
	ps.positiveDuration("reload_interval", w.ReloadInterval)
	for _, kv := range w.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.ContainsRune(kv, 0) {
			ps.add("env", fmt.Sprintf("%q: want NAME=value", kv))
		}
	}
	return ps.Err()
}

// validModuleName accepts the base names of module files: letters, digits,
// '-', '_' and '.', not starting with '.'.
func validModuleName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' && i > 0) {
			return false
		}
	}
	return true
}
