package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/shared/state"
)

type latencyScenario struct {
	name, namespace, template, input string
	steps                            int
}

// latencyScenarios use the native worker's example templates.
var latencyScenarios = []latencyScenario{
	{"linear4", "examples_linear", "square_chain", `{"even_number":6}`, 4},
	{"diamond4", "examples_diamond", "square_diamond", `{"even_number":6}`, 4},
	{"dag7", "examples_dag", "mixed_dag", `{"even_number":2}`, 7},
	{"tree8", "examples_tree", "square_tree", `{"even_number":2}`, 8},
}

type percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
	Avg float64 `json:"avg"`
}

func percentilesOf(ds []time.Duration) *percentiles {
	if len(ds) == 0 {
		return &percentiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return ms(s[min(max(i, 0), len(s)-1)])
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return &percentiles{N: len(s), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: ms(s[len(s)-1]),
		Avg: ms(sum / time.Duration(len(s)))}
}

func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())/10) / 100 }

type latencyResult struct {
	Steps    int          `json:"steps"`
	ClientMS *percentiles `json:"client_ms"`
	ServerMS *percentiles `json:"server_ms"`
	// Stages splits linear 4's latency per step and stage (from the
	// step history; needs the database).
	Stages *stageBreakdown `json:"stages,omitempty"`
	// timings are the measured tasks, for the breakdown; client and
	// server are the samples (rounds are merged from them).
	timings        []taskTiming
	client, server []time.Duration
}

// runLatency runs warmup+n tasks one after another; client latency is from
// just before POST /v1/tasks to the end event of the task's stream.
func runLatency(ctx context.Context, c *client.Client, sc latencyScenario, warmup, n int, p *progress) (*latencyResult, []time.Duration, error) {
	var clientLat, serverLat, creates []time.Duration
	var timings []taskTiming
	for i := 0; i < warmup+n; i++ {
		p.update(fmt.Sprintf("latency %-8s", sc.name), i, warmup+n)
		start := time.Now()
		task, err := c.CreateTask(ctx, client.TaskRequest{Namespace: sc.namespace, Name: sc.template,
			Context: json.RawMessage(sc.input), Initiator: "tasker-bench"})
		if err != nil {
			return nil, nil, err
		}
		created := time.Since(start)
		status, err := c.Follow(ctx, task.TaskUUID, nil)
		if err != nil {
			return nil, nil, err
		}
		total := time.Since(start)
		if status != "complete" {
			return nil, nil, fmt.Errorf("task %s ended %s", task.TaskUUID, status)
		}
		if i < warmup {
			continue
		}
		final, err := c.GetTask(ctx, task.TaskUUID)
		if err != nil {
			return nil, nil, err
		}
		clientLat = append(clientLat, total)
		timings = append(timings, taskTiming{id: task.TaskUUID, start: start, end: start.Add(total), created: created})
		creates = append(creates, created)
		if final.CompletedAt != nil {
			serverLat = append(serverLat, final.CompletedAt.Sub(final.CreatedAt))
		}
	}
	return &latencyResult{Steps: sc.steps, ClientMS: percentilesOf(clientLat), ServerMS: percentilesOf(serverLat),
		timings: timings, client: clientLat, server: serverLat}, creates, nil
}

