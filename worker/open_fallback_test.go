package worker

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
)

// closingExecutor serves open.first and open.second from a value it read in
// the configuration, and records its Close.
type closingExecutor struct {
	value  int
	closed atomic.Bool
}

func (e *closingExecutor) Execute(_ context.Context, s *StepContext) Result {
	return ResultOf(map[string]any{"value": e.value, "step": s.StepName()}, nil)
}

func (e *closingExecutor) Callables() []string { return []string{"open.first", "open.second"} }

func (e *closingExecutor) Close(context.Context) error { e.closed.Store(true); return nil }

// FallbackFromConfig builds the fallback from the loaded configuration
// (the way wasm.FromConfig reads [worker.wasm]); the worker runs its steps
// and Stop closes it.
func TestOpenFallbackFromConfig(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	require.NoError(t, writeFile(filepath.Join(dir, "open.yaml"), openYAML))
	environ := []string{"DATABASE_URL=" + h.db.URL, "TASKER__DATABASE__SCHEMA=" + h.db.Schema, "TASKER_ENV=test",
		"TASKER_TEMPLATE_PATH=" + dir, "TASKER__WORKER__WEB__ENABLED=false",
		"TASKER__WORKER__WASM__MEMORY_LIMIT_MIB=77"}
	var built *closingExecutor
	from := func(_ context.Context, cfg *config.Config, _ *slog.Logger) (Executor, error) {
		built = &closingExecutor{value: cfg.Worker.Wasm.MemoryLimitMiB}
		return built, nil
	}
	quiet := slog.New(slog.DiscardHandler)
	w, err := Open(h.ctx, OpenOptions{Environ: environ, FallbackFromConfig: from, Logger: quiet})
	require.NoError(t, err)
	require.NoError(t, w.Start(h.ctx))
	require.Equal(t, []string{"open.first", "open.second"}, w.Core().Callables())
	h.orchestrate()
	tk := h.createTask(parseTemplate(t, openYAML), `{}`)
	h.waitFor("the task to complete", func() bool { return h.taskState(tk.id) == state.TaskComplete })
	require.JSONEq(t, `{"value": 77, "step": "second"}`, string(stepresult.Parse(h.step(tk, "second").Results).Result))
	require.False(t, built.closed.Load())
	require.NoError(t, w.Stop(h.ctx))
	require.True(t, built.closed.Load(), "Stop closes the executor FallbackFromConfig built")

	// Errors: both ways at once; the builder's own error; a later failure
	// closes what the builder built.
	_, err = Open(h.ctx, OpenOptions{Environ: environ, Fallback: NewRegistry(), FallbackFromConfig: from})
	require.ErrorContains(t, err, "set Fallback or FallbackFromConfig, not both")
	_, err = Open(h.ctx, OpenOptions{Environ: environ, FallbackFromConfig: func(context.Context, *config.Config, *slog.Logger) (Executor, error) {
		return nil, errors.New("no modules")
	}})
	require.ErrorContains(t, err, "no modules")
	unmigrated := append([]string{"TASKER__DATABASE__SCHEMA=never_migrated"}, environ[0])
	_, err = Open(h.ctx, OpenOptions{Environ: append(unmigrated, environ[2:]...), FallbackFromConfig: from, Logger: quiet})
	require.ErrorIs(t, err, infra.ErrNoSchema)
	require.True(t, built.closed.Load(), "a failed Open closes the executor it built")
}
