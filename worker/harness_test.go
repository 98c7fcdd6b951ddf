package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/internal/brokertest"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/pgnotify"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/telemetry"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/shared/testdb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness is one test's database (a private schema), with the process-wide
// pieces a worker binary builds (pool, LISTEN connection, queue, store),
// assembled by infra.Connect as Open assembles them.
type harness struct {
	t        testing.TB
	ctx      context.Context
	db       testdb.DB
	infra    *infra.Infra
	pool     *pgxpool.Pool
	listener *pgnotify.Listener
	queue    messaging.Driver
	store    *store.Store
	// traceParent is stored with the tasks createTask creates.
	traceParent string
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	return newHarnessPolling(t, 100*time.Millisecond)
}

// newHarnessPolling is newHarness with the queue's fallback poll every
// interval.
func newHarnessPolling(t testing.TB, interval time.Duration) *harness {
	t.Helper()
	return newHarnessWith(t, interval, nil)
}

// newBrokerHarness is newHarness on the rabbitmq queue backend, on a
// private virtual host of the local broker (skipped without one unless
// TASKER_REQUIRE_RABBITMQ is set).
func newBrokerHarness(t testing.TB) *harness {
	t.Helper()
	url := brokertest.VHost(t)
	return newHarnessWith(t, 100*time.Millisecond, func(q *config.Queues) {
		q.Backend = config.BackendRabbitMQ
		q.RabbitMQ.URL = url
		q.RabbitMQ.OutboxPollInterval = 100 * time.Millisecond
	})
}

// newHarnessWith is newHarnessPolling with the queue settings adjusted by
// queues (nil: the PostgreSQL queue).
func newHarnessWith(t testing.TB, interval time.Duration, queues func(*config.Queues)) *harness {
	t.Helper()
	db := testdb.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cfg := config.Default(config.ContextWorker)
	cfg.Database.URL, cfg.Database.Schema = db.URL, db.Schema
	cfg.Database.Pool.MaxConnections, cfg.Database.Pool.MinConnections = 16, 0
	cfg.Queues.PollInterval = interval
	if queues != nil {
		queues(&cfg.Queues)
	}
	in, err := infra.Connect(ctx, cfg, "test-orchestrator", testLogger())
	require.NoError(t, err)
	t.Cleanup(in.Close)
	return &harness{t: t, ctx: ctx, db: db, infra: in, pool: in.Pool, listener: in.Listener, queue: in.Queue, store: in.Store}
}

// testLogger discards logs unless TASKER_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("TASKER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func parseTemplate(t testing.TB, src string) *template.Template {
	t.Helper()
	tpls, err := template.Parse([]byte(src), "test.yaml", template.ParseOptions{})
	require.NoError(t, err)
	require.Len(t, tpls, 1)
	require.NoError(t, tpls[0].Validate())
	return tpls[0]
}

var workerSeq atomic.Int64

// testConfig is a worker configuration for tests: short claim deadlines,
// fixed concurrency, no web server.
func testConfig() config.Worker {
	cfg := *config.Default(config.ContextWorker).Worker
	cfg.WorkerID = fmt.Sprintf("test-worker-%d", workerSeq.Add(1))
	cfg.Web.Enabled = false
	cfg.Claims.VisibilityTimeout = 5 * time.Second
	cfg.Claims.HeartbeatInterval = time.Second
	cfg.Handlers.Adaptive = false
	cfg.Handlers.MaxConcurrent = 8
	cfg.Handlers.MinConcurrent = 1
	cfg.Handlers.DefaultTimeout = 5 * time.Second
	cfg.ShutdownGrace = 2 * time.Second
	// These tests play the worker alone: successes stay reported for
	// orchestration (enqueued_for_orchestration), as the assertions
	// expect. TestWorkerProcessesItsSuccesses covers the default.
	cfg.Completion.ProcessSuccesses = false
	return cfg
}

// coreSpec says how to build a test core.
type coreSpec struct {
	templates []*template.Template
	registry  *Registry
	fallback  Executor
	config    func(*config.Worker)
	// before runs between New and Start (to install a store spy).
	before func(*Core)
	tracer *telemetry.Tracer
}

// newCore builds and starts a core; it is stopped at cleanup.
func (h *harness) newCore(spec coreSpec) *Core {
	h.t.Helper()
	c := h.buildCore(spec)
	require.NoError(h.t, c.Start(h.ctx))
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(h.t, c.Stop(ctx))
	})
	return c
}

