package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/orchestration/server"
	"github.com/tasker-go/tasker/orchestration/web"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/shared/testdb"
)

const input = `{"even_number": 6}`

// harness is one test's database and orchestration service (core and API
// server, assembled by server.Open as tasker server assembles them, with
// the API served over httptest) and an in-test step driver standing in for
// workers.
type harness struct {
	t        testing.TB
	ctx      context.Context
	db       testdb.DB
	pool     *pgxpool.Pool
	queue    messaging.Driver
	store    *store.Store
	core     *orchestration.Core
	registry *prometheus.Registry
	server   *web.Server
	http     *httptest.Server
	webOpts  web.Options
}

// startListening starts a second API server on a real listener
// (127.0.0.1:0), stopped at cleanup.
func (h *harness) startListening() *web.Server {
	h.t.Helper()
	opts := h.webOpts
	opts.Config.Enabled, opts.Config.BindAddress = true, "127.0.0.1:0"
	opts.Registry = nil
	srv, err := web.New(opts)
	require.NoError(h.t, err)
	require.NoError(h.t, srv.Start(h.ctx))
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(h.t, srv.Stop(ctx))
	})
	return srv
}

type harnessOptions struct {
	orch      func(*config.Orchestration)
	web       func(*config.OrchestrationWeb)
	heartbeat time.Duration
	logger    *slog.Logger  // the service's logger (default: discard)
	timeout   time.Duration // the harness context's (default 90 s)
}

func newHarness(t testing.TB, opts ...harnessOptions) *harness {
	t.Helper()
	timeout := 90 * time.Second
	for _, o := range opts {
		timeout = max(timeout, o.timeout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, db: testdb.New(t), registry: prometheus.NewRegistry()}
	cfg := config.Default(config.ContextOrchestration)
	cfg.Database.URL, cfg.Database.Schema = h.db.URL, h.db.Schema
	cfg.Database.Pool.MaxConnections, cfg.Database.Pool.MinConnections = 16, 0
	cfg.Queues.PollInterval = 200 * time.Millisecond
	ocfg := cfg.Orchestration
	ocfg.Results.BatchSize = 50
	ocfg.Results.Concurrency = 2
	ocfg.ReadinessPoller.Interval = time.Hour
	ocfg.Reconciler.Interval = time.Hour
	ocfg.Staleness.Interval = time.Hour
	ocfg.Leader.RenewInterval = 100 * time.Millisecond
	ocfg.Web.Enabled = false // served over httptest
	var heartbeat time.Duration
	logger := slog.New(slog.DiscardHandler)
	for _, o := range opts {
		if o.orch != nil {
			o.orch(ocfg)
		}
		if o.web != nil {
			o.web(&ocfg.Web)
		}
		heartbeat = max(heartbeat, o.heartbeat)
		if o.logger != nil {
			logger = o.logger
		}
	}
	svc, err := server.Open(ctx, server.OpenOptions{Config: cfg, InstanceID: "web-test", Version: "test",
		Metrics: h.registry, Logger: logger, EventHeartbeat: heartbeat})
	require.NoError(t, err)
	h.pool, h.queue, h.store, h.core, h.server = svc.Infra().Pool, svc.Infra().Queue, svc.Infra().Store, svc.Core(), svc.API()
	require.NoError(t, svc.Start(ctx))
	h.webOpts = web.Options{
		Core: h.core, Listener: svc.Infra().Listener, Schema: h.db.Schema, Config: ocfg.Web, Staleness: ocfg.Staleness,
		Queues: cfg.Queues, Registry: h.registry, Logger: logger, Version: "test", Heartbeat: heartbeat,
	}
	h.http = httptest.NewServer(h.server.Handler())
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		require.NoError(t, h.server.Stop(sctx))
		h.http.Close()
		require.NoError(t, svc.Stop(sctx))
	})
	return h
}

// fixture registers one tasker-core fixture template.
func (h *harness) fixture(rel string) *template.Template {
	tpls, err := template.ParseFile(filepath.Join(testdb.FixturesDir(h.t), "task_templates", rel), template.ParseOptions{})
	require.NoError(h.t, err)
	require.Len(h.t, tpls, 1)
	for i := range tpls[0].Steps {
		tpls[0].Steps[i].Retry.BackoffBaseMs = 10
		tpls[0].Steps[i].Retry.MaxBackoffMs = 50
	}
	_, err = h.store.RegisterTemplates(h.ctx, tpls)
	require.NoError(h.t, err)
	return tpls[0]
}

// response is one HTTP exchange's outcome.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

// apiError is the error envelope as a client sees it.
type apiError struct {
	Error struct {
		Code              string            `json:"code"`
		Message           string            `json:"message"`
		Details           []json.RawMessage `json:"details"`
		RetryAfterSeconds int               `json:"retry_after_seconds"`
	} `json:"error"`
}

// requireError checks a response is the envelope with status and code, and
// returns it.
func (r response) requireError(t testing.TB, status int, code string) apiError {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.Equal(t, "application/json", r.header.Get("Content-Type"), "body: %s", r.body)
	var e apiError
	r.json(t, &e)
	require.Equal(t, code, e.Error.Code, "body: %s", r.body)
	require.NotEmpty(t, e.Error.Message)
	return e
}