type throughputResult struct {
	Tasks               int      `json:"tasks"`
	Steps               int      `json:"steps"`
	Seconds             float64  `json:"seconds"`
	StepsPerSec         float64  `json:"steps_per_sec"`
	TasksPerSec         float64  `json:"tasks_per_sec"`
	ServerSeconds       float64  `json:"server_seconds,omitempty"`
	DBXactsPerStep      *float64 `json:"db_xacts_per_step"`
	DBStatementsPerStep *float64 `json:"db_statements_per_step"`
	PeakRSSMB           float64  `json:"peak_rss_mb"`
	WorkerPeakRSSMB     *float64 `json:"worker_peak_rss_mb,omitempty"`
	// PeakRSSAnonMB and PeakRSSFileMB split PeakRSSMB in embedded mode:
	// the highest anonymous (heap, stacks, runtime) and file-backed (the
	// binary's pages) resident memory sampled over the scenario.
	PeakRSSAnonMB      *float64 `json:"peak_rss_anon_mb,omitempty"`
	PeakRSSFileMB      *float64 `json:"peak_rss_file_mb,omitempty"`
	StepsPerPGBenchTPS *float64 `json:"steps_per_pgbench_tps,omitempty"`
	RSSNote            string   `json:"peak_rss_note"`
	// TopStatements are where the database's time went during the run
	// (with pg_stat_statements).
	TopStatements []statementStat `json:"top_statements,omitempty"`
	Backpressured int64           `json:"backpressure_retries"`
	// Updates are the row updates of tasks and workflow_steps during the
	// run, and how many were HOT (pg_stat_user_tables of the schema).
	Updates map[string]hotUpdates `json:"updates,omitempty"`
	// CPU is the CPU time per step of this process and of PostgreSQL.
	CPU *cpuPerStep `json:"cpu_per_step,omitempty"`
}

// hotUpdates counts a table's row updates and the HOT ones among them.
type hotUpdates struct {
	Updates int64   `json:"updates"`
	HOT     int64   `json:"hot"`
	HOTPct  float64 `json:"hot_pct"`
}

type dbCounters struct {
	xacts, statements int64
	haveStatements    bool
	updates           map[string]hotUpdates
}

func readCounters(ctx context.Context, db *pgx.Conn, schema string) (dbCounters, error) {
	var c dbCounters
	if db == nil {
		return c, nil
	}
	if err := db.QueryRow(ctx, `SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&c.xacts); err != nil {
		return c, err
	}
	if rows, err := db.Query(ctx, `SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
		WHERE schemaname = $1 AND relname IN ('tasks', 'workflow_steps')`, schema); err == nil {
		c.updates = map[string]hotUpdates{}
		var name string
		var u hotUpdates
		_, _ = pgx.ForEachRow(rows, []any{&name, &u.Updates, &u.HOT}, func() error {
			c.updates[name] = u
			return nil
		})
	}
	var n *int64
	if err := db.QueryRow(ctx, `SELECT sum(calls)::bigint FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n); err == nil && n != nil {
		c.statements, c.haveStatements = *n, true
	}
	return c, nil
}