func (h *harness) buildCore(spec coreSpec) *Core {
	h.t.Helper()
	cfg := config.Default(config.ContextWorker)
	cfg.Database = h.infra.Config.Database
	cfg.Queues = h.infra.Config.Queues
	w := testConfig()
	if spec.config != nil {
		spec.config(&w)
	}
	cfg.Worker = &w
	svc, err := Open(h.ctx, OpenOptions{
		Config: cfg, Infra: h.infra, Templates: spec.templates, Registry: spec.registry, Fallback: spec.fallback,
		Logger: testLogger(), Hostname: "test-host", Tracer: spec.tracer,
	})
	require.NoError(h.t, err)
	c := svc.Core()
	if spec.before != nil {
		spec.before(c)
	}
	return c
}

// register stores templates the way the worker does, so tasks can be created
// before a worker starts.
func (h *harness) register(tpls ...*template.Template) {
	h.t.Helper()
	c := h.buildCore(coreSpec{})
	require.NoError(h.t, c.registerTemplates(h.ctx, tpls))
	for _, t := range tpls {
		require.NoError(h.t, h.queue.Ensure(h.ctx, messaging.WorkerQueue(t.NamespaceName)))
	}
	require.NoError(h.t, h.queue.Ensure(h.ctx, messaging.StepResultsQueue))
}

// task is a created task with its step ids by name.
type task struct {
	id    uuid.UUID
	steps map[string]uuid.UUID
}

// createTask builds a task from a registered template the way orchestration
// does: every step, every edge, the initial steps enqueued.
func (h *harness) createTask(tpl *template.Template, ctxJSON string) task {
	h.t.Helper()
	nt, err := h.store.GetNamedTask(h.ctx, tpl.NamespaceName, tpl.Name, tpl.Version)
	require.NoError(h.t, err)
	names := make([]string, len(tpl.Steps))
	for i, s := range tpl.Steps {
		names[i] = s.Name
	}
	named, err := h.store.NamedStepIDs(h.ctx, names)
	require.NoError(h.t, err)
	nt2 := store.NewTask{
		UUID: uuid.Must(uuid.NewV7()), NamedTaskUUID: nt.UUID, Namespace: tpl.NamespaceName,
		Context: json.RawMessage(ctxJSON), IdentityHash: uuid.NewString(), TraceParent: h.traceParent,
	}
	out := task{id: nt2.UUID, steps: map[string]uuid.UUID{}}
	for _, s := range tpl.Steps {
		inputs, err := json.Marshal(s.Handler.Initialization)
		require.NoError(h.t, err)
		id := uuid.Must(uuid.NewV7())
		out.steps[s.Name] = id
		nt2.Steps = append(nt2.Steps, store.NewStep{
			UUID: id, NamedStepUUID: named[s.Name], Name: s.Name,
			HandlerCallable: s.Handler.Callable, HandlerMethod: s.Handler.Method,
			Retryable: s.Retry.Retryable, MaxAttempts: s.Retry.MaxAttempts, Backoff: string(s.Retry.Backoff),
			BackoffBaseMs: s.Retry.BackoffBaseMs, MaxBackoffMs: s.Retry.MaxBackoffMs, BackoffJitter: s.Retry.Jitter,
			TimeoutSeconds: s.TimeoutSeconds, Inputs: inputs,
		})
	}
	for _, s := range tpl.Steps {
		for _, d := range s.Dependencies {
			nt2.Edges = append(nt2.Edges, store.NewEdge{From: out.steps[d], To: out.steps[s.Name]})
		}
	}
	_, err = h.store.CreateTask(h.ctx, nt2)
	require.NoError(h.t, err)
	return out
}

