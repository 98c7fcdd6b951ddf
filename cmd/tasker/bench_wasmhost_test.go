package main

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBenchWasm runs a tiny embedded benchmark with the Go worker and the
// WASM worker (no Go handlers; the native templates' callables mapped to
// the arith guest, built from the checkout): every scenario's tasks
// complete on the guest, and its figures and overhead against Go are
// reported side by side.
func TestBenchWasm(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a system and builds a WASM guest")
	}
	benchDatabase(t)
	t.Setenv("TASKER_ENV", "test")
	out := filepath.Join(t.TempDir(), "bench.json")
	text, err := runCmd(t, "bench", "--embedded", "--handlers", "go,wasm", "--latency-n", "1", "--warmup", "0",
		"--throughput-tasks", "8", "--concurrency", "2", "--pgbench=false", "--json", out)
	require.NoError(t, err, text)
	require.Contains(t, text, "workers side by side")
	require.Contains(t, text, "wasm worker: where linear 4's time goes")
	rep := readReport(t, out)
	require.Equal(t, []string{"go", "wasm"}, rep.Handlers)
	run := rep.ByHandler["wasm"]
	require.NotNil(t, run)
	for name, steps := range map[string]int{"linear4": 4, "diamond4": 4, "dag7": 7, "tree8": 8} {
		require.Equal(t, steps, run.Latency[name].Steps, name)
		require.Equal(t, 1, run.Latency[name].ClientMS.N, "%s completed on the guest", name)
	}
	require.Equal(t, 32, run.Throughput.Steps)
	require.Positive(t, run.Throughput.StepsPerSec)
	require.NotNil(t, run.Overhead, "compared with the Go worker")
	require.NotNil(t, run.Overhead.Linear4HandlerAddedMSPerStep, "the handler stage against the Go worker's")
	require.Contains(t, rep.Config["wasm"], "arith")
}

// TestBenchWasmC runs the scenarios on the C guest: the tree's n^64 and the
// mixed DAG's saturation need its big integers.
func TestBenchWasmC(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a system and builds a WASM guest")
	}
	if _, err := exec.LookPath("clang"); err != nil {
		t.Skip("the C guest needs clang with the wasm32 target")
	}
	benchDatabase(t)
	t.Setenv("TASKER_ENV", "test")
	out := filepath.Join(t.TempDir(), "bench.json")
	text, err := runCmd(t, "bench", "--embedded", "--handlers", "wasm-c", "--latency-n", "1", "--warmup", "0",
		"--throughput-tasks", "4", "--concurrency", "2", "--pgbench=false", "--json", out)
	require.NoError(t, err, text)
	rep := readReport(t, out)
	run := rep.ByHandler["wasm-c"]
	require.NotNil(t, run)
	for name, steps := range map[string]int{"linear4": 4, "diamond4": 4, "dag7": 7, "tree8": 8} {
		require.Equal(t, steps, run.Latency[name].Steps, name)
		require.Equal(t, 1, run.Latency[name].ClientMS.N, "%s completed on the C guest", name)
	}
	require.Contains(t, rep.Config["wasm"], "arith.c")
}

func TestBenchWasmCallables(t *testing.T) {
	m, err := benchWasmCallables("arith")
	require.NoError(t, err)
	require.Len(t, m, 4+4+7+8, "one guest function per step of the four scenarios")
	require.Equal(t, "arith/linear_step_2", m["tasker_example_rs::step_handlers::linear_workflow::LinearStep2Handler"])
	require.Equal(t, "arith/tree_final_convergence", m["tasker_example_rs::step_handlers::tree_workflow::TreeFinalConvergenceHandler"])
}

func TestHandlerStageAdded(t *testing.T) {
	ms := func(v ...float64) []*float64 {
		out := make([]*float64, len(v))
		for i := range v {
			out[i] = &v[i]
		}
		return out
	}
	g := &stageBreakdown{P50MS: map[string][]*float64{stageHandler: ms(0.1, 0.1, 0.2, 0.2)}}
	w := &stageBreakdown{P50MS: map[string][]*float64{stageHandler: ms(1.1, 2.1, 2.2, 1.2)}}
	got := handlerStageAdded(w, g)
	require.NotNil(t, got)
	require.InDelta(t, 1.5, *got, 1e-9)
	require.Nil(t, handlerStageAdded(w, nil), "no breakdown for Go: nothing to compare")
	w.P50MS[stageHandler][1] = nil
	require.InDelta(t, 4.0/3, *handlerStageAdded(w, g), 0.01, "steps without samples are left out")
}
