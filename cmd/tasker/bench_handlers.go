package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

// benchLanguages are the workers --handlers can measure: the native Go
// worker in the bench process, and the Ruby and Python binding workers, each
// a process of its own running the worker library (bindings/capi) with
// handlers written for the native example templates, and the WASM workers
// (bench_wasmhost.go).
var benchLanguages = []string{"go", "ruby", "python", benchWasm, benchWasmUninterruptible, benchWasmC, benchGoProcess}

// benchGoProcess is the native Go worker as a process of its own
// (tasker-worker built from the checkout): its peak RSS is a worker's
// alone, the nearest equivalent of the River baseline's process (a River
// client and worker), where the in-process Go worker shares the bench
// process with orchestration, the REST API and the bench client.
const benchGoProcess = "go-process"

// parseHandlers reads --handlers: a comma list of benchLanguages, each once.
func parseHandlers(s string) ([]string, error) {
	var out []string
	for _, l := range strings.Split(s, ",") {
		l = strings.ToLower(strings.TrimSpace(l))
		if l == "" {
			continue
		}
		if !slices.Contains(benchLanguages, l) {
			return nil, fmt.Errorf("--handlers: unknown worker language %q (choose from %s)", l, strings.Join(benchLanguages, ", "))
		}
		if slices.Contains(out, l) {
			return nil, fmt.Errorf("--handlers: %q is listed twice", l)
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, errors.New("--handlers: name at least one of " + strings.Join(benchLanguages, ", "))
	}
	return out, nil
}

// benchWorker is the worker serving the example templates during one
// language's scenarios.
type benchWorker struct {
	lang string
	stop func(io.Writer)
	// pid is the worker process (0: the Go worker runs in this process).
	pid int
}

// peakRSSMB is the peak resident set size of a worker process (0 for the
// in-process Go worker, whose memory is the bench process's).
func (w *benchWorker) peakRSSMB() float64 {
	if w.pid == 0 {
		return 0
	}
	return round2(float64(procKB(fmt.Sprintf("/proc/%d/status", w.pid), "VmHWM:")) / 1024)
}

// startWorker starts lang's worker; the previous one must be stopped.
func (s *benchSystem) startWorker(ctx context.Context, out io.Writer, lang string, f benchFlags) error {
	var (
		w   *benchWorker
		err error
	)
	switch {
	case lang == "go":
		w, err = s.startGoWorker(ctx)
	case lang == benchGoProcess:
		w, err = s.startGoProcessWorker(ctx, out, f)
	case isWasmHandler(lang):
		w, err = s.startWasmWorker(ctx, out, lang)
	default:
		w, err = s.startBindingWorker(ctx, out, lang, f)
	}
	if err != nil {
		return fmt.Errorf("starting the %s worker: %w", lang, err)
	}
	s.worker = w
	return nil
}

// stopWorker stops the running worker, if any.
func (s *benchSystem) stopWorker(out io.Writer) {
	if s.worker != nil {
		s.worker.stop(out)
		s.worker = nil
	}
}

// sourceRoot finds the source checkout (the directory holding go.mod and
// bindings/) from the working directory upwards: the binding workers, their
// bench handlers and the native templates are read from it.
func sourceRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "bindings", "capi", "main.go")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("bindings/ not found above the working directory: run --handlers other than go from the source checkout")
		}
		dir = parent
	}
}

// workerLibrary is --worker-lib, else $TASKER_WORKER_LIB, else the library
// built from the checkout into tmp.
func workerLibrary(ctx context.Context, out io.Writer, f benchFlags, root, tmp string) (string, error) {
	for _, p := range []string{f.workerLib, os.Getenv("TASKER_WORKER_LIB")} {
		if p != "" {
			if _, err := os.Stat(p); err != nil { //nolint:gosec // the user names the library to load
				return "", fmt.Errorf("the worker library: %w", err)
			}
			return p, nil
		}
	}
	lib := filepath.Join(tmp, "libtasker_worker.so")
	fmt.Fprintln(out, "building the worker library (go build -buildmode=c-shared ./bindings/capi)...")
	cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-o", lib, "./bindings/capi")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the worker library: %w\n%s", err, b)
	}
	return lib, nil
}

