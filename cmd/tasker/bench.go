package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/brokervhost"
	"github.com/tasker-go/tasker/orchestration/server"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/store/migrations"
	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/workers/native"
)

type benchFlags struct {
	url             string
	databaseURL     string
	embedded        bool
	quick           bool
	peers           bool
	jsonOut         string
	latencyN        int
	warmup          int
	throughputTasks int
	concurrency     int
	pgbench         bool
	keep            bool
	root, env       string
	dir             string
	embeddedPG      bool
	// autovacuum is on or off for the private cluster ("": not given).
	autovacuum string
	cpuProfile string
	only       string
	workerURL  string
	handlers   string
	rounds     int
	history    int
	schema     string
	workerLib  string
	// bindingConcurrency is the handler concurrency of the Ruby and Python
	// workers.
	bindingConcurrency int
	// appName is the embedded system's application_name (set, not a flag).
	appName string
	// backend is --backend (a comma list; "" the configured backend) and
	// rabbitmqURL the broker of the rabbitmq backend.
	backend, rabbitmqURL string
}

// benchTarget is one system measured, with its figures per worker.
type benchTarget struct {
	backend   string
	sys       *benchSystem // nil with --url
	apiURL    string
	schema    string
	c         *client.Client
	byHandler map[string]*handlerRun
}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench (--embedded | --url URL) [--quick] [--json FILE] [--peers]",
		Short: "Measure latency, task creation and throughput (optionally beside River)",
		Long: `Measure the system the way a client sees it, with trivial handlers from the native
Go worker's example templates:

  latency     linear 4, diamond 4, complex DAG 7 and tree 8 steps: N sequential tasks
              each after a warm-up; client-observed create→terminal latency (from the
              task's event stream) and server-side latency (created_at→completed_at)
  creation    POST /v1/tasks latency, from the same runs
  throughput  M linear tasks submitted by concurrent clients; steps/s from the first
              create to the last completion; database transactions and statements per
              step (pg_stat_database, pg_stat_statements when installed); CPU time
              per step of this process and of a local PostgreSQL; peak RSS
  pgbench     a short TPC-B run on a scratch database when pgbench is installed, as a
              physical reference for this machine
  stages      linear 4's latency per step and stage, from the step history (needs
              the database): API/parent processed → enqueued → claim → handler start
              → handler end → result written → processed → client
  statements  the throughput run's top statements by database time, when
              pg_stat_statements is loaded (created in the database if preloaded)

--handlers go,ruby,python measures the Ruby and Python binding workers (each a
process on the worker library, run from the source checkout) beside the Go
worker, one after the other (--rounds R interleaves them), with the latency
each adds per step. wasm runs the same templates on WASM handlers in the Go
worker (the arith Go guest, built from the checkout with GOOS=wasip1;
wasm-uninterruptible compiles it without the checks that let a step's
timeout stop a running module; wasm-c runs them on the arith C guest, built
with clang for wasm32-wasi). go-process runs the Go worker as a process of
its own (tasker-worker built from the checkout), whose peak RSS is then a
worker's alone: the like-for-like figure beside River's process (a River
client and worker). --history N loads N finished steps of history with COPY
after the fresh run and measures again beside it.

--embedded starts its own system in this process (like tasker dev) on a fresh
schema that is dropped afterwards; --url measures a running server (database
figures need --database-url; peak RSS is sampled from the /metrics of the
server and of the worker given with --worker-url). --peers also runs the River baseline from the
bench/ module of a source checkout and prints both side by side.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBench(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "measure the server at this URL")
	fl.StringVar(&f.databaseURL, "database-url", "", "with --url: the server's database, for transaction counts")
	fl.StringVar(&f.workerURL, "worker-url", "", "with --url: a worker's API (its /metrics gives the worker's peak RSS)")
	fl.BoolVar(&f.embedded, "embedded", false, "start a system in this process and measure it")
	fl.BoolVar(&f.quick, "quick", false, "a sub-minute smoke run (small sizes)")
	fl.BoolVar(&f.peers, "peers", false, "also run the River baseline (needs the source checkout and the go command)")
	fl.StringVar(&f.jsonOut, "json", "", "write every figure as JSON to this file")
	fl.IntVar(&f.latencyN, "latency-n", 200, "tasks per latency scenario")
	fl.IntVar(&f.warmup, "warmup", 20, "warm-up tasks per latency scenario")
	fl.IntVar(&f.throughputTasks, "throughput-tasks", 2000, "linear tasks in the throughput scenario")
	fl.IntVar(&f.concurrency, "concurrency", 50, "concurrent clients submitting in the throughput scenario")
	fl.BoolVar(&f.pgbench, "pgbench", true, "run the pgbench reference when pgbench is installed")
	fl.BoolVar(&f.keep, "keep", false, "keep the benchmark schema afterwards")
	fl.StringVar(&f.root, "config-root", "", "configuration directory (default $"+configRootEnv+", else the built-in copy)")
	fl.StringVar(&f.env, "env", "", "configuration environment (default $TASKER_ENV, else development)")
	fl.StringVar(&f.dir, "dir", ".tasker", "folder for the private PostgreSQL cluster (when no server answers)")
	fl.BoolVar(&f.embeddedPG, "embedded-postgres", false, "always use the private PostgreSQL cluster")
	fl.StringVar(&f.autovacuum, "autovacuum", "", "with --embedded: run on the private PostgreSQL cluster with autovacuum on or off (implies --embedded-postgres)")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the throughput scenario to this file (embedded mode profiles the whole system)")
	fl.StringVar(&f.handlers, "handlers", "go", "with --embedded: measure these workers one after another (comma list of go, ruby, python, wasm, wasm-uninterruptible, wasm-c, go-process; all but go need the source checkout)")
	fl.StringVar(&f.schema, "schema", "tasker", "with --url and --database-url: the server's schema, for the stage breakdown")
	fl.IntVar(&f.rounds, "rounds", 1, "split every scenario into this many rounds, the workers of --handlers interleaved in each")
	fl.IntVar(&f.history, "history", 0, "with --embedded: after the fresh run, load N finished steps of history (COPY) and measure again")
	fl.StringVar(&f.workerLib, "worker-lib", "", "the worker library the ruby and python workers load (default $TASKER_WORKER_LIB, else built from bindings/capi)")
	fl.IntVar(&f.bindingConcurrency, "binding-concurrency", 10, "handler threads of the ruby and python workers")
	fl.StringVar(&f.backend, "backend", "", "with --embedded: run the system on these queue backends one after another (comma list of postgres, rabbitmq; default queues.backend); several are measured side by side, with one --handlers language")
	fl.StringVar(&f.rabbitmqURL, "rabbitmq-url", "", "with --backend rabbitmq: the broker (default queues.rabbitmq.url: $TASKER__QUEUES__RABBITMQ__URL, $RABBITMQ_URL, else amqp://guest:guest@127.0.0.1:5672/); the system runs on a private virtual host made with rabbitmqctl and deleted afterwards")
	fl.StringVar(&f.only, "only", "", "run only these scenarios (comma list of latency, throughput, pgbench)")
	return cmd
}

// benchReport is everything a run measured (the --json document).
type benchReport struct {
	System     string                     `json:"system"`
	Version    string                     `json:"version"`
	StartedAt  time.Time                  `json:"started_at"`
	Machine    machineInfo                `json:"machine"`
	Config     map[string]any             `json:"config"`
	Latency    map[string]*latencyResult  `json:"latency"`
	Creation   *percentiles               `json:"creation_ms"`
	Throughput *throughputResult          `json:"throughput"`
	PGBench    *pgbenchResult             `json:"pgbench,omitempty"`
	Peers      map[string]json.RawMessage `json:"peers,omitempty"`
	// Handlers are the worker languages measured, in order; Latency,
	// Creation and Throughput above are the first one's.
	Handlers  []string               `json:"handlers"`
	ByHandler map[string]*handlerRun `json:"by_handler,omitempty"`
	// Backends are the queue backends measured (--embedded), in order;
	// the figures above are the first one's. ByBackend holds each
	// backend's figures (of the one worker language) when there are
	// several.
	Backends  []string               `json:"backends,omitempty"`
	ByBackend map[string]*handlerRun `json:"by_backend,omitempty"`
	// History is the --history scenario (the first worker language).
	History *historyResult    `json:"history,omitempty"`
	Targets map[string]string `json:"targets"`
	// TargetChecks compares this run with the targets it measured.
	TargetChecks []targetCheck `json:"target_checks"`
}

type machineInfo struct {
	Cores           int    `json:"cores"`
	MemoryMB        int    `json:"memory_mb"`
	GoVersion       string `json:"go"`
	PostgresVersion string `json:"postgres"`
	OS              string `json:"os"`
}

func runBench(cmd *cobra.Command, f benchFlags) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	if f.embedded == (f.url != "") {
		return fmt.Errorf("choose one of --embedded or --url URL")
	}
	if f.quick {
		if !cmd.Flags().Changed("latency-n") {
			f.latencyN = 30
		}
		if !cmd.Flags().Changed("warmup") {
			f.warmup = 5
		}
		if !cmd.Flags().Changed("throughput-tasks") {
			f.throughputTasks = 400
		}
	}
	rep := &benchReport{System: "tasker-go", Version: buildVersion(), StartedAt: time.Now().UTC(),
		Latency: map[string]*latencyResult{}, Targets: designTargets()}
	rep.Machine = machineInfo{Cores: runtime.NumCPU(), MemoryMB: memoryMB(), GoVersion: runtime.Version(),
		OS: runtime.GOOS + "/" + runtime.GOARCH}
	handlers, err := parseHandlers(f.handlers)
	if err != nil {
		return err
	}
	switch f.autovacuum {
	case "":
	case "on", "off":
		if !f.embedded {
			return errors.New("--autovacuum: only with --embedded (it configures the private PostgreSQL cluster)")
		}
		f.embeddedPG = true
	default:
		return fmt.Errorf("--autovacuum %q: want on or off", f.autovacuum)
	}
	if f.history < 0 || (f.history > 0 && !f.embedded) {
		return errors.New("--history N: a positive number of steps, with --embedded")
	}
	if !f.embedded && !slices.Equal(handlers, []string{"go"}) {
		return errors.New("--handlers: only --embedded starts workers; with --url the running workers are measured")
	}
	rep.Handlers = handlers
	rep.Config = map[string]any{"mode": map[bool]string{true: "embedded", false: "url"}[f.embedded],
		"latency_n": f.latencyN, "warmup": f.warmup, "throughput_tasks": f.throughputTasks,
		"concurrency": f.concurrency, "quick": f.quick, "autovacuum": f.autovacuum}

	var backends []string
	if f.embedded {
		ocfg, err := loadConfig(f.root, config.ContextOrchestration, f.env)
		if err != nil {
			return err
		}
		if backends, err = parseBackends(f.backend, ocfg.Queues.Backend); err != nil {
			return err
		}
	} else if f.backend != "" || f.rabbitmqURL != "" {
		return errors.New("--backend and --rabbitmq-url: only with --embedded (with --url the running system's backend is measured)")
	}
	if len(backends) > 1 && len(handlers) > 1 {
		return errors.New("--backend with several backends measures one worker: give --handlers one language")
	}
	if len(backends) > 1 && f.history > 0 {
		return errors.New("--history measures one backend: give --backend one")
	}
	rep.Backends = backends
	if len(backends) > 0 {
		rep.Config["backend"] = strings.Join(backends, ",")
	}

	// targets are the systems measured: one per backend with --embedded
	// (each in a schema of its own on one database), else the server of
	// --url.
	targets := []*benchTarget{{apiURL: f.url, schema: f.schema}}
	dbURL := f.databaseURL
	if f.embedded {
		bdb, err := openBenchDB(ctx, out, f)
		if err != nil {
			return err
		}
		defer bdb.stop()
		dbURL = bdb.url
		targets = targets[:0]
		defer func() {
			for _, t := range targets {
				t.sys.stop(out)
			}
		}()
		for _, b := range backends {
			sys, err := startBenchSystemOn(ctx, out, f, bdb, b)
			if err != nil {
				return err
			}
			targets = append(targets, &benchTarget{backend: b, sys: sys, apiURL: sys.apiURL, schema: sys.schema})
		}
		rep.Config["schema"] = targets[0].schema
		for _, t := range targets {
			if t.sys.brokerURL != "" {
				rep.Config["rabbitmq_url"] = config.RedactSecrets(t.sys.brokerURL)
			}
		}
		rep.Config["orchestration_results"] = targets[0].sys.resultsCfg
		if len(targets) > 1 {
			schemas := map[string]string{}
			for _, t := range targets {
				schemas[t.backend] = t.schema
			}
			rep.Config["schemas"] = schemas
		}
	}
	for _, t := range targets {
		if t.c, err = client.New(t.apiURL); err != nil {
			return err
		}
	}
	var db *pgx.Conn
	if dbURL != "" {
		db, err = pgx.Connect(ctx, dbURL)
		if err != nil {
			return fmt.Errorf("connecting to the database for statistics: %w", err)
		}
		defer db.Close(context.WithoutCancel(ctx))
		_ = db.QueryRow(ctx, `SHOW server_version`).Scan(&rep.Machine.PostgresVersion)
		enableStatements(ctx, db)
	}
	prog := newProgress(cmd.ErrOrStderr())

	// With several rounds each worker (and each backend) runs a share of
	// every scenario in each round, interleaved with the others, so that a
	// slow spell of a shared machine falls on all of them.
	rounds := max(f.rounds, 1)
	perRound := f
	perRound.latencyN = max(f.latencyN/rounds, 1)
	perRound.throughputTasks = max(f.throughputTasks/rounds, 1)
	for r := range rounds {
		for _, t := range targets {
			if t.byHandler == nil {
				t.byHandler = map[string]*handlerRun{}
			}
			tf := perRound
			tf.schema = t.schema
			if t.sys != nil {
				tf.appName = t.sys.appName
			}
			for _, lang := range rep.Handlers {
				if t.sys != nil {
					if err := t.sys.startWorker(ctx, cmd.ErrOrStderr(), lang, f); err != nil {
						return err
					}
				}
				var cpu *workerCPU
				if t.sys != nil {
					cpu = startWorkerCPU(ctx, t.sys.worker, db, t.schema)
				}
				run, err := measureScenarios(ctx, t.c, db, tf, t.apiURL, prog)
				if t.sys != nil && t.sys.worker != nil {
					if err == nil {
						run.WorkerPeakRSSMB = t.sys.worker.peakRSSMB()
						cpu.finish(ctx, run, db, t.schema)
					}
					t.sys.stopWorker(cmd.ErrOrStderr())
				}
				if err != nil {
					if len(targets) > 1 {
						return fmt.Errorf("%s backend, %s worker, round %d: %w", t.backend, lang, r+1, err)
					}
					if len(rep.Handlers) > 1 || rounds > 1 {
						return fmt.Errorf("%s worker, round %d: %w", lang, r+1, err)
					}
					return err
				}
				t.byHandler[lang] = mergeRuns(t.byHandler[lang], run)
			}
		}
	}
	if rounds > 1 {
		for _, t := range targets {
			for _, run := range t.byHandler {
				if l := run.Latency["linear4"]; l != nil && db != nil {
					if l.Stages, err = readStages(ctx, db, t.schema, l.timings); err != nil {
						return err
					}
				}
			}
		}
	}
	rep.ByHandler = targets[0].byHandler
	if len(targets) > 1 {
		rep.ByBackend = map[string]*handlerRun{}
		for _, t := range targets {
			rep.ByBackend[t.backend] = t.byHandler[handlers[0]]
		}
	}
	first := rep.ByHandler[rep.Handlers[0]]
	rep.Latency, rep.Creation, rep.Throughput = first.Latency, first.Creation, first.Throughput
	if goRun := rep.ByHandler["go"]; goRun != nil {
		for lang, run := range rep.ByHandler {
			if lang != "go" {
				run.Overhead = overheadAgainst(run, goRun)
			}
		}
	}
	sys := targets[0].sys
	f.schema = targets[0].schema
	if sys != nil {
		f.appName = sys.appName
	}
	apiURL, c := targets[0].apiURL, targets[0].c
	if f.history > 0 {
		measure := func(ctx context.Context) (*handlerRun, error) { return measureScenarios(ctx, c, db, f, apiURL, prog) }
		if rep.History, err = runHistory(ctx, cmd.ErrOrStderr(), sys, measure, db, f, handlers[0]); err != nil {
			return fmt.Errorf("history: %w", err)
		}
		rep.Config["history_steps"] = rep.History.Steps
	}
	if sys != nil && slices.Contains(handlers, "go") {
		rep.Config["worker"] = sys.workerCfg
	}
	if note := wasmHandlersNote(handlers); note != "" {
		rep.Config["wasm"] = note
	}
	if f.pgbench && dbURL != "" && (f.only == "" || slices.Contains(strings.Split(f.only, ","), "pgbench")) {
		rep.PGBench = runPGBench(ctx, dbURL, f.quick, prog)
		if rep.PGBench != nil && rep.PGBench.TPS > 0 && rep.Throughput != nil {
			r := rep.Throughput.StepsPerSec / rep.PGBench.TPS
			rep.Throughput.StepsPerPGBenchTPS = &r
		}
	}
	prog.done()
	if f.peers {
		// River gets the database to itself: no idle Tasker sessions
		// polling beside it or counted in its pg_stat_database figures.
		for _, t := range targets {
			if t.sys != nil {
				t.sys.stopServices(out)
			}
		}
		rep.Peers = map[string]json.RawMessage{}
		river, err := runRiverBaseline(ctx, cmd.ErrOrStderr(), dbURL, f.quick)
		if err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), "River baseline:", err)
		} else {
			rep.Peers["river"] = river
		}
	}
	rep.TargetChecks = checkTargets(rep)
	printBench(out, rep)
	if f.jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(f.jsonOut, b, 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", f.jsonOut, err)
		}
		fmt.Fprintf(out, "\nwrote %s\n", f.jsonOut)
	}
	return nil
}

func designTargets() map[string]string {
	return map[string]string{
		"linear4_p50_ms": "<= 25 (p99 <= 60)", "diamond4_p50_ms": "<= 25", "dag7_p50_ms": "<= 40",
		"tree8_p50_ms": "<= 40", "creation_p50_ms": "<= 5", "steps_per_sec": ">= 5000 (seed floor 1000)",
		"db_ops_per_step": "<= 4 write transactions + 2 reads",
	}
}

// benchSystem is the in-process system of --embedded.
type benchSystem struct {
	apiURL, dbURL, schema string
	// backend is the queue backend (postgres or rabbitmq); brokerURL is
	// the private virtual host of a rabbitmq system.
	backend, brokerURL string
	workerCfg          config.Worker
	resultsCfg         config.ResultConsumer
	infra              *infra.Infra
	workerConfig       *config.Config
	// catchUp are the thresholds of orchestration's table vacuum and
	// statistics keeper (--history waits for their first pass).
	catchUp catchUp
	// worker is the running worker (one at a time: every language serves
	// the same namespaces).
	worker *benchWorker
	// workerLib is the C ABI library the binding workers load (built on
	// first use unless given); cleanups run when the system stops.
	workerLib string
	// goWorkerBin is tasker-worker built from the checkout (go-process).
	goWorkerBin string
	// wasmDir holds the WASM workers' guest module (built on first use).
	wasmDir  string
	cleanups []func()
	// stopServices stops orchestration, the worker and the API; stopDB
	// drops the schema and the virtual host, then runs the cleanups. Each
	// runs once.
	stopServices, stopDB func(io.Writer)
	// appName is the application_name of the system's sessions.
	appName string
}

// stop tears the whole system down (safe to call after stopServices).
func (s *benchSystem) stop(out io.Writer) {
	s.stopServices(out)
	s.stopDB(out)
}

// startBenchSystem starts a system on the database of f (opened for it and
// closed with it) and the configured queue backend.
func startBenchSystem(ctx context.Context, out io.Writer, f benchFlags) (*benchSystem, error) {
	db, err := openBenchDB(ctx, out, f)
	if err != nil {
		return nil, err
	}
	sys, err := startBenchSystemOn(ctx, out, f, db, "")
	if err != nil {
		db.stop()
		return nil, err
	}
	sys.cleanups = append(sys.cleanups, db.stop)
	return sys, nil
}

// startBenchSystemOn starts a system on db, in a fresh schema, with the
// queue backend named (postgres or rabbitmq; "" is the configured one). A
// rabbitmq system runs on a private virtual host of the broker (see
// benchBroker), deleted when the system stops.
func startBenchSystemOn(ctx context.Context, out io.Writer, f benchFlags, db *benchDB, backend string) (*benchSystem, error) {
	ocfg, err := loadConfig(f.root, config.ContextOrchestration, f.env)
	if err != nil {
		return nil, err
	}
	wcfg, err := loadConfig(f.root, config.ContextWorker, f.env)
	if err != nil {
		return nil, err
	}
	bg := context.WithoutCancel(ctx)
	if backend == "" {
		backend = string(ocfg.Queues.Backend)
	}
	var vhost *brokervhost.VHost
	switch config.Backend(backend) {
	case config.BackendPostgres:
	case config.BackendRabbitMQ:
		if vhost, err = benchBroker(bg, out, f, ocfg); err != nil {
			return nil, err
		}
		for _, c := range []*config.Config{ocfg, wcfg} {
			c.Queues.RabbitMQ.URL = vhost.URL
		}
	default:
		return nil, fmt.Errorf("queue backend %q: want %s or %s", backend, config.BackendPostgres, config.BackendRabbitMQ)
	}
	for _, c := range []*config.Config{ocfg, wcfg} {
		c.Queues.Backend = config.Backend(backend)
	}
	dropVHost := func() {
		if vhost == nil {
			return
		}
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := vhost.Delete(sctx); err != nil {
			fmt.Fprintln(out, "deleting the benchmark's virtual host:", err)
		}
	}
	url := db.url
	suffix := randomSuffix()
	schema := "tasker_bench_" + suffix
	ocfg.Database.URL, ocfg.Database.Schema = url, schema
	wcfg.Database.URL, wcfg.Database.Schema = url, schema
	if err := migrations.Migrate(bg, url, schema); err != nil {
		dropVHost()
		return nil, err
	}
	dropSchema := func() {
		if f.keep {
			fmt.Fprintf(out, "kept schema %s\n", schema)
			return
		}
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(sctx, url); err == nil {
			_, _ = conn.Exec(sctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			_ = conn.Close(sctx)
		}
	}
	log := slog.New(slog.DiscardHandler)
	ocfg.Database.Pool.MaxConnections += wcfg.Database.Pool.MaxConnections
	// The sessions' name is this run's own, so that their CPU time can be
	// told from other runs' on a shared server.
	appName := "tasker-bench-" + suffix
	in, err := infra.Connect(bg, ocfg, appName, log)
	if err != nil {
		dropSchema()
		dropVHost()
		return nil, err
	}
	ocfg.Orchestration.Web.BindAddress = "127.0.0.1:0"
	ocfg.Orchestration.Web.Backpressure.Enabled = false
	orch, err := server.Open(bg, server.OpenOptions{Config: ocfg, Infra: in, Version: buildVersion(), Logger: log})
	if err != nil {
		in.Close()
		dropSchema()
		dropVHost()
		return nil, err
	}
	for _, s := range []interface{ Start(context.Context) error }{orch.Core(), orch.API()} {
		if err := s.Start(bg); err != nil {
			return nil, err
		}
	}
	sys := &benchSystem{apiURL: displayURL(orch.Addr()), dbURL: url, schema: schema, backend: backend, appName: appName,
		resultsCfg: ocfg.Orchestration.Results, infra: in, workerConfig: wcfg,
		catchUp: catchUp{stats: ocfg.Orchestration.Statistics, vacuum: ocfg.Orchestration.Vacuum}}
	if vhost != nil {
		sys.brokerURL = vhost.URL
	}
	var servicesOnce, dbOnce sync.Once
	sys.stopServices = func(out io.Writer) {
		servicesOnce.Do(func() {
			sys.stopWorker(out)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = orch.API().Stop(ctx)
			_ = orch.Stop(ctx)
			in.Close()
			fmt.Fprintf(out, "Tasker stopped (%s backend)\n", backend)
		})
	}
	sys.stopDB = func(io.Writer) {
		dbOnce.Do(func() {
			dropSchema()
			dropVHost()
			for _, c := range sys.cleanups {
				c()
			}
		})
	}
	fmt.Fprintf(out, "benchmark system: %s (schema %s, %s backend)\n", sys.apiURL, schema, backend)
	return sys, nil
}

// startGoWorker starts the native Go worker in this process, on the
// system's connection pool.
func (s *benchSystem) startGoWorker(ctx context.Context) (*benchWorker, error) {
	handlers := worker.NewRegistry()
	if err := native.Register(handlers); err != nil {
		return nil, err
	}
	examples, err := native.Templates()
	if err != nil {
		return nil, err
	}
	wcfg := *s.workerConfig
	wcfg.Worker.Web.Enabled = false
	wcfg.Templates.SearchPaths = nil
	wcfg.Worker.WorkerID = infra.ProcessName("bench-worker", "")
	svc, err := worker.Open(ctx, worker.OpenOptions{Config: &wcfg, Infra: s.infra, Registry: handlers, Templates: examples,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	wk := svc.Core()
	if err := wk.Start(ctx); err != nil {
		return nil, err
	}
	s.workerCfg = *wcfg.Worker
	return &benchWorker{lang: "go", stop: func(io.Writer) {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = wk.Stop(sctx)
	}}, nil
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// measureScenarios runs the latency and throughput scenarios (as --only
// selects) against the system's current worker.
func measureScenarios(ctx context.Context, c *client.Client, db *pgx.Conn, f benchFlags, apiURL string, prog *progress) (*handlerRun, error) {
	run := &handlerRun{Latency: map[string]*latencyResult{}}
	want := func(name string) bool { return f.only == "" || slices.Contains(strings.Split(f.only, ","), name) }
	var creates []time.Duration
	for _, sc := range latencyScenarios {
		if !want("latency") {
			break
		}
		res, cr, err := runLatency(ctx, c, sc, f.warmup, f.latencyN, prog)
		if err != nil {
			return nil, fmt.Errorf("latency %s: %w", sc.name, err)
		}
		if sc.name == "linear4" {
			if res.Stages, err = readStages(ctx, db, f.schema, res.timings); err != nil {
				return nil, err
			}
		}
		run.Latency[sc.name] = res
		creates = append(creates, cr...)
	}
	if len(creates) > 0 {
		run.Creation = percentilesOf(creates)
		run.creates = creates
	}
	if !want("throughput") {
		return run, nil
	}
	// Peak RSS: this process's own in embedded mode, else sampled from
	// the measured processes' /metrics.
	var self *selfRSS
	var sampler *rssSampler
	if f.embedded {
		self = startSelfRSS(selfRSSInterval)
	} else {
		targets := map[string]string{"orchestration": strings.TrimRight(apiURL, "/") + "/metrics"}
		if f.workerURL != "" {
			targets["worker"] = strings.TrimRight(f.workerURL, "/") + "/metrics"
		}
		sampler = newRSSSampler(targets, 100*time.Millisecond)
		sampler.Start(ctx)
	}
	cpu := newCPUMeter(db, f.embedded, f.appName, f.cpuProfile)
	var err error
	withClientLabel(ctx, func(ctx context.Context) {
		run.Throughput, err = runThroughput(ctx, c, db, f.schema, f.throughputTasks, f.concurrency, prog, cpu)
	})
	if err != nil {
		if sampler != nil {
			sampler.Stop(ctx)
		}
		if self != nil {
			self.stop()
		}
		return nil, fmt.Errorf("throughput: %w", err)
	}
	if self != nil {
		p := self.stop()
		t := run.Throughput
		t.PeakRSSMB, t.PeakRSSAnonMB, t.PeakRSSFileMB = p.HWM, &p.Anon, &p.File
		t.RSSNote += "; " + p.note(selfRSSInterval)
	} else {
		applyRSS(ctx, run.Throughput, sampler)
	}
	return run, nil
}
