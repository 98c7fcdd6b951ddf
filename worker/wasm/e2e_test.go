package wasm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/worker/wasm"
)

// wasmTemplates are the linear and diamond workflows with WASM callables
// of module, in namespace wasm_<module>, and a template whose independent
// steps each misbehave in one way, beside one that behaves.
func wasmTemplates(t testing.TB, module string) []*template.Template {
	t.Helper()
	ns := "wasm_" + strings.ReplaceAll(module, "-", "_")
	step := func(name, fn string, deps ...string) string {
		d := ""
		if len(deps) > 0 {
			d = fmt.Sprintf("\n    dependencies: [%s]", strings.Join(deps, ", "))
		}
		return fmt.Sprintf(`
  - name: %s%s
    handler: {callable: "wasm:%s/%s", initialization: {operation: square}}
    retry: {max_attempts: 1}`, name, d, module, fn)
	}
	linear := fmt.Sprintf("name: linear\nnamespace_name: %s\nversion: 1.0.0\nidentity_strategy: always_unique\nsteps:", ns) +
		strings.Replace(step("linear_step_1", "linear_step_1"), "operation: square", "operation: square, step_number: 1", 1) +
		strings.Replace(step("linear_step_2", "linear_step_2", "linear_step_1"), "operation: square", "operation: square, step_number: 2", 1) +
		strings.Replace(step("linear_step_3", "linear_step_3", "linear_step_2"), "operation: square", "operation: square, step_number: 3", 1) +
		strings.Replace(step("linear_step_4", "linear_step_4", "linear_step_3"), "operation: square", "operation: square, step_number: 4", 1)
	diamond := fmt.Sprintf("name: diamond\nnamespace_name: %s\nversion: 1.0.0\nidentity_strategy: always_unique\nsteps:", ns) +
		step("diamond_start", "diamond_start") +
		step("diamond_branch_b", "diamond_branch_b", "diamond_start") +
		step("diamond_branch_c", "diamond_branch_c", "diamond_start") +
		step("diamond_end", "diamond_end", "diamond_branch_b", "diamond_branch_c")
	var out []*template.Template
	for _, y := range []string{linear, diamond} {
		ts, err := template.Parse([]byte(y), "wasm-"+module+".yaml", template.ParseOptions{})
		require.NoError(t, err, y)
		out = append(out, ts...)
	}
	return out
}

const misbehaving = `name: misbehaving
namespace_name: wasm_misbehave
version: 1.0.0
steps:
  - name: spin
    handler: {callable: "wasm:misbehave/spin"}
    retry: {max_attempts: 1}
    timeout_seconds: 1
  - name: trap
    handler: {callable: "wasm:trapper/trap"}
    retry: {max_attempts: 1}
  - name: hog
    handler: {callable: "wasm:misbehave/hog"}
    retry: {max_attempts: 1}
  - name: open_file
    handler: {callable: "wasm:misbehave/open_file"}
    retry: {max_attempts: 1}
  - name: echo
    handler: {callable: "wasm:misbehave/echo"}
    retry: {max_attempts: 1}
`

