package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseHandlers(t *testing.T) {
	got, err := parseHandlers(" go, Ruby ,python")
	require.NoError(t, err)
	require.Equal(t, []string{"go", "ruby", "python"}, got)
	for in, want := range map[string]string{
		"go,java":  `unknown worker language "java"`,
		"go,go":    `"go" is listed twice`,
		" , ":      "name at least one of go, ruby, python",
		"ruby,rb ": `unknown worker language "rb"`,
	} {
		_, err := parseHandlers(in)
		require.ErrorContains(t, err, want, in)
	}
}

func TestBenchHandlersNeedEmbedded(t *testing.T) {
	cleanConfigEnv(t)
	text, err := runCmd(t, "bench", "--url", "http://127.0.0.1:1", "--handlers", "go,ruby")
	require.ErrorContains(t, err, "only --embedded starts workers", text)
}

func TestOverheadAgainstGo(t *testing.T) {
	goRun := &handlerRun{Latency: map[string]*latencyResult{"linear4": {Steps: 4,
		ClientMS: &percentiles{P50: 20}, ServerMS: &percentiles{P50: 16}}},
		Throughput: &throughputResult{StepsPerSec: 1000}}
	py := &handlerRun{Latency: map[string]*latencyResult{"linear4": {Steps: 4,
		ClientMS: &percentiles{P50: 22}, ServerMS: &percentiles{P50: 17}}},
		Throughput: &throughputResult{StepsPerSec: 900}}
	o := overheadAgainst(py, goRun)
	require.Equal(t, &handlerOverhead{Linear4P50AddedMS: 2, Linear4P50AddedMSPerStep: 0.5, Linear4P50AddedPct: 10,
		Linear4ServerAddedPc: 6.25, ThroughputChangePct: -10}, o)
}

func TestMergeRuns(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	round := func(client []time.Duration, steps int, secs float64, rss float64) *handlerRun {
		return &handlerRun{Latency: map[string]*latencyResult{"linear4": {Steps: 4, client: client, server: client,
			ClientMS: percentilesOf(client), ServerMS: percentilesOf(client)}}, creates: client,
			Throughput: &throughputResult{Tasks: steps / 4, Steps: steps, Seconds: secs}, WorkerPeakRSSMB: rss}
	}
	m := mergeRuns(nil, round(ms(10, 30), 400, 1, 40))
	m = mergeRuns(m, round(ms(20, 40), 800, 3, 35))
	require.Equal(t, 2, m.Rounds)
	require.Equal(t, 4, m.Latency["linear4"].ClientMS.N)
	require.Equal(t, 20.0, m.Latency["linear4"].ClientMS.P50, "percentiles over every round's samples")
	require.Equal(t, 40.0, m.Latency["linear4"].ClientMS.Max)
	require.Equal(t, 4, m.Creation.N)
	require.Equal(t, 1200, m.Throughput.Steps)
	require.Equal(t, 300.0, m.Throughput.StepsPerSec, "all steps over all seconds")
	require.Equal(t, 40.0, m.WorkerPeakRSSMB)
}

