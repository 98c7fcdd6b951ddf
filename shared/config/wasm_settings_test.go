package config

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWorkerWasm(t *testing.T) {
	cfg := Default(ContextWorker)
	w := &cfg.Worker.Wasm
	require.False(t, w.Enabled(), "off by default")
	require.NoError(t, cfg.Validate())

	w.ModulePaths = []string{"modules", " "}
	w.Callables = []string{"Billing::Charge=pay/charge", "A=B=m/f", "nomodule", "X=bad name/f", "Y=m/", "Billing::Charge=pay/other"}
	w.MemoryLimitMiB = 5000
	w.MaxIdleInstances = 0
	w.ReloadInterval = -time.Second
	w.Env = []string{"TZ=UTC", "=x", "NOVALUE"}
	var ps Problems
	require.True(t, errors.As(cfg.Validate(), &ps))
	require.Equal(t, Problems{
		{Key: "worker.wasm.module_paths", Message: `" " is not a directory path`},
		{Key: "worker.wasm.callables", Message: `"nomodule": want CALLABLE=module/function`},
		{Key: "worker.wasm.callables", Message: `"X=bad name/f": the handler "bad name/f" is not module/function (a module name is letters, digits, '-', '_' and '.', not first)`},
		{Key: "worker.wasm.callables", Message: `"Y=m/": the handler "m/" is not module/function (a module name is letters, digits, '-', '_' and '.', not first)`},
		{Key: "worker.wasm.callables", Message: `callable "Billing::Charge" is mapped twice`},
		{Key: "worker.wasm.memory_limit_mib", Message: "must be between 1 and 4096, got 5000"},
		{Key: "worker.wasm.max_idle_instances", Message: "must be between 1 and 100000, got 0"},
		{Key: "worker.wasm.reload_interval", Message: "must be a positive duration, got -1s"},
		{Key: "worker.wasm.env", Message: `"=x": want NAME=value`},
		{Key: "worker.wasm.env", Message: `"NOVALUE": want NAME=value`},
	}, ps)

	// A callable may contain '=': the mapping splits at the last one.
	require.Equal(t, map[string]string{"Billing::Charge": "pay/other", "A=B": "m/f", "X": "bad name/f", "Y": "m/"}, w.CallableMap())
	require.Equal(t, map[string]string{"TZ": "UTC", "": "x"}, w.EnvMap())

	cfg = Default(ContextWorker)
	cfg.Worker.Wasm.Callables = []string{"A=m/f"}
	require.ErrorContains(t, cfg.Validate(), "worker.wasm.callables: mappings need module_paths")
}

// The section loads from TOML and from TASKER__WORKER__WASM__* variables.
func TestWorkerWasmLoads(t *testing.T) {
	cfg, err := Load(LoadOptions{Context: ContextWorker, Environ: []string{
		"TASKER__WORKER__WASM__MODULE_PATHS=/opt/wasm,/srv/wasm",
		"TASKER__WORKER__WASM__CALLABLES=Billing::Charge=pay/charge",
		"TASKER__WORKER__WASM__UNINTERRUPTIBLE_LOOPS=true",
	}})
	require.NoError(t, err)
	w := cfg.Worker.Wasm
	require.True(t, w.Enabled())
	require.Equal(t, []string{"/opt/wasm", "/srv/wasm"}, w.ModulePaths)
	require.Equal(t, map[string]string{"Billing::Charge": "pay/charge"}, w.CallableMap())
	require.True(t, w.UninterruptibleLoops)
	require.Equal(t, 256, w.MemoryLimitMiB)
	require.Equal(t, time.Second, w.ReloadInterval)
}
