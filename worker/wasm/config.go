package wasm

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// CallablePrefix starts the callables that name a WASM handler directly:
// wasm:<module>/<function>.
const CallablePrefix = "wasm:"

// Defaults of Config.
const (
	DefaultMemoryLimitMiB   = 256
	DefaultMaxIdleInstances = 4
	DefaultReloadInterval   = time.Second
	// maxMemoryLimitMiB is wasm32's address space.
	maxMemoryLimitMiB = 4096
)

// Config configures an Executor. The zero value of every field but
// ModulePaths means its default.
type Config struct {
	// ModulePaths are the directories searched, in order, for
	// <module>.wasm. Required.
	ModulePaths []string
	// Callables maps template callables to "module/function", for
	// templates whose callables do not use the wasm: prefix (tasker-core's
	// templates, for example).
	Callables map[string]string
	// MemoryLimitMiB caps each instance's linear memory. Default 256.
	MemoryLimitMiB int
	// MaxIdleInstances is how many initialised instances of each module
	// are kept for the next steps. Default 4.
	MaxIdleInstances int
	// FreshInstances gives every step a newly instantiated module, so no
	// state at all survives from one step to the next, at the cost of an
	// instantiation per step. By default an instance that finished a step
	// cleanly serves later steps (never two at once).
	FreshInstances bool
	// ReloadInterval is how often a module's file is checked for a new
	// version (at most once per interval, when a step needs the module),
	// and, once a worker watches the executor (CallablesChanged), how
	// often the module paths are looked at for added, replaced and
	// removed modules. Default 1s.
	ReloadInterval time.Duration
	// CompilationCacheDir, when set, keeps compiled modules on disk so
	// that a restarted worker does not compile them again.
	CompilationCacheDir string
	// SystemClock gives modules the host's wall and monotonic clocks and
	// sleep; without it they see a fixed wall time and a fake monotonic
	// clock.
	SystemClock bool
	// SystemRandom gives modules the host's random source; without it
	// their random numbers are deterministic.
	SystemRandom bool
	// Env is the environment modules see (empty by default).
	Env map[string]string
	// UninterruptibleLoops compiles modules as they are, without the
	// checks the executor adds at every loop head so that the step's
	// timeout can stop a running module (loopcheck.go). The checks cost
	// little, so this saves little; and a module that never returns keeps
	// its goroutine and a core busy until the worker exits (its step still
	// fails at the timeout) and, since compiled code cannot be preempted,
	// holds up the worker's garbage collector. Only for trusted modules.
	UninterruptibleLoops bool
}

// withDefaults validates c and fills in the defaults. The error lists every
// problem, each naming its field.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if len(c.ModulePaths) == 0 {
		errs = append(errs, errors.New("wasm: ModulePaths: at least one directory is required"))
	}
	for _, dir := range c.ModulePaths {
		if fi, err := os.Stat(dir); err != nil {
			errs = append(errs, fmt.Errorf("wasm: ModulePaths: %w", err))
		} else if !fi.IsDir() {
			errs = append(errs, fmt.Errorf("wasm: ModulePaths: %s is not a directory", dir))
		}
	}
	for callable, target := range c.Callables {
		if _, _, err := splitTarget(target); err != nil {
			errs = append(errs, fmt.Errorf("wasm: Callables[%q]: %w", callable, err))
		}
	}
	switch {
	case c.MemoryLimitMiB == 0:
		c.MemoryLimitMiB = DefaultMemoryLimitMiB
	case c.MemoryLimitMiB < 1 || c.MemoryLimitMiB > maxMemoryLimitMiB:
		errs = append(errs, fmt.Errorf("wasm: MemoryLimitMiB: %d is outside 1..%d", c.MemoryLimitMiB, maxMemoryLimitMiB))
	}
	switch {
	case c.MaxIdleInstances == 0:
		c.MaxIdleInstances = DefaultMaxIdleInstances
	case c.MaxIdleInstances < 0:
		errs = append(errs, fmt.Errorf("wasm: MaxIdleInstances: %d is negative", c.MaxIdleInstances))
	}
	switch {
	case c.ReloadInterval == 0:
		c.ReloadInterval = DefaultReloadInterval
	case c.ReloadInterval < 0:
		errs = append(errs, fmt.Errorf("wasm: ReloadInterval: %s is negative", c.ReloadInterval))
	}
	for k := range c.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			errs = append(errs, fmt.Errorf("wasm: Env: %q is not a variable name", k))
		}
	}
	return c, errors.Join(errs...)
}

// memoryLimitPages is the memory limit in 64 KiB pages.
func (c Config) memoryLimitPages() uint32 {
	return uint32(c.MemoryLimitMiB) * 16 //nolint:gosec // validated: 1..4096
}

// splitTarget splits "module/function".
func splitTarget(target string) (module, function string, err error) {
	module, function, ok := strings.Cut(target, "/")
	if !ok || function == "" {
		return "", "", fmt.Errorf("%q is not module/function", target)
	}
	if err := checkModuleName(module); err != nil {
		return "", "", err
	}
	return module, function, nil
}

// checkModuleName accepts the base names of module files: letters, digits,
// '-', '_' and '.', not starting with '.'.
func checkModuleName(name string) error {
	if name == "" {
		return errors.New("empty module name")
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' && i > 0
		if !ok {
			return fmt.Errorf("module name %q: only letters, digits, '-', '_' and '.' (not first) are allowed", name)
		}
	}
	return nil
}
