package wasm

import (
	"context"
	"log/slog"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/worker"
)

// ConfigFrom is the executor configuration the [worker.wasm] section
// describes.
func ConfigFrom(s config.WorkerWasm) Config {
	return Config{
		ModulePaths:          append([]string(nil), s.ModulePaths...),
		Callables:            s.CallableMap(),
		MemoryLimitMiB:       s.MemoryLimitMiB,
		MaxIdleInstances:     s.MaxIdleInstances,
		FreshInstances:       s.FreshInstances,
		ReloadInterval:       s.ReloadInterval,
		CompilationCacheDir:  s.CompilationCacheDir,
		SystemClock:          s.SystemClock,
		SystemRandom:         s.SystemRandom,
		Env:                  s.EnvMap(),
		UninterruptibleLoops: s.UninterruptibleLoops,
	}
}

// FromConfig starts the executor of the WASM handlers the worker
// configuration's [worker.wasm] section describes, or returns nil when it
// names no module paths. It is the worker.OpenOptions.FallbackFromConfig of
// a worker that runs WASM handlers beside its Go handlers:
//
//	worker.Open(ctx, worker.OpenOptions{Registry: goHandlers, FallbackFromConfig: wasm.FromConfig})
//
// The worker closes the executor when it stops.
func FromConfig(ctx context.Context, cfg *config.Config, log *slog.Logger) (worker.Executor, error) {
	if cfg == nil || cfg.Worker == nil || !cfg.Worker.Wasm.Enabled() {
		return nil, nil
	}
	x, err := New(ctx, ConfigFrom(cfg.Worker.Wasm), log)
	if err != nil {
		return nil, err
	}
	return x, nil
}