// bindingCommand is the command line of lang's worker, serving the native
// example templates with the bench handlers of its package.
func bindingCommand(lang, root string, concurrency int) (bin string, args, env []string, started string, err error) {
	templates := filepath.Join(root, "workers", "native", "templates")
	conc := strconv.Itoa(concurrency)
	switch lang {
	case "ruby":
		bin, err = exec.LookPath("ruby")
		if err != nil {
			return "", nil, nil, "", errors.New("ruby is not installed (apt-get install ruby)")
		}
		args = []string{filepath.Join(root, "bindings", "ruby", "bin", "tasker-worker-ruby"),
			"--handlers", filepath.Join(root, "bindings", "ruby", "examples", "bench"), "--templates", templates,
			"--concurrency", conc}
		// Warnings and errors only, as the Python worker's --log-level
		// WARNING: the bench handlers' per-step info line would otherwise
		// be measured in one binding and not the other.
		return bin, args, []string{"TASKER_HANDLER_PATH=", "TASKER_TEMPLATE_PATH=", "TASKER_LOG_LEVEL=warn"},
			"tasker-worker-ruby started", nil
	case "python":
		bin, err = exec.LookPath("python3")
		if err != nil {
			return "", nil, nil, "", errors.New("python3 is not installed (apt-get install python3)")
		}
		args = []string{"-m", "tasker_core.worker",
			"--handlers", filepath.Join(root, "bindings", "python", "examples", "bench"), "--templates", templates,
			"--concurrency", conc, "--log-level", "WARNING"}
		env = []string{"PYTHONPATH=" + filepath.Join(root, "bindings", "python"), "PYTHON_HANDLER_PATH=",
			"TASKER_TEMPLATE_PATH=", "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"}
		return bin, args, env, "tasker_core.worker started", nil
	}
	return "", nil, nil, "", fmt.Errorf("no binding worker for %q", lang)
}

// startBindingWorker runs lang's worker as a process on the system's
// schema and waits for it to say it started.
func (s *benchSystem) startBindingWorker(ctx context.Context, out io.Writer, lang string, f benchFlags) (*benchWorker, error) {
	root, err := sourceRoot()
	if err != nil {
		return nil, err
	}
	bin, args, env, started, err := bindingCommand(lang, root, f.bindingConcurrency)
	if err != nil {
		return nil, err
	}
	if s.workerLib == "" {
		tmp, err := os.MkdirTemp("", "tasker-bench-lib-")
		if err != nil {
			return nil, err
		}
		s.cleanups = append(s.cleanups, func() { _ = os.RemoveAll(tmp) })
		if s.workerLib, err = workerLibrary(ctx, out, f, root, tmp); err != nil {
			return nil, err
		}
	}
	return s.startProcessWorker(ctx, out, lang, root, bin, args, append(env, "TASKER_WORKER_LIB="+s.workerLib), started, f)
}

// startGoProcessWorker runs tasker-worker, built from the checkout on first
// use, as a process on the system's schema: the native Go worker serving
// the same example templates as the in-process one.
func (s *benchSystem) startGoProcessWorker(ctx context.Context, out io.Writer, f benchFlags) (*benchWorker, error) {
	root, err := sourceRoot()
	if err != nil {
		return nil, err
	}
	if s.goWorkerBin == "" {
		tmp, err := os.MkdirTemp("", "tasker-bench-worker-")
		if err != nil {
			return nil, err
		}
		s.cleanups = append(s.cleanups, func() { _ = os.RemoveAll(tmp) })
		bin := filepath.Join(tmp, "tasker-worker")
		fmt.Fprintln(out, "building the Go worker (go build ./cmd/tasker-worker)...")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/tasker-worker")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building tasker-worker: %w\n%s", err, b)
		}
		s.goWorkerBin = bin
	}
	return s.startProcessWorker(ctx, out, benchGoProcess, root, s.goWorkerBin, nil, nil, "tasker-worker started", f)
}

