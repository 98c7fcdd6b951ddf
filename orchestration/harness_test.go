package orchestration_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/orchestration/server"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/dag"
	"github.com/tasker-go/tasker/shared/domainevent"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/telemetry"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/shared/testdb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness is one test's database plus orchestrators and an in-test step
// driver standing in for workers. The orchestrators are assembled by
// server.Open on one shared infrastructure, as tasker server assembles one.
type harness struct {
	t     *testing.T
	ctx   context.Context
	db    testdb.DB
	infra *infra.Infra
	pool  *pgxpool.Pool
	queue messaging.Driver
	store *store.Store
	core  *orchestration.Core
	cfg   config.Orchestration
	// events and metrics are the first orchestrator's event bus and
	// metrics registry.
	events  *domainevent.Bus
	metrics *prometheus.Registry
	// tracer, when set, records the orchestrators' spans.
	tracer *telemetry.Tracer
}

func testConfig() config.Orchestration {
	cfg := config.Default(config.ContextOrchestration).Orchestration
	o := *cfg
	o.Results.BatchSize = 50
	o.Results.Concurrency = 2
	o.Results.ClaimVisibility = 7 * time.Second // distinctive: a stall of 7 s points here
	o.ReadinessPoller.Interval = time.Hour      // tests run maintenance explicitly
	o.Reconciler.Interval = time.Hour
	o.Staleness.Interval = time.Hour
	o.Leader.RenewInterval = 100 * time.Millisecond
	o.Web.Enabled = false // the REST API is tested in orchestration/web
	return o
}

func newHarness(t *testing.T, mutate ...func(*config.Orchestration)) *harness {
	t.Helper()
	return newTracedHarness(t, nil, mutate...)
}

// newTracedHarness is newHarness with orchestrators that record their spans
// with tracer.
func newTracedHarness(t *testing.T, tracer *telemetry.Tracer, mutate ...func(*config.Orchestration)) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, db: testdb.New(t), cfg: testConfig(), tracer: tracer}
	for _, m := range mutate {
		m(&h.cfg)
	}
	var err error
	h.infra, err = infra.Connect(ctx, h.config(), "orch-test", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(h.infra.Close)
	h.pool, h.queue, h.store = h.infra.Pool, h.infra.Queue, h.infra.Store
	h.core = h.startCore()
	return h
}

// config is the whole configuration of the test's orchestrators.
func (h *harness) config() *config.Config {
	cfg := config.Default(config.ContextOrchestration)
	cfg.Database.URL, cfg.Database.Schema = h.db.URL, h.db.Schema
	cfg.Database.Pool.MaxConnections, cfg.Database.Pool.MinConnections = 16, 0
	cfg.Queues.PollInterval = 200 * time.Millisecond
	o := h.cfg
	cfg.Orchestration = &o
	return cfg
}

// startCore starts another orchestrator on the same database.
func (h *harness) startCore() *orchestration.Core {
	reg := prometheus.NewRegistry()
	svc, err := server.Open(h.ctx, server.OpenOptions{Config: h.config(), Infra: h.infra,
		Metrics: reg, Logger: slog.New(slog.DiscardHandler), Tracer: h.tracer})
	require.NoError(h.t, err)
	if h.events == nil {
		h.events, h.metrics = svc.Events(), reg
	}
	require.NoError(h.t, svc.Start(h.ctx))
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(h.t, svc.Stop(ctx))
	})
	return svc.Core()
}

// fixture parses one tasker-core fixture; fast shrinks its retry backoff so
// retry tests stay quick.
func (h *harness) fixture(rel string, fast bool) *template.Template {
	tpls, err := template.ParseFile(filepath.Join(testdb.FixturesDir(h.t), "task_templates", rel), template.ParseOptions{})
	require.NoError(h.t, err)
	require.Len(h.t, tpls, 1)
	tpl := tpls[0]
	if fast {
		for i := range tpl.Steps {
			tpl.Steps[i].Retry.BackoffBaseMs = 10
			tpl.Steps[i].Retry.MaxBackoffMs = 50
		}
	}
	h.register(tpl)
	return tpl
}

func (h *harness) register(tpls ...*template.Template) {
	_, err := h.store.RegisterTemplates(h.ctx, tpls)
	require.NoError(h.t, err)
}

func (h *harness) create(tpl *template.Template, ctxJSON string) store.Task {
	created, err := h.core.CreateTask(h.ctx, orchestration.TaskRequest{
		Namespace: tpl.NamespaceName, Name: tpl.Name, Version: tpl.Version, Context: json.RawMessage(ctxJSON),
		IdentityKey: uuid.NewString(),
	})
	require.NoError(h.t, err)
	return created.Task
}