// orchestrate plays orchestration until the test ends: it processes result
// messages, completing successful steps and failing the others (which
// enqueues the next steps and finalizes tasks).
func (h *harness) orchestrate() {
	wake, unsubscribe := h.queue.Subscribe(messaging.StepResultsQueue)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		defer unsubscribe()
		poll := time.NewTicker(50 * time.Millisecond)
		defer poll.Stop()
		decide := func(st store.Step, _ store.ReportedTask) store.Decision {
			if stepresult.Parse(st.Results).Success {
				return store.Decision{To: state.StepComplete}
			}
			return store.Decision{To: state.StepError}
		}
		for {
			msgs, err := h.queue.Claim(h.ctx, messaging.StepResultsQueue, messaging.ClaimOptions{N: 100, Visibility: 30 * time.Second})
			if err == nil && len(msgs) > 0 {
				rms := make([]store.ResultMessage, 0, len(msgs))
				for _, m := range msgs {
					var sm messaging.StepMessage
					if json.Unmarshal(m.Payload, &sm) == nil {
						rms = append(rms, store.ResultMessage{MessageID: m.ID, ReadCount: m.ReadCount, TaskUUID: sm.TaskUUID, StepUUID: sm.StepUUID})
					}
				}
				if _, err := h.store.ProcessResults(h.ctx, rms, decide); err == nil {
					continue
				}
			}
			select {
			case <-stop:
				return
			case <-wake:
			case <-poll.C:
			}
		}
	}()
	h.t.Cleanup(func() {
		close(stop)
		<-stopped
	})
}

// waitFor polls cond until it holds or the deadline passes.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	require.Eventually(h.t, cond, 20*time.Second, 10*time.Millisecond, "waiting for %s", what)
}

func (h *harness) taskState(id uuid.UUID) state.TaskState {
	h.t.Helper()
	tk, err := h.store.GetTask(h.ctx, id)
	require.NoError(h.t, err)
	return tk.State
}

func (h *harness) step(tk task, name string) store.StepReadiness {
	h.t.Helper()
	sr, err := h.store.GetStep(h.ctx, tk.id, tk.steps[name])
	require.NoError(h.t, err)
	return sr
}

func (h *harness) audit(tk task, name string) []store.AuditEntry {
	h.t.Helper()
	a, err := h.store.StepAudit(h.ctx, tk.id, tk.steps[name])
	require.NoError(h.t, err)
	return a
}

// spyStore wraps the worker's store to count and gate calls.
type spyStore struct {
	stepStore
	mu       sync.Mutex
	claims   []int          // messages per ClaimNext call that found some
	polls    atomic.Int64   // every ClaimNext call
	byQueue  map[string]int // ClaimNext calls per queue
	complete []int          // results per CompleteSteps call
	// gate, when set, blocks the first CompleteSteps call until closed.
	gate chan struct{}
}

func (s *spyStore) ClaimNext(ctx context.Context, w store.Claimer, queue string, n int, vt time.Duration) (store.ClaimOutcome, error) {
	s.polls.Add(1)
	s.mu.Lock()
	s.byQueue[queue]++
	s.mu.Unlock()
	out, err := s.stepStore.ClaimNext(ctx, w, queue, n, vt)
	if out.Messages > 0 {
		s.mu.Lock()
		s.claims = append(s.claims, out.Messages)
		s.mu.Unlock()
	}
	return out, err
}

func (s *spyStore) CompleteSteps(ctx context.Context, rs []store.StepResult) (store.CompleteOutcome, error) {
	s.seeComplete(rs)
	return s.stepStore.CompleteSteps(ctx, rs)
}

func (s *spyStore) CompleteAndProcessSteps(ctx context.Context, rs []store.StepResult, next *store.Continuation) (store.CompleteOutcome, error) {
	s.seeComplete(rs)
	return s.stepStore.CompleteAndProcessSteps(ctx, rs, next)
}

// seeComplete counts a completion call and holds the first at the gate.
func (s *spyStore) seeComplete(rs []store.StepResult) {
	s.mu.Lock()
	first := len(s.complete) == 0
	s.complete = append(s.complete, len(rs))
	gate := s.gate
	s.mu.Unlock()
	if first && gate != nil {
		<-gate
	}
}

func (s *spyStore) claimsOn(queue string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byQueue[queue]
}

func (s *spyStore) calls() (claims, complete []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.claims...), append([]int(nil), s.complete...)
}

func spyOn(c *Core, gate chan struct{}) *spyStore {
	s := &spyStore{stepStore: c.store, gate: gate, byQueue: map[string]int{}}
	c.store = s
	return s
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

// handle registers fn under callable in reg, failing the test on error.
func handle[In, Out any](t testing.TB, reg *Registry, callable string, fn func(context.Context, *Step[In]) (Out, error)) {
	t.Helper()
	require.NoError(t, Register(reg, callable, Func(fn)))
}

// noop succeeds with an empty result.
func noop(context.Context, *Step[struct{}]) (any, error) { return nil, nil }