// startProcessWorker runs a worker process (bin with args, env added to
// this process's and the system's database and queue settings) and waits
// until it writes a line containing started.
func (s *benchSystem) startProcessWorker(ctx context.Context, out io.Writer, lang, root, bin string, args, env []string,
	started string, f benchFlags) (*benchWorker, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), append(env, "DATABASE_URL="+s.dbURL,
		"TASKER__DATABASE__URL="+s.dbURL, "TASKER__DATABASE__SCHEMA="+s.schema, "TASKER__WORKER__WEB__ENABLED=false")...)
	cmd.Env = append(cmd.Env, "TASKER__QUEUES__BACKEND="+s.backend)
	if s.brokerURL != "" {
		cmd.Env = append(cmd.Env, "TASKER__QUEUES__RABBITMQ__URL="+s.brokerURL)
	}
	if f.env != "" {
		cmd.Env = append(cmd.Env, "TASKER_ENV="+f.env)
	}
	if f.root != "" {
		cmd.Env = append(cmd.Env, configRootEnv+"="+f.root)
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var (
		mu   sync.Mutex
		tail []string // the last lines, for errors
	)
	up := make(chan struct{})
	exited := make(chan struct{})
	var waitErr error
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			tail = append(tail, line)
			if len(tail) > 20 {
				tail = tail[1:]
			}
			mu.Unlock()
			if !signalled && strings.Contains(line, started) {
				signalled = true
				close(up)
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() { waitErr = cmd.Wait(); _ = pw.Close(); close(exited) }()
	lastLines := func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(tail, "\n")
	}
	select {
	case <-up:
	case <-exited:
		return nil, fmt.Errorf("%s worker exited before starting (%v):\n%s", lang, waitErr, lastLines())
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		return nil, fmt.Errorf("%s worker did not start within 90 s:\n%s", lang, lastLines())
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-exited
		return nil, ctx.Err()
	}
	fmt.Fprintf(out, "%s worker running (pid %d)\n", lang, cmd.Process.Pid)
	w := &benchWorker{lang: lang, pid: cmd.Process.Pid}
	w.stop = func(out io.Writer) {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			fmt.Fprintf(out, "%s worker killed: still running 15 s after SIGTERM\n", lang)
		}
	}
	return w, nil
}

// handlerRun is what one worker language measured.
type handlerRun struct {
	Latency    map[string]*latencyResult `json:"latency"`
	Creation   *percentiles              `json:"creation_ms,omitempty"`
	Throughput *throughputResult         `json:"throughput,omitempty"`
	// WorkerPeakRSSMB is the binding worker process's peak RSS (absent for
	// the in-process Go worker).
	WorkerPeakRSSMB float64 `json:"worker_peak_rss_mb,omitempty"`
	// Overhead compares this language with the Go worker of the same run.
	Overhead *handlerOverhead `json:"overhead_vs_go,omitempty"`
	// WorkerCPUMSPerStep is the CPU time of the binding worker process
	// (all its threads: the handlers, the binding and the worker library)
	// per step it ran, over every scenario (absent for the in-process Go
	// worker).
	WorkerCPUMSPerStep float64 `json:"worker_cpu_ms_per_step,omitempty"`
	// Rounds is how many rounds were merged into these figures.
	Rounds      int `json:"rounds"`
	creates     []time.Duration
	workerCPU   time.Duration
	workerSteps int64
}

// mergeRuns adds one round's figures to the rounds before (nil: none):
// latency percentiles over all samples, throughput over all tasks and
// seconds (database figures and top statements are the last round's),
// peak RSS the highest.
func mergeRuns(into, add *handlerRun) *handlerRun {
	add.Rounds = 1
	if into == nil {
		return add
	}
	into.Rounds++
	for name, l := range add.Latency {
		m := into.Latency[name]
		if m == nil {
			into.Latency[name] = l
			continue
		}
		m.client, m.server = append(m.client, l.client...), append(m.server, l.server...)
		m.timings = append(m.timings, l.timings...)
		m.ClientMS, m.ServerMS = percentilesOf(m.client), percentilesOf(m.server)
	}
	if len(add.creates) > 0 {
		into.creates = append(into.creates, add.creates...)
		into.Creation = percentilesOf(into.creates)
	}
	if t := add.Throughput; t != nil {
		if m := into.Throughput; m != nil {
			t.Tasks += m.Tasks
			t.Steps += m.Steps
			t.Seconds = math.Round((t.Seconds+m.Seconds)*1000) / 1000
			t.StepsPerSec = math.Round(float64(t.Steps)/t.Seconds*10) / 10
			t.TasksPerSec = math.Round(float64(t.Tasks)/t.Seconds*10) / 10
			t.Backpressured += m.Backpressured
			t.PeakRSSMB = max(t.PeakRSSMB, m.PeakRSSMB)
			t.CPU = mergeCPU(m.CPU, t.CPU)
		}
		into.Throughput = t
	}
	into.WorkerPeakRSSMB = max(into.WorkerPeakRSSMB, add.WorkerPeakRSSMB)
	if add.workerSteps > 0 {
		into.workerCPU += add.workerCPU
		into.workerSteps += add.workerSteps
		into.WorkerCPUMSPerStep = round2(float64(into.workerCPU.Microseconds()) / 1000 / float64(into.workerSteps))
	}
	return into
}