// TestWorkflowsOnWASM runs the linear and diamond workflows on the Go and
// the C guest through a whole system (orchestration, a worker serving the
// native Go handlers and the WASM modules side by side), to their exact
// results; then a task whose steps loop forever, trap, exhaust their memory
// and open a file, each failing its step while the worker carries on.
func TestWorkflowsOnWASM(t *testing.T) {
	modules := []string{"arith", "misbehave", "trapper"}
	withC := haveC(t)
	if withC {
		modules = append(modules, "arith-c")
	}
	dir := t.TempDir()
	for _, m := range modules {
		linkModule(t, guestModule(t, m), filepath.Join(dir, m+".wasm"))
	}
	x, err := wasm.New(context.Background(), wasm.Config{ModulePaths: []string{dir}, MemoryLimitMiB: 64,
		CompilationCacheDir: cacheDir()}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = x.Close(context.Background()) })

	tpls := wasmTemplates(t, "arith")
	if withC {
		tpls = append(tpls, wasmTemplates(t, "arith-c")...)
	}
	bad, err := template.Parse([]byte(misbehaving), "misbehaving.yaml", template.ParseOptions{})
	require.NoError(t, err)
	tpls = append(tpls, bad...)
	var callables []string
	for _, tpl := range tpls {
		for _, s := range tpl.Steps {
			callables = append(callables, s.Handler.Callable)
		}
	}
	require.NoError(t, x.Check(context.Background(), callables), "every WASM callable of the templates is exported")

	sys := systest.Start(t, systest.Options{Templates: tpls, Fallback: x})
	c, err := client.New(sys.URL)
	require.NoError(t, err)
	run := func(ns, name, ctx string) map[string]client.Step {
		t.Helper()
		task, err := c.CreateTask(sys.Ctx, client.TaskRequest{Namespace: ns, Name: name, Version: "1.0.0",
			Context: json.RawMessage(ctx), IdempotencyKey: t.Name() + ns + name + ctx})
		require.NoError(t, err)
		waitCtx, cancel := context.WithTimeout(sys.Ctx, 90*time.Second)
		defer cancel()
		final, err := c.Wait(waitCtx, task.TaskUUID, nil)
		require.NoError(t, err)
		steps := map[string]client.Step{}
		for _, s := range final.Steps {
			steps[s.Name] = s
		}
		return steps
	}
	requireResult := func(steps map[string]client.Step, name, want string) {
		t.Helper()
		st := steps[name]
		require.Equal(t, "complete", st.CurrentState, "%s: %s", name, st.FailureMessage())
		require.JSONEq(t, want, string(st.Result()), name)
	}

	// The native Go handlers serve their own template in the same worker.
	native := run("examples_linear", "square_chain", `{"even_number": 6}`)
	requireResult(native, "linear_step_4",
		`{"result": 2821109907456, "operation": "square", "input": 1679616, "source": "linear_step_3", "step_number": 4}`)

	guests := []string{"arith"}
	if withC {
		guests = append(guests, "arith-c")
	} else {
		t.Log("the C guest is not built (no clang for wasm32-wasi): only the Go guest runs the workflows")
	}
	for _, m := range guests {
		ns := "wasm_" + strings.ReplaceAll(m, "-", "_")
		steps := run(ns, "linear", `{"even_number": 6}`)
		requireResult(steps, "linear_step_1", `{"result": 36, "operation": "square", "input": 6, "source": "even_number", "step_number": 1}`)
		requireResult(steps, "linear_step_2", `{"result": 1296, "operation": "square", "input": 36, "source": "linear_step_1", "step_number": 2}`)
		requireResult(steps, "linear_step_3", `{"result": 1679616, "operation": "square", "input": 1296, "source": "linear_step_2", "step_number": 3}`)
		requireResult(steps, "linear_step_4", `{"result": 2821109907456, "operation": "square", "input": 1679616, "source": "linear_step_3", "step_number": 4}`)

		steps = run(ns, "linear", `{"even_number": 100}`)
		requireResult(steps, "linear_step_4", `{"result": "100000000000000000000000000000000", "operation": "square", "input": 10000000000000000, "source": "linear_step_3", "step_number": 4}`)

		steps = run(ns, "diamond", `{"even_number": 6}`)
		requireResult(steps, "diamond_start", `{"result": 36, "operation": "square", "input": 6, "source": "even_number"}`)
		requireResult(steps, "diamond_branch_b", `{"result": 1296, "operation": "square", "input": 36, "source": "diamond_start"}`)
		requireResult(steps, "diamond_branch_c", `{"result": 1296, "operation": "square", "input": 36, "source": "diamond_start"}`)
		requireResult(steps, "diamond_end", `{"result": 2821109907456, "operation": "multiply_and_square",
			"inputs": {"diamond_branch_b": 1296, "diamond_branch_c": 1296}, "product": 1679616}`)
	}

	steps := run("wasm_misbehave", "misbehaving", `{"who": "wasm"}`)
	requireResult(steps, "echo", `{"context": {"who": "wasm"}, "step": "echo", "attempt": 1}`)
	for name, want := range map[string]string{
		"spin":      "handler did not finish within its timeout of 1s",
		"trap":      "wasm handler trapper/trap trapped: wasm error: unreachable",
		"hog":       "the module reached its memory limit of 64 MiB",
		"open_file": `the handler tried to open ["etc/hostname"]: WASM handlers have no file system access`,
	} {
		st := steps[name]
		require.Equal(t, "error", st.CurrentState, name)
		require.Contains(t, st.FailureMessage(), want, name)
	}

	// The worker carries on: the workflows still run.
	steps = run("wasm_arith", "diamond", `{"even_number": 2}`)
	requireResult(steps, "diamond_end", `{"result": 65536, "operation": "multiply_and_square",
		"inputs": {"diamond_branch_b": 16, "diamond_branch_c": 16}, "product": 256}`)
}