// pointers lists the JSON pointers of an error's details.
func (e apiError) pointers(t testing.TB) []string {
	var out []string
	for _, d := range e.Error.Details {
		var v map[string]string
		require.NoError(t, json.Unmarshal(d, &v))
		if p, ok := v["pointer"]; ok {
			out = append(out, p)
		} else {
			out = append(out, "param:"+v["parameter"])
		}
	}
	return out
}

func (h *harness) do(method, path string, body any, headers ...string) response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b // no Content-Length: sent chunked
	default:
		j, err := json.Marshal(b)
		require.NoError(h.t, err)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(h.ctx, method, h.http.URL+path, rd)
	require.NoError(h.t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := h.http.Client().Do(req)
	require.NoError(h.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(h.t, err)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// createTask posts a task for tpl and returns its view.
func (h *harness) createTask(tpl *template.Template, ctxJSON string) api.TaskResponse {
	h.t.Helper()
	res := h.do(http.MethodPost, "/v1/tasks", map[string]any{
		"namespace": tpl.NamespaceName, "name": tpl.Name, "version": tpl.Version,
		"context": json.RawMessage(ctxJSON), "initiator": "tests", "source_system": "web_test",
		"reason": "testing", "idempotency_key": uuid.NewString(),
	})
	require.Equal(h.t, http.StatusCreated, res.status, "body: %s", res.body)
	var tr api.TaskResponse
	res.json(h.t, &tr)
	return tr
}

func (h *harness) getTask(id uuid.UUID) api.TaskResponse {
	h.t.Helper()
	res := h.do(http.MethodGet, "/v1/tasks/"+id.String(), nil)
	require.Equal(h.t, http.StatusOK, res.status, "body: %s", res.body)
	var tr api.TaskResponse
	res.json(h.t, &tr)
	return tr
}

// waitState polls the API until the task is in one of the states.
func (h *harness) waitState(id uuid.UUID, states ...state.TaskState) api.TaskResponse {
	h.t.Helper()
	var tr api.TaskResponse
	require.Eventually(h.t, func() bool {
		tr = h.getTask(id)
		for _, s := range states {
			if tr.Status == string(s) {
				return true
			}
		}
		return false
	}, 30*time.Second, 10*time.Millisecond, "task %s never reached %v", id, states)
	return tr
}

// stepByName finds a step in a task view.
func stepByName(t *testing.T, tr api.TaskResponse, name string) api.StepResponse {
	t.Helper()
	for _, s := range tr.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("task has no step %s", name)
	return api.StepResponse{}
}

// outcome is what the driver's script says a step attempt does.
type outcome struct {
	fail bool
	hold <-chan struct{}
	// events are domain events the result carries.
	events []stepresult.DomainEvent
}

// driver plays workers for one namespace through the store, as a worker does.
type driver struct {
	h      *harness
	ns     string
	script func(cs store.ClaimedStep) outcome
	wg     sync.WaitGroup
}

func (h *harness) drive(ns string, script func(cs store.ClaimedStep) outcome) {
	d := &driver{h: h, ns: ns, script: script}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	go func() { defer close(done); d.loop(ctx) }()
	h.t.Cleanup(func() { cancel(); <-done; d.wg.Wait() })
}

func (d *driver) loop(ctx context.Context) {
	q := messaging.WorkerQueue(d.ns)
	wake, unsub := d.h.queue.Subscribe(q)
	defer unsub()
	for ctx.Err() == nil {
		out, err := d.h.store.ClaimNext(ctx, store.Claimer{ID: "driver"}, q, 20, 30*time.Second)
		if err != nil || out.Messages == 0 {
			select {
			case <-ctx.Done():
			case <-wake:
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		for _, cs := range out.Claimed {
			d.wg.Go(func() { d.run(ctx, cs) })
		}
	}
}

func (d *driver) run(ctx context.Context, cs store.ClaimedStep) {
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
		res = stepresult.Failure(cs.Step.UUID, stepresult.StatusFailed, "scripted failure", "ScriptedError", false)
	} else {
		b, _ := json.Marshal(map[string]any{"step": cs.Step.Name})
		res = stepresult.Success(cs.Step.UUID, b, nil)
	}
	res.DomainEvents = o.events
	body, _ := json.Marshal(res)
	_, _ = d.h.store.CompleteSteps(ctx, []store.StepResult{{
		StepUUID: cs.Step.UUID, TaskUUID: cs.Task.UUID, Attempt: cs.Step.Attempts, WorkerID: "driver",
		CorrelationID: cs.Task.CorrelationID, Success: !o.fail, Result: body,
		Queue: messaging.WorkerQueue(cs.Task.Namespace), MessageID: cs.MessageID, ReadCount: cs.ReadCount,
	}})
}

func succeed(store.ClaimedStep) outcome { return outcome{} }

// failAt fails the named step permanently (once, then succeeds).
func failAt(name string) func(store.ClaimedStep) outcome {
	var once sync.Once
	return func(cs store.ClaimedStep) outcome {
		fail := false
		if cs.Step.Name == name {
			once.Do(func() { fail = true })
		}
		return outcome{fail: fail}
	}
}