// handlerOverhead is what a binding adds to the Go worker's figures.
type handlerOverhead struct {
	Linear4P50AddedMS        float64 `json:"linear4_p50_added_ms"`
	Linear4P50AddedMSPerStep float64 `json:"linear4_p50_added_ms_per_step"`
	// Linear4P50AddedPct is the added latency per step, as a percentage
	// of the Go worker's latency per step (the same as of the task's).
	Linear4P50AddedPct   float64 `json:"linear4_p50_added_pct"`
	Linear4ServerAddedPc float64 `json:"linear4_server_p50_added_pct"`
	ThroughputChangePct  float64 `json:"throughput_change_pct,omitempty"`
	// Linear4HandlerAddedMSPerStep is what the "handler runs" stage adds
	// per step (the mean over the steps of its medians): the cost of the
	// language's own machinery, less noisy than the whole task's p50.
	Linear4HandlerAddedMSPerStep *float64 `json:"linear4_handler_stage_added_ms_per_step,omitempty"`
}

// overheadAgainst compares run with the Go worker's run.
func overheadAgainst(run, goRun *handlerRun) *handlerOverhead {
	l, g := run.Latency["linear4"], goRun.Latency["linear4"]
	o := &handlerOverhead{}
	if l != nil && g != nil && g.ClientMS.P50 > 0 {
		d := l.ClientMS.P50 - g.ClientMS.P50
		o.Linear4P50AddedMS = round2(d)
		o.Linear4P50AddedMSPerStep = round2(d / float64(l.Steps))
		o.Linear4P50AddedPct = round2(100 * d / g.ClientMS.P50)
		if g.ServerMS.P50 > 0 {
			o.Linear4ServerAddedPc = round2(100 * (l.ServerMS.P50 - g.ServerMS.P50) / g.ServerMS.P50)
		}
		o.Linear4HandlerAddedMSPerStep = handlerStageAdded(l.Stages, g.Stages)
	}
	if run.Throughput != nil && goRun.Throughput != nil && goRun.Throughput.StepsPerSec > 0 {
		o.ThroughputChangePct = round2(100 * (run.Throughput.StepsPerSec - goRun.Throughput.StepsPerSec) / goRun.Throughput.StepsPerSec)
	}
	return o
}

// printHandlers prints the languages side by side.
func printHandlers(out io.Writer, r *benchReport) {
	if len(r.Handlers) < 2 {
		return
	}
	fmt.Fprintln(out, "\nworkers side by side (linear 4; added latency against the Go worker; target < 5 %)")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "worker\tclient p50\tp99\tserver p50\tsteps/s\tadded ms/step\tadded %\thandler +ms/step\tworker RSS MB\tworker CPU ms/step\t")
	for _, lang := range r.Handlers {
		run := r.ByHandler[lang]
		if run == nil {
			continue
		}
		cells := []string{lang, "-", "-", "-", "-", "-", "-", "-", "-", "-"}
		if l := run.Latency["linear4"]; l != nil {
			cells[1], cells[2], cells[3] = fmt.Sprintf("%.1f", l.ClientMS.P50), fmt.Sprintf("%.1f", l.ClientMS.P99), fmt.Sprintf("%.1f", l.ServerMS.P50)
		}
		if run.Throughput != nil {
			cells[4] = fmt.Sprintf("%.0f", run.Throughput.StepsPerSec)
		}
		if o := run.Overhead; o != nil {
			cells[5], cells[6] = fmt.Sprintf("%+.2f", o.Linear4P50AddedMSPerStep), fmt.Sprintf("%+.1f", o.Linear4P50AddedPct)
			if o.Linear4HandlerAddedMSPerStep != nil {
				cells[7] = fmt.Sprintf("%+.2f", *o.Linear4HandlerAddedMSPerStep)
			}
		}
		if run.WorkerPeakRSSMB > 0 {
			cells[8] = fmt.Sprintf("%.1f", run.WorkerPeakRSSMB)
		}
		if run.WorkerCPUMSPerStep > 0 {
			cells[9] = fmt.Sprintf("%.3f", run.WorkerCPUMSPerStep)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	_ = tw.Flush()
	for _, lang := range r.Handlers[1:] {
		if run := r.ByHandler[lang]; run != nil && run.Latency["linear4"] != nil {
			printStages(out, lang+" worker", run.Latency["linear4"].Stages)
		}
	}
}