// TestBenchHandlers runs a tiny embedded benchmark with the Go worker and,
// one after the other, the Ruby and the Python binding workers over the C
// ABI library: each language's figures and its overhead against Go are
// reported.
func TestBenchHandlers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a system and worker processes")
	}
	lib := os.Getenv("TASKER_WORKER_LIB")
	libDir := t.TempDir() // built once, for both languages
	interpreters := map[string]string{"ruby": "ruby", "python": "python3"}
	for _, lang := range []string{"ruby", "python"} {
		t.Run(lang, func(t *testing.T) {
			if _, err := exec.LookPath(interpreters[lang]); err != nil {
				t.Skipf("%s is not installed: the %s worker cannot be measured (scripts/ensure-services.sh installs it with apt)",
					interpreters[lang], lang)
			}
			if lib == "" {
				lib = buildWorkerLibrary(t, libDir)
			}
			benchDatabase(t)
			t.Setenv("TASKER_ENV", "test")
			out := filepath.Join(t.TempDir(), "bench.json")
			text, err := runCmd(t, "bench", "--embedded", "--handlers", "go,"+lang, "--worker-lib", lib,
				"--rounds", "2", "--latency-n", "2", "--warmup", "0", "--throughput-tasks", "8", "--concurrency", "2",
				"--binding-concurrency", "4", "--pgbench=false", "--json", out)
			require.NoError(t, err, text)
			require.Contains(t, text, "workers side by side")
			rep := readReport(t, out)
			require.Equal(t, []string{"go", lang}, rep.Handlers)
			for _, l := range rep.Handlers {
				run := rep.ByHandler[l]
				require.NotNil(t, run, l)
				require.Equal(t, 2, run.Rounds, l)
				require.Equal(t, 2, run.Latency["linear4"].ClientMS.N, "one task per round: %s", l)
				require.Equal(t, 2, run.Latency["tree8"].ClientMS.N, l)
				require.Equal(t, 2, run.Latency["linear4"].Stages.Tasks, "the breakdown covers both rounds: %s", l)
				require.Equal(t, 32, run.Throughput.Steps, l)
				require.Positive(t, run.Throughput.StepsPerSec, l)
			}
			require.Nil(t, rep.ByHandler["go"].Overhead, "Go is the reference")
			require.NotNil(t, rep.ByHandler[lang].Overhead)
			require.Positive(t, rep.ByHandler[lang].WorkerPeakRSSMB, "the worker process's peak RSS")
			require.Positive(t, rep.ByHandler[lang].WorkerCPUMSPerStep, "the worker process's CPU per step")
			require.Zero(t, rep.ByHandler["go"].WorkerCPUMSPerStep, "the Go worker shares the bench's process")
			require.Equal(t, rep.ByHandler["go"].Latency, rep.Latency, "the top-level figures are the first worker's")
		})
	}
}

// buildWorkerLibrary builds libtasker_worker.so from bindings/capi into the
// directory dir.
func buildWorkerLibrary(t *testing.T, dir string) string {
	t.Helper()
	root, err := sourceRoot()
	require.NoError(t, err)
	lib := filepath.Join(dir, "libtasker_worker.so")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", lib, "./bindings/capi")
	cmd.Dir = root
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "building the worker library: %s", b)
	return lib
}

// Both binding workers run at the same log level (warnings and errors), so
// a bench handler's per-step info line is measured in neither.
func TestBindingWorkersLogAtTheSameLevel(t *testing.T) {
	for _, lang := range []string{"ruby", "python"} {
		if _, err := exec.LookPath(map[string]string{"ruby": "ruby", "python": "python3"}[lang]); err != nil {
			t.Skipf("%s is not installed", lang)
		}
	}
	_, _, env, _, err := bindingCommand("ruby", "/src", 4)
	require.NoError(t, err)
	require.Contains(t, env, "TASKER_LOG_LEVEL=warn")
	_, args, _, _, err := bindingCommand("python", "/src", 4)
	require.NoError(t, err)
	require.Contains(t, args, "--log-level")
	require.Equal(t, "WARNING", args[len(args)-1])
}

// TestBenchGoProcessWorker: go-process measures the native Go worker as a
// process of its own, with that process's peak RSS and CPU per step.
func TestBenchGoProcessWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a system and builds tasker-worker")
	}
	benchDatabase(t)
	t.Setenv("TASKER_ENV", "test")
	out := filepath.Join(t.TempDir(), "bench.json")
	text, err := runCmd(t, "bench", "--embedded", "--handlers", "go,go-process", "--latency-n", "2", "--warmup", "0",
		"--throughput-tasks", "8", "--concurrency", "2", "--pgbench=false", "--json", out)
	require.NoError(t, err, text)
	require.Contains(t, text, "go-process worker running (pid ")
	rep := readReport(t, out)
	require.Equal(t, []string{"go", "go-process"}, rep.Handlers)
	run := rep.ByHandler["go-process"]
	require.NotNil(t, run)
	require.Equal(t, 32, run.Throughput.Steps)
	require.Positive(t, run.WorkerPeakRSSMB, "the worker process's peak RSS")
	require.Positive(t, run.WorkerCPUMSPerStep, "the worker process's CPU per step")
	require.Zero(t, rep.ByHandler["go"].WorkerPeakRSSMB, "the in-process Go worker has no process of its own")
}