// runThroughput submits tasks from concurrent clients as fast as they are
// accepted and waits for all to complete.
//
// cpu (nil: none) measures the CPU time from the first create to the last
// completion.
func runThroughput(ctx context.Context, c *client.Client, db *pgx.Conn, schema string, tasks, concurrency int, p *progress, cpu *cpuMeter) (*throughputResult, error) {
	run := "tasker-bench-" + uuid.NewString()[:8]
	sc := latencyScenarios[0]
	if db != nil {
		// Statistics are sent to the collector asynchronously; settle them.
		_, _ = db.Exec(ctx, `SELECT pg_stat_clear_snapshot()`)
	}
	before, err := readCounters(ctx, db, schema)
	if err != nil {
		return nil, err
	}
	var stmtsBefore statementSnapshot
	if before.haveStatements {
		stmtsBefore, _ = snapshotStatements(ctx, db)
	}
	res := &throughputResult{Tasks: tasks, Steps: tasks * sc.steps,
		RSSNote: "one process: orchestration, worker and benchmark client (embedded mode)"}
	var next, created atomic.Int64
	var retries atomic.Int64
	defer cpu.abort()
	if err := cpu.begin(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, concurrency)
	for range concurrency {
		wg.Go(func() {
			for next.Add(1) <= int64(tasks) {
				for {
					_, err := c.CreateTask(ctx, client.TaskRequest{Namespace: sc.namespace, Name: sc.template,
						Context: json.RawMessage(sc.input), Initiator: run})
					var apiErr *client.Error
					if errors.As(err, &apiErr) && apiErr.Status == 503 {
						retries.Add(1)
						time.Sleep(max(apiErr.RetryAfter/10, 50*time.Millisecond))
						continue
					}
					if err != nil {
						errc <- err
						return
					}
					created.Add(1)
					break
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	finished := 0
	var lastPoll time.Duration
	for finished < tasks {
		select {
		case err := <-errc:
			return nil, err
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(progressWait(lastPoll)):
		}
		polled := time.Now()
		// The run's tasks still open (an index holds the open tasks only;
		// counting the finished ones would read the whole history): every
		// task counted as created was committed, so it is open or finished.
		submitted := int(created.Load())
		list, err := c.ListTasks(ctx, client.ListOptions{Status: openTaskStates, PerPage: 1,
			Namespace: sc.namespace, Name: sc.template}, client.WithInitiator(run))
		if err != nil {
			return nil, err
		}
		finished = submitted - list.Pagination.TotalCount
		lastPoll = time.Since(polled)
		p.update(fmt.Sprintf("throughput (%d created)", created.Load()), finished, tasks)
	}
	<-done
	elapsed := time.Since(start)
	if res.CPU, err = cpu.end(ctx, res.Steps); err != nil {
		return nil, err
	}
	res.Seconds = math.Round(elapsed.Seconds()*1000) / 1000
	res.StepsPerSec = math.Round(float64(res.Steps)/elapsed.Seconds()*10) / 10
	res.TasksPerSec = math.Round(float64(tasks)/elapsed.Seconds()*10) / 10
	res.Backpressured = retries.Load()
	if db != nil {
		after, err := settledCounters(ctx, db, schema, before, res.Steps)
		if err == nil {
			res.Updates = updatesBetween(before.updates, after.updates)
			x := round2(float64(after.xacts-before.xacts) / float64(res.Steps))
			res.DBXactsPerStep = &x
			if after.haveStatements && before.haveStatements {
				s := round2(float64(after.statements-before.statements) / float64(res.Steps))
				res.DBStatementsPerStep = &s
				if stmtsAfter, err := snapshotStatements(ctx, db); err == nil && stmtsBefore != nil {
					res.TopStatements = topStatements(stmtsBefore, stmtsAfter, 10)
				}
			}
		}
	}
	return res, nil
}

// settledCounters reads the counters once the run's statistics have reached
// them. Backends report statistics at most once a second, and a backend
// that went idle with a report pending sends it only after up to ten
// seconds, so it reads until the step table's updates cover the run (every
// step of it was updated at least once) or twelve seconds passed.
func settledCounters(ctx context.Context, db *pgx.Conn, schema string, before dbCounters, steps int) (dbCounters, error) {
	deadline := time.Now().Add(12 * time.Second)
	for {
		_, _ = db.Exec(ctx, `SELECT pg_stat_clear_snapshot()`)
		after, err := readCounters(ctx, db, schema)
		if err != nil {
			return after, err
		}
		a, ok := after.updates["workflow_steps"]
		covered := !ok || a.Updates-before.updates["workflow_steps"].Updates >= int64(steps)
		if covered || time.Now().After(deadline) {
			return after, nil
		}
		select {
		case <-ctx.Done():
			return after, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// openTaskStates are the task states a run's task is in until it finishes.
var openTaskStates = func() []string {
	var out []string
	for _, s := range state.TaskStates {
		if !s.Terminal() {
			out = append(out, string(s))
		}
	}
	return out
}()

// updatesBetween is the HOT update share of each table between two
// readings.
func updatesBetween(before, after map[string]hotUpdates) map[string]hotUpdates {
	if before == nil || after == nil {
		return nil
	}
	out := map[string]hotUpdates{}
	for name, a := range after {
		b := before[name]
		u := hotUpdates{Updates: a.Updates - b.Updates, HOT: a.HOT - b.HOT}
		if u.Updates > 0 {
			u.HOTPct = math.Round(float64(u.HOT)/float64(u.Updates)*1000) / 10
		}
		out[name] = u
	}
	return out
}

// progressWait is the pause between two progress polls of the throughput
// run: 100 ms, or five times as long as the last poll took. The poll lists
// the run's finished tasks with a count, which scans the tasks table: with
// a large history it costs tens of milliseconds of database time, and
// polling it every 100 ms would make the harness a large part of the load
// it measures.
func progressWait(last time.Duration) time.Duration {
	return max(100*time.Millisecond, 5*last)
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

type pgbenchResult struct {
	TPS      float64 `json:"tps"`
	Clients  int     `json:"clients"`
	Seconds  int     `json:"seconds"`
	Scale    int     `json:"scale"`
	Database string  `json:"database"`
	Error    string  `json:"error,omitempty"`
}

var tpsRE = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// runPGBench runs a short TPC-B on a scratch database (created and dropped
// here) when pgbench is installed.
func runPGBench(ctx context.Context, dbURL string, quick bool, p *progress) *pgbenchResult {
	bin, err := exec.LookPath("pgbench")
	if err != nil {
		if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench"); len(m) > 0 {
			bin = m[len(m)-1]
		} else {
			return nil
		}
	}
	r := &pgbenchResult{Clients: 8, Seconds: 15, Scale: 10, Database: "tasker_pgbench_" + randomSuffix()}
	if quick {
		r.Seconds, r.Scale = 5, 2
	}
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{r.Database}.Sanitize()); err != nil {
		r.Error = err.Error()
		return r
	}
	defer func() {
		_, _ = admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+pgx.Identifier{r.Database}.Sanitize())
	}()
	env := append(os.Environ(), "PGHOST="+cfg.Host, "PGPORT="+strconv.Itoa(int(cfg.Port)), "PGUSER="+cfg.User,
		"PGDATABASE="+r.Database)
	if cfg.Password != "" {
		env = append(env, "PGPASSWORD="+cfg.Password)
	}
	p.update("pgbench init", 0, 1)
	initCmd := exec.CommandContext(ctx, bin, "-i", "-q", "-s", strconv.Itoa(r.Scale))
	initCmd.Env = env
	if b, err := initCmd.CombinedOutput(); err != nil {
		r.Error = fmt.Sprintf("pgbench -i: %v: %s", err, lastLine(string(b)))
		return r
	}
	p.update(fmt.Sprintf("pgbench %ds", r.Seconds), 0, 1)
	run := exec.CommandContext(ctx, bin, "-c", strconv.Itoa(r.Clients), "-j", "2", "-T", strconv.Itoa(r.Seconds), "-M", "prepared")
	run.Env = env
	b, err := run.CombinedOutput()
	if err != nil {
		r.Error = fmt.Sprintf("pgbench: %v: %s", err, lastLine(string(b)))
		return r
	}
	if m := tpsRE.FindStringSubmatch(string(b)); m != nil {
		r.TPS, _ = strconv.ParseFloat(m[1], 64)
	}
	return r
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// runRiverBaseline runs bench/cmd/river-baseline from the source checkout.
func runRiverBaseline(ctx context.Context, stderr io.Writer, dbURL string, quick bool) (json.RawMessage, error) {
	if dbURL == "" {
		return nil, errors.New("needs the database (use --embedded, or --database-url with --url)")
	}
	dir, err := findBenchModule()
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp("", "river-*.json")
	if err != nil {
		return nil, err
	}
	_ = tmp.Close()
	defer os.Remove(tmp.Name())
	args := []string{"run", "./cmd/river-baseline", "--database-url", dbURL, "--schema", "river_bench_" + randomSuffix(), "--json", tmp.Name()}
	if quick {
		args = append(args, "--quick")
	}
	fmt.Fprintln(stderr, "running the River baseline (go "+strings.Join(args[:2], " ")+")...")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("river-baseline: %w", err)
	}
	return os.ReadFile(tmp.Name())
}

// findBenchModule finds bench/ (the River baseline module) from the working
// directory upwards.
func findBenchModule() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "bench", "go.mod")
		if _, err := os.Stat(p); err == nil {
			return filepath.Dir(p), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("bench/go.mod not found above the working directory: run --peers from the source checkout")
		}
		dir = parent
	}
}

// memoryMB reads the machine's memory from /proc/meminfo.
func memoryMB() int {
	return int(procKB("/proc/meminfo", "MemTotal:") / 1024)
}

// peakRSSMB is this process's peak resident set size.
func peakRSSMB() float64 {
	return round2(float64(procKB("/proc/self/status", "VmHWM:")) / 1024)
}

func procKB(file, key string) int64 {
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), key) {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 2 {
				n, _ := strconv.ParseInt(fields[1], 10, 64)
				return n
			}
		}
	}
	return 0
}