// waitState polls until the task is in one of the states.
func (h *harness) waitState(id uuid.UUID, states ...state.TaskState) store.Task {
	h.t.Helper()
	var task store.Task
	began := time.Now()
	defer func() {
		if took := time.Since(began); took > 5*time.Second {
			h.t.Logf("SLOW: task %s took %v to reach %v", id, took, states)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		task, err = h.store.GetTask(h.ctx, id)
		require.NoError(h.t, err)
		for _, s := range states {
			if task.State == s {
				return task
			}
		}
		if time.Now().After(deadline) {
			break
		}
		<-time.After(10 * time.Millisecond)
	}
	// Say what the task looks like before failing.
	trans, _ := h.store.StepTransitions(h.ctx, id, uuid.Nil)
	for _, tr := range trans {
		from := ""
		if tr.FromState != nil {
			from = *tr.FromState
		}
		h.t.Logf("step %-24s %-36s -> %-36s %s %s", tr.StepName, from, tr.ToState, tr.Event, string(tr.Metadata))
	}
	h.t.Logf("task history: %v", h.taskHistory(id))
	for _, q := range []string{messaging.StepResultsQueue, messaging.WorkerQueue(task.Namespace)} {
		st, _ := h.queue.Stats(h.ctx, q)
		h.t.Logf("queue %s: %+v", q, st)
	}
	h.t.Fatalf("task %s never reached %v (it is %s)", id, states, task.State)
	return task
}

func (h *harness) steps(id uuid.UUID) map[string]store.StepReadiness {
	rs, err := h.store.StepReadiness(h.ctx, []uuid.UUID{id}, nil)
	require.NoError(h.t, err)
	out := map[string]store.StepReadiness{}
	for _, r := range rs {
		out[r.Name] = r
	}
	return out
}

// executionStatus is what the task's steps add up to (dag), from their
// readiness as the store reports it.
func (h *harness) executionStatus(id uuid.UUID) dag.ExecutionStatus {
	rs, err := h.store.StepReadiness(h.ctx, []uuid.UUID{id}, nil)
	require.NoError(h.t, err)
	var c dag.StepCounts
	for _, r := range rs {
		c.Add(r.State, r.ReadyForExecution)
	}
	return c.Classify()
}

func (h *harness) taskHistory(id uuid.UUID) []string {
	rows, err := h.store.TaskTransitions(h.ctx, id)
	require.NoError(h.t, err)
	var out []string
	for _, r := range rows {
		out = append(out, r.ToState)
	}
	return out
}

// outcome is what the driver's script says a step attempt does.
type outcome struct {
	fail      bool
	retryable bool
	value     any
	// hold blocks the handler until the channel is closed.
	hold <-chan struct{}
	// events are domain events the result carries.
	events []stepresult.DomainEvent
}

// driver plays workers: it claims steps of one namespace, runs the script and
// reports results through the store, like a worker does.
type driver struct {
	h      *harness
	ns     string
	script func(cs store.ClaimedStep) outcome

	mu   sync.Mutex
	runs map[string]int // step uuid → executions
	wg   sync.WaitGroup
}

func (h *harness) drive(ns string, script func(cs store.ClaimedStep) outcome) *driver {
	d := &driver{h: h, ns: ns, script: script, runs: map[string]int{}}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	go func() { defer close(done); d.loop(ctx, "driver-"+ns) }()
	h.t.Cleanup(func() { cancel(); <-done; d.wg.Wait() })
	return d
}

func (d *driver) loop(ctx context.Context, worker string) {
	q := messaging.WorkerQueue(d.ns)
	wake, unsub := d.h.queue.Subscribe(q)
	defer unsub()
	for ctx.Err() == nil {
		out, err := d.h.store.ClaimNext(ctx, store.Claimer{ID: worker}, q, 20, 11*time.Second)
		if err != nil || out.Messages == 0 {
			select {
			case <-ctx.Done():
			case <-wake:
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		for _, cs := range out.Claimed {
			d.wg.Go(func() { d.run(ctx, worker, cs) })
		}
	}
}

func (d *driver) run(ctx context.Context, worker string, cs store.ClaimedStep) {
	d.mu.Lock()
	d.runs[cs.Step.UUID.String()]++
	d.mu.Unlock()
	o := d.script(cs)
	if o.hold != nil {
		select {
		case <-o.hold:
		case <-ctx.Done():
			return
		}
	}
	var res stepresult.Result
	if o.fail {
		res = stepresult.Failure(cs.Step.UUID, stepresult.StatusFailed, "scripted failure", "ScriptedError", o.retryable)
	} else {
		v := o.value
		if v == nil {
			v = map[string]any{"step": cs.Step.Name, "attempt": cs.Step.Attempts}
		}
		b, _ := json.Marshal(v)
		res = stepresult.Success(cs.Step.UUID, b, nil)
	}
	res.DomainEvents = o.events
	body, _ := json.Marshal(res)
	_, _ = d.h.store.CompleteSteps(ctx, []store.StepResult{{
		StepUUID: cs.Step.UUID, TaskUUID: cs.Task.UUID, Attempt: cs.Step.Attempts, WorkerID: worker,
		CorrelationID: cs.Task.CorrelationID, Success: !o.fail, Result: body,
		Queue: messaging.WorkerQueue(cs.Task.Namespace), MessageID: cs.MessageID, ReadCount: cs.ReadCount,
	}})
}

func (d *driver) executions() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]int{}
	for k, v := range d.runs {
		out[k] = v
	}
	return out
}

// succeed is the happy script.
func succeed(store.ClaimedStep) outcome { return outcome{} }

// failAt fails the named step (permanently, or retryably for its first
// `times` attempts when retryable).
func failAt(name string, retryable bool, times int) func(store.ClaimedStep) outcome {
	return func(cs store.ClaimedStep) outcome {
		if cs.Step.Name == name && (!retryable || cs.Step.Attempts <= times) {
			return outcome{fail: true, retryable: retryable}
		}
		return outcome{}
	}
}

func stepNames(tpl *template.Template) []string {
	var out []string
	for _, s := range tpl.Steps {
		out = append(out, s.Name)
	}
	return out
}
