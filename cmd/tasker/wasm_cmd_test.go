package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/worker/wasm/wasmtest"
)

func TestWASMCheckAndList(t *testing.T) {
	modules := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(modules, "greeter.wasm"), wasmtest.StubModule(1, "hello", "bye"), 0o600))
	tpls := t.TempDir()
	good := "name: greet\nnamespace_name: wasm_demo\nversion: 1.0.0\nsteps:\n" +
		"  - name: hello\n    handler: {callable: \"wasm:greeter/hello\"}\n" +
		"  - name: mapped\n    dependencies: [hello]\n    handler: {callable: \"Greeter::Bye\"}\n" +
		"  - name: go\n    dependencies: [hello]\n    handler: {callable: \"Go::Handler\"}\n"
	require.NoError(t, os.WriteFile(filepath.Join(tpls, "good.yaml"), []byte(good), 0o600))

	out, err := runCmd(t, "wasm", "check", "--modules", modules, "--map", "Greeter::Bye=greeter/bye", tpls)
	require.NoError(t, err, out)
	require.Contains(t, out, "wasm_demo/greet/1.0.0: 2 WASM callable(s) checked")

	out, err = runCmd(t, "wasm", "list", "--modules", modules, "--map", "Greeter::Bye=greeter/bye")
	require.NoError(t, err, out)
	require.Equal(t, "Greeter::Bye\nwasm:greeter/bye\nwasm:greeter/hello\n", out)

	bad := "name: typo\nnamespace_name: wasm_demo\nversion: 1.0.0\nsteps:\n" +
		"  - name: hello\n    handler: {callable: \"wasm:greeter/helo\"}\n" +
		"  - name: other\n    handler: {callable: \"wasm:nowhere/f\"}\n"
	require.NoError(t, os.WriteFile(filepath.Join(tpls, "bad.yaml"), []byte(bad), 0o600))
	out, err = runCmd(t, "wasm", "check", "--modules", modules, tpls)
	var ec exitCodeError
	require.ErrorAs(t, err, &ec, out)
	require.Equal(t, 1, ec.code)
	require.Contains(t, out, `wasm_demo/typo/1.0.0 step hello: callable "wasm:greeter/helo": wasm module greeter (greeter.wasm) exports no handler "helo"; it exports [bye hello]`)
	require.Contains(t, out, `wasm_demo/typo/1.0.0 step other: callable "wasm:nowhere/f": wasm module not found: no nowhere.wasm`)
	// Without --map, Greeter::Bye is not a WASM callable: not checked.
	require.Contains(t, out, "wasm_demo/greet/1.0.0: 1 WASM callable(s) checked")
}

// TestWASMCommandsReadTheWorkerConfiguration: without --modules and --map
// the commands use the worker configuration's [worker.wasm] section (here
// from TASKER__WORKER__WASM__* variables), and refuse to run with no module
// path at all.
func TestWASMCommandsReadTheWorkerConfiguration(t *testing.T) {
	modules := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(modules, "greeter.wasm"), wasmtest.StubModule(1, "hello", "bye"), 0o600))

	out, err := runCmd(t, "wasm", "list")
	require.ErrorContains(t, err, "no module paths: pass --modules DIR or set worker.wasm.module_paths", out)

	t.Setenv("TASKER__WORKER__WASM__MODULE_PATHS", modules)
	t.Setenv("TASKER__WORKER__WASM__CALLABLES", "Greeter::Bye=greeter/bye")
	out, err = runCmd(t, "wasm", "list")
	require.NoError(t, err, out)
	require.Equal(t, "Greeter::Bye\nwasm:greeter/bye\nwasm:greeter/hello\n", out)

	// Flags replace the section's values.
	out, err = runCmd(t, "wasm", "list", "--map", "Greeter::Hi=greeter/hello")
	require.NoError(t, err, out)
	require.Equal(t, "Greeter::Hi\nwasm:greeter/bye\nwasm:greeter/hello\n", out)
}