// printBench prints the report, with the River baseline beside ours when
// present.
func printBench(out io.Writer, r *benchReport) {
	fmt.Fprintf(out, "\nTasker for Go %s — %d cores, %d MB, PostgreSQL %s, %s\n\n", r.Version, r.Machine.Cores,
		r.Machine.MemoryMB, r.Machine.PostgresVersion, r.Machine.GoVersion)
	if len(r.Backends) > 0 {
		fmt.Fprintf(out, "queue backend: %s", r.Backends[0])
		if len(r.Backends) > 1 {
			fmt.Fprintf(out, " (the figures below; %s side by side at the end)", strings.Join(r.Backends, ", "))
		}
		fmt.Fprint(out, "\n\n")
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "latency (ms)\tsteps\tclient p50\tp95\tp99\tmax\tserver p50\tp95\tp99\t")
	for _, sc := range latencyScenarios {
		l := r.Latency[sc.name]
		if l == nil {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t\n", sc.name, l.Steps, l.ClientMS.P50, l.ClientMS.P95,
			l.ClientMS.P99, l.ClientMS.Max, l.ServerMS.P50, l.ServerMS.P95, l.ServerMS.P99)
	}
	_ = tw.Flush()
	if l := r.Latency["linear4"]; l != nil && len(r.Handlers) > 0 {
		printStages(out, r.Handlers[0]+" worker", l.Stages)
	}
	if r.Creation != nil {
		fmt.Fprintf(out, "\ntask creation (POST /v1/tasks): p50 %.2f ms, p99 %.2f ms (n=%d)\n", r.Creation.P50, r.Creation.P99, r.Creation.N)
	}
	if t := r.Throughput; t != nil {
		fmt.Fprintf(out, "throughput: %d linear tasks (%d steps) in %.2f s = %.0f steps/s (%.0f tasks/s)\n",
			t.Tasks, t.Steps, t.Seconds, t.StepsPerSec, t.TasksPerSec)
		if t.DBXactsPerStep != nil {
			fmt.Fprintf(out, "database: %.2f transactions per step", *t.DBXactsPerStep)
			if t.DBStatementsPerStep != nil {
				fmt.Fprintf(out, ", %.2f statements per step", *t.DBStatementsPerStep)
			} else {
				fmt.Fprint(out, " (statements: pg_stat_statements not installed)")
			}
			fmt.Fprintln(out)
		}
		if u, ok := t.Updates["workflow_steps"]; ok {
			tk := t.Updates["tasks"]
			fmt.Fprintf(out, "HOT updates: steps %.1f %% of %d, tasks %.1f %% of %d\n", u.HOTPct, u.Updates, tk.HOTPct, tk.Updates)
		}
		if t.WorkerPeakRSSMB != nil {
			fmt.Fprintf(out, "peak RSS: orchestration %.1f MB, worker %.1f MB (%s)\n", t.PeakRSSMB, *t.WorkerPeakRSSMB, t.RSSNote)
		} else {
			fmt.Fprintf(out, "peak RSS: %.1f MB (%s)\n", t.PeakRSSMB, t.RSSNote)
		}
		printCPU(out, t.CPU)
		printStatements(out, t.TopStatements)
	}
	if p := r.PGBench; p != nil {
		if p.Error != "" {
			fmt.Fprintln(out, "pgbench:", p.Error)
		} else {
			fmt.Fprintf(out, "pgbench TPC-B (scale %d, %d clients, %d s): %.0f tps", p.Scale, p.Clients, p.Seconds, p.TPS)
			if r.Throughput != nil && r.Throughput.StepsPerPGBenchTPS != nil {
				fmt.Fprintf(out, "; steps/s ÷ tps = %.2f", *r.Throughput.StepsPerPGBenchTPS)
			}
			fmt.Fprintln(out)
		}
	}
	printHandlers(out, r)
	printBackends(out, r)
	if r.History != nil && len(r.Handlers) > 0 {
		printHistory(out, r.ByHandler[r.Handlers[0]], r.History)
		if l := r.History.Run.Latency["linear4"]; l != nil {
			printStages(out, "with history", l.Stages)
		}
	}
	printTargets(out, r.TargetChecks)
	if raw, ok := r.Peers["river"]; ok {
		printPeer(out, r, raw)
	}
}

