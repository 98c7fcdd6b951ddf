package wasm_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/worker/wasm"
	"github.com/tasker-go/tasker/worker/wasm/wasmtest"
)

const lateTemplate = `name: late
namespace_name: wasm_late
version: 1.0.0
steps:
  - name: echo
    handler: {callable: "wasm:late/echo"}
    retry: {max_attempts: 1}
  - name: trap
    handler: {callable: "wasm:early/trap"}
    dependencies: [echo]
    retry: {max_attempts: 1}
`

// A module added to the module path while the worker runs is served
// without a restart: the worker starts with module early only, so it does
// not claim the step of wasm:late/echo; once late.wasm appears the worker
// claims by the new list, updates its row in the workers registry, and the
// waiting step runs. Removing the file drops the callables again.
func TestModuleAddedWhileRunningIsServed(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "early.wasm"), wasmtest.StubModule(1, "trap"), 0o644))
	late := guestModule(t, "misbehave")
	x, err := wasm.New(context.Background(), wasm.Config{ModulePaths: []string{dir}, ReloadInterval: 50 * time.Millisecond,
		CompilationCacheDir: cacheDir()}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = x.Close(context.Background()) })
	tpls, err := template.Parse([]byte(lateTemplate), "late.yaml", template.ParseOptions{})
	require.NoError(t, err)

	sys := systest.Start(t, systest.Options{Templates: tpls, Fallback: x})
	w := sys.Workers[0]
	require.Contains(t, w.Callables(), "wasm:early/trap")
	require.NotContains(t, w.Callables(), "wasm:late/echo", "no such module yet")
	registered := func(callable string) bool {
		live, err := sys.Store.LiveWorkers(sys.Ctx)
		require.NoError(t, err)
		for _, lw := range live {
			if lw.WorkerID == w.WorkerID() && slices.Contains(lw.Callables, callable) {
				return true
			}
		}
		return false
	}
	require.False(t, registered("wasm:late/echo"))

	c, err := client.New(sys.URL)
	require.NoError(t, err)
	task, err := c.CreateTask(sys.Ctx, client.TaskRequest{Namespace: "wasm_late", Name: "late", Version: "1.0.0",
		Context: json.RawMessage(`{"who": "late"}`)})
	require.NoError(t, err)

	linkModule(t, late, filepath.Join(dir, "late.wasm"))
	waitCtx, cancel := context.WithTimeout(sys.Ctx, 90*time.Second)
	defer cancel()
	final, err := c.Wait(waitCtx, task.TaskUUID, nil)
	require.NoError(t, err)
	steps := map[string]*client.Step{}
	for i := range final.Steps {
		steps[final.Steps[i].Name] = &final.Steps[i]
	}
	require.Equal(t, "complete", steps["echo"].CurrentState, steps["echo"].FailureMessage())
	require.JSONEq(t, `{"context": {"who": "late"}, "step": "echo", "attempt": 1}`, string(steps["echo"].Result()))
	require.Contains(t, steps["trap"].FailureMessage(), "wasm handler early/trap trapped", "the first module still serves")
	require.Contains(t, w.Callables(), "wasm:late/echo")
	require.True(t, registered("wasm:late/echo"), "the workers registry lists the new callables")

	require.NoError(t, os.Remove(filepath.Join(dir, "late.wasm")))
	deadline := time.Now().Add(60 * time.Second)
	for slices.Contains(w.Callables(), "wasm:late/echo") {
		require.True(t, time.Now().Before(deadline), "the removed module's callables are dropped")
		time.Sleep(20 * time.Millisecond)
	}
	require.Contains(t, w.Callables(), "wasm:early/trap")
}

// CallablesChanged closes when a module is added, replaced by one with
// other handlers, or removed; the new list is what Callables returns then.
func TestCallablesChanged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, handlers ...string) {
		tmp := filepath.Join(dir, name+".tmp")
		require.NoError(t, os.WriteFile(tmp, wasmtest.StubModule(1, handlers...), 0o644))
		require.NoError(t, os.Rename(tmp, filepath.Join(dir, name+".wasm")))
	}
	write("a", "f")
	x, err := wasm.New(context.Background(), wasm.Config{ModulePaths: []string{dir}, ReloadInterval: 20 * time.Millisecond}, nil)
	require.NoError(t, err)
	defer func() { _ = x.Close(context.Background()) }()
	// after makes a change and returns the callables once the executor
	// said they changed.
	after := func(change func()) []string {
		t.Helper()
		ch := x.CallablesChanged()
		change()
		select {
		case <-ch:
		case <-time.After(time.Minute):
			t.Fatal("CallablesChanged did not close")
		}
		return x.Callables()
	}
	require.Equal(t, []string{"wasm:a/f"}, x.Callables())
	require.Equal(t, []string{"wasm:a/f", "wasm:b/g"}, after(func() { write("b", "g") }))
	require.Equal(t, []string{"wasm:a/f", "wasm:b/g", "wasm:b/h"}, after(func() { write("b", "g", "h") }), "replaced, exporting one more handler")
	require.Equal(t, []string{"wasm:b/g", "wasm:b/h"}, after(func() { require.NoError(t, os.Remove(filepath.Join(dir, "a.wasm"))) }))
}