func printPeer(out io.Writer, r *benchReport, raw json.RawMessage) {
	var river struct {
		Version string `json:"version"`
		Linear4 struct {
			ClientMS percentiles `json:"client_ms"`
			ServerMS percentiles `json:"server_ms"`
		} `json:"linear4"`
		Throughput struct {
			StepsPerSec    float64  `json:"steps_per_sec"`
			DBXactsPerStep *float64 `json:"db_xacts_per_step"`
			PeakRSSMB      float64  `json:"peak_rss_mb"`
			PeakRSSAnonMB  float64  `json:"peak_rss_anon_mb"`
			PeakRSSFileMB  float64  `json:"peak_rss_file_mb"`
		} `json:"throughput"`
	}
	if err := json.Unmarshal(raw, &river); err != nil {
		fmt.Fprintln(out, "River baseline: unreadable report:", err)
		return
	}
	ours := r.Latency["linear4"]
	fmt.Fprintf(out, "\nside by side with River %s\n", river.Version)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measure\ttasker-go\triver\tratio (river/ours)\t")
	row := func(name string, a, b float64) {
		ratio := 0.0
		if a > 0 {
			ratio = b / a
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.2f\t\n", name, a, b, ratio)
	}
	if ours != nil {
		row("linear4 client p50 ms", ours.ClientMS.P50, river.Linear4.ClientMS.P50)
		row("linear4 client p95 ms", ours.ClientMS.P95, river.Linear4.ClientMS.P95)
		row("linear4 server p50 ms", ours.ServerMS.P50, river.Linear4.ServerMS.P50)
	}
	if r.Throughput != nil {
		row("throughput steps/s", r.Throughput.StepsPerSec, river.Throughput.StepsPerSec)
		if r.Throughput.DBXactsPerStep != nil && river.Throughput.DBXactsPerStep != nil {
			row("transactions per step", *r.Throughput.DBXactsPerStep, *river.Throughput.DBXactsPerStep)
		}
		row("peak RSS MB", r.Throughput.PeakRSSMB, river.Throughput.PeakRSSMB)
		// The split (embedded mode, and a River baseline that reports it):
		// anonymous memory is what the load costs; file-backed pages are
		// the binaries' (see docs/benchmarks.md, "Peak RSS: where it goes").
		if t := r.Throughput; t.PeakRSSAnonMB != nil && t.PeakRSSFileMB != nil && river.Throughput.PeakRSSAnonMB > 0 {
			row("  anonymous MB (sampled)", *t.PeakRSSAnonMB, river.Throughput.PeakRSSAnonMB)
			row("  file-backed MB (sampled)", *t.PeakRSSFileMB, river.Throughput.PeakRSSFileMB)
		}
		// A worker alone (--handlers go-process) against River's client
		// and worker: the like-for-like figure.
		if gp := r.ByHandler[benchGoProcess]; gp != nil && gp.WorkerPeakRSSMB > 0 {
			row("peak RSS MB, Go worker process", gp.WorkerPeakRSSMB, river.Throughput.PeakRSSMB)
		}
	}
	_ = tw.Flush()
}

// progress draws a one-line progress bar on a terminal (nothing otherwise).
type progress struct {
	w    io.Writer
	tty  bool
	last time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(label string, done, total int) {
	if !p.tty || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	const width = 30
	fill := 0
	if total > 0 {
		fill = min(width, done*width/total)
	}
	fmt.Fprintf(p.w, "\r%-36s [%s%s] %d/%d  ", label, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), done, total)
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", 90)+"\r")
	}
}
