package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/shared/testdb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// templates of the tests, one file each.
var testTemplates = map[string]string{
	"linear.yaml": `name: capi_linear
namespace_name: capi_ns
version: "1.0.0"
steps:
  - {name: first, handler: {callable: "Capi::First", initialization: {greeting: hello}}}
  - {name: second, dependencies: [first], handler: {callable: "Capi::Second"}}
`,
	"fail.yaml": `name: capi_fail
namespace_name: capi_ns
version: "1.0.0"
steps:
  - {name: fail, handler: {callable: "Capi::Fail"}, retry: {max_attempts: 1}}
`,
	"batch.yaml": `name: capi_batch
namespace_name: capi_ns
version: "1.0.0"
steps:
  - {name: crunch, handler: {callable: "Capi::Crunch"}}
`,
	"foreign.yaml": `name: capi_not_mine
namespace_name: capi_ns
version: "1.0.0"
steps:
  - {name: other, handler: {callable: "Python::NotMine"}, retry: {max_attempts: 1}}
`,
	"other_ns.yaml": `name: capi_other
namespace_name: capi_other_ns
version: "1.0.0"
steps:
  - {name: solo, handler: {callable: "Capi::Solo"}}
`,
}

// env is one test's system: orchestration (no workers) on a private
// schema, the templates in a directory, a client, and a library.
type env struct {
	t      *testing.T
	sys    *systest.System
	dir    string
	client *client.Client
	lib    *Library
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	var tpls []*template.Template
	for name, src := range testTemplates {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600))
		ts, err := template.Parse([]byte(src), name, template.ParseOptions{})
		require.NoError(t, err)
		tpls = append(tpls, ts...)
	}
	sys := systest.Start(t, systest.Options{Workers: -1, Templates: tpls})
	c, err := client.New(sys.URL)
	require.NoError(t, err)
	logs := &syncBuffer{}
	lib := New(Options{Environ: func() []string { return []string{} }, Log: logs, LogLevel: LevelTrace})
	e := &env{t: t, sys: sys, dir: dir, client: c, lib: lib, logs: logs}
	t.Cleanup(func() {
		for _, h := range lib.Handles() {
			lib.Stop(h, 2000)
		}
	})
	return e
}

// config is a bootstrap configuration for the test's database.
func (e *env) config(extra map[string]any) []byte {
	cfg := map[string]any{
		"callables":      []string{"Capi::First", "Capi::Second", "Capi::Fail", "Capi::Crunch", "Capi::Solo"},
		"language":       "ruby",
		"environment":    "test",
		"database_url":   e.sys.DB.URL,
		"template_paths": []string{e.dir},
		"overrides": map[string]any{
			"database": map[string]any{"schema": e.sys.DB.Schema},
			"worker":   map[string]any{"claims": map[string]any{"poll_interval": "100ms"}},
		},
	}
	for k, v := range extra {
		cfg[k] = v
	}
	b, err := json.Marshal(cfg)
	require.NoError(e.t, err)
	return b
}

// reply decodes a reply, requiring ok.
func ok(t *testing.T, reply []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(reply, &m), string(reply))
	require.Equal(t, true, m["ok"], string(reply))
	return m
}

// failed decodes a failure reply, requiring its code.
func failed(t *testing.T, reply []byte, code Code) string {
	t.Helper()
	var m struct {
		OK    *bool `json:"ok"`
		Error *Error
	}
	require.NoError(t, json.Unmarshal(reply, &m), string(reply))
	require.NotNil(t, m.OK, string(reply))
	require.False(t, *m.OK, string(reply))
	require.NotNil(t, m.Error, string(reply))
	require.Equal(t, code, m.Error.Code, string(reply))
	require.NotEmpty(t, m.Error.Message)
	return m.Error.Message
}

func (e *env) bootstrap(extra map[string]any) uint64 {
	e.t.Helper()
	m := ok(e.t, e.lib.Bootstrap(e.config(extra)))
	return uint64(m["handle"].(float64))
}

func (e *env) createTask(name string, ctx string) uuid.UUID {
	e.t.Helper()
	ns := "capi_ns"
	if name == "capi_other" {
		ns = "capi_other_ns"
	}
	task, err := e.client.CreateTask(e.sys.Ctx, client.TaskRequest{Namespace: ns, Name: name, Version: "1.0.0",
		Context: json.RawMessage(ctx), IdempotencyKey: uuid.NewString()})
	require.NoError(e.t, err)
	return task.TaskUUID
}

func (e *env) wait(id uuid.UUID) *client.Task {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.sys.Ctx, 30*time.Second)
	defer cancel()
	_, err := e.client.Wait(ctx, id, nil)
	require.NoError(e.t, err)
	task, err := e.client.GetTask(ctx, id)
	require.NoError(e.t, err)
	return task
}

func step(t *testing.T, task *client.Task, name string) *client.Step {
	t.Helper()
	for i := range task.Steps {
		if task.Steps[i].Name == name {
			return &task.Steps[i]
		}
	}
	t.Fatalf("task has no step %q", name)
	return nil
}

// poll polls one event (waiting up to 10 s) and decodes it.
func (e *env) poll(h uint64) map[string]any {
	e.t.Helper()
	m := ok(e.t, e.lib.Poll(h, 1, 10000))
	evs := m["events"].([]any)
	require.Len(e.t, evs, 1, "an event within the wait")
	return evs[0].(map[string]any)
}

func get(m any, path ...string) any {
	for _, p := range path {
		obj, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = obj[p]
	}
	return m
}

func TestBootstrapRejectsBadConfigurations(t *testing.T) {
	lib := New(Options{Environ: func() []string { return []string{} }})
	for in, code := range map[string]Code{
		`{"callables": ["A"]`:                   CodeInvalidJSON,
		"{\"language\": \"\xff\"}":              CodeInvalidJSON,
		`[]`:                                    CodeInvalidConfig,
		`{}`:                                    CodeInvalidConfig,
		`{"callables": [], "language": "ruby"}`: CodeInvalidConfig,
		`{"callables": ["A"]}`:                  CodeInvalidConfig,
		`{"callables": ["A"], "language": "Ruby!"}`:                                       CodeInvalidConfig,
		`{"callables": ["A"], "language": "ruby", "x": 1}`:                                CodeInvalidConfig,
		`{"callables": "A", "language": "ruby"}`:                                          CodeInvalidConfig,
		`{"callables": ["A"], "language": "ruby", "template_paths": ["/does/not/exist"]}`: CodeInvalidConfig,
		`{"callables": ["A"], "language": "ruby", "environment": "staging"}`:              CodeInvalidConfig,
		`{"callables": ["A"], "language": "ruby", "config_root": "/does/not/exist"}`:      CodeInvalidConfig,
		`{"callables": ["A"], "language": "ruby", "poll_spin_us": -1}`:                    CodeInvalidConfig,
		`{"callables": ["A"], "language": "ruby", "poll_spin_us": 100001}`:                CodeInvalidConfig,
		`{"callables": ["A"], "language": "ruby", "poll_spin_us": "50"}`:                  CodeInvalidConfig,
	} {
		failed(t, lib.Bootstrap([]byte(in)), code)
	}
	msg := failed(t, lib.Bootstrap([]byte(`{"callables": ["A"], "language": "ruby", "overrides":
		{"worker": {"handlers": {"max_concurrent": 0}, "claims": {"batch_sise": 3}}}}`)), CodeInvalidConfig)
	require.Contains(t, msg, "bootstrap overrides: worker.handlers.max_concurrent: must be between 1 and 100000, got 0")
	require.Contains(t, msg, `bootstrap overrides: unknown key "worker.claims.batch_sise" (did you mean "worker.claims.batch_size"?)`)
	msg = failed(t, lib.Bootstrap([]byte(`{"callables": ["A"], "language": "ruby", "x": 1}`)), CodeInvalidConfig)
	require.Contains(t, msg, `unknown key "x"`)

	msg = failed(t, lib.Bootstrap([]byte(`{"callables": ["A"], "language": "ruby",
		"database_url": "postgres://u:s3cret@127.0.0.1:1/db?connect_timeout=2"}`)), CodeBootstrapFailed)
	require.NotContains(t, msg, "s3cret")

	empty := testdb.Empty(t)
	cfg, _ := json.Marshal(map[string]any{"callables": []string{"A"}, "language": "ruby", "database_url": empty.URL,
		"overrides": map[string]any{"database": map[string]any{"schema": empty.Schema}}})
	msg = failed(t, lib.Bootstrap(cfg), CodeBootstrapFailed)
	require.Contains(t, msg, "tasker migrate up")
	require.Empty(t, lib.Handles())
}

// TestWorkerServesSteps runs tasks through a worker the host serves: the
// events have tasker-core's shape, successes, failures and checkpoints
// land in the database, and misuse gets its error codes.
func TestWorkerServesSteps(t *testing.T) {
	e := newEnv(t)
	h := e.bootstrap(nil)
	st := ok(t, e.lib.Status(h))
	require.Equal(t, "running", st["state"])
	require.Equal(t, true, st["running"])
	require.Equal(t, "test", st["environment"])
	require.Equal(t, []any{"capi_ns", "capi_other_ns"}, st["namespaces"])
	require.True(t, strings.HasPrefix(st["worker_id"].(string), "ruby-worker-"))

	// linear: the second step sees the first's result.
	linear := e.createTask("capi_linear", `{"n": 6}`)
	ev := e.poll(h)
	require.Equal(t, "Capi::First", get(ev, "task_sequence_step", "step_definition", "handler", "callable"))
	require.Equal(t, map[string]any{"n": float64(6)}, get(ev, "task_sequence_step", "task", "task", "context"))
	require.Equal(t, map[string]any{"greeting": "hello"}, get(ev, "task_sequence_step", "workflow_step", "inputs"))
	require.EqualValues(t, 0, get(ev, "task_sequence_step", "workflow_step", "attempts"))
	ok(t, e.lib.Complete(h, ev["event_id"].(string), []byte(`{"step_uuid": "`+ev["step_uuid"].(string)+`", "success": true,
		"status": "completed", "result": 36, "metadata": {"execution_time_ms": 1, "custom": {"by": "ruby"}}}`)))
	failed(t, e.lib.Complete(h, ev["event_id"].(string), []byte(`{"success": true}`)), CodeUnknownEvent)
	ev = e.poll(h)
	require.Equal(t, "second", get(ev, "task_sequence_step", "workflow_step", "name"))
	require.EqualValues(t, 36, get(ev, "task_sequence_step", "dependency_results", "first", "result"))
	ok(t, e.lib.Complete(h, ev["event_id"].(string), []byte(`{"success": true, "result": {"squared": 1296}}`)))
	task := e.wait(linear)
	require.Equal(t, "complete", task.Status)
	require.JSONEq(t, `{"squared": 1296}`, string(step(t, task, "second").Result()))
	require.Equal(t, map[string]any{"by": "ruby"}, stepresult.Parse(step(t, task, "first").Results).Metadata.Custom)

	// A failure, non-retryable.
	fail := e.createTask("capi_fail", `{}`)
	ev = e.poll(h)
	ok(t, e.lib.Complete(h, ev["event_id"].(string), []byte(`{"success": false, "status": "failed",
		"error": {"message": "card declined", "error_type": "PermanentError", "retryable": false},
		"metadata": {"error_code": "DECLINED"}}`)))
	task = e.wait(fail)
	require.Equal(t, "error", task.Status)
	res := stepresult.Parse(step(t, task, "fail").Results)
	require.Equal(t, "card declined", res.Error.Message)
	require.Equal(t, "DECLINED", res.Metadata.ErrorCode)
	require.False(t, res.Retryable())

	// Unreadable results still complete the step.
	for _, tc := range []struct {
		result string
		code   Code
	}{{`{"result": 1}`, CodeInvalidResult}, {`{"success": tru`, CodeInvalidJSON}, {"{\"success\": \"\xff\"}", CodeInvalidJSON}} {
		id := e.createTask("capi_fail", `{}`)
		ev = e.poll(h)
		failed(t, e.lib.Complete(h, ev["event_id"].(string), []byte(tc.result)), tc.code)
		task = e.wait(id)
		require.Equal(t, "error", task.Status)
		require.Equal(t, stepresult.ErrorTypeInvalidResult, stepresult.Parse(step(t, task, "fail").Results).Metadata.ErrorType)
	}

	// A checkpoint yield brings the step back as a new event.
	batch := e.createTask("capi_batch", `{}`)
	ev = e.poll(h)
	first := ev["event_id"].(string)
	failed(t, e.lib.Checkpoint(h, first, []byte(`{"cursor": 1`)), CodeInvalidJSON)
	failed(t, e.lib.Checkpoint(h, first, []byte(`{"cursor": 1}`)), CodeInvalidArgument)
	failed(t, e.lib.Checkpoint(h, "no-such-event", []byte(`{"cursor": 1, "items_processed": 1}`)), CodeUnknownEvent)
	ok(t, e.lib.Checkpoint(h, first, []byte(`{"cursor": {"row": 50}, "items_processed": 50, "accumulated_results": {"sum": 7}}`)))
	failed(t, e.lib.Complete(h, first, []byte(`{"success": true}`)), CodeUnknownEvent)
	ev = e.poll(h)
	require.NotEqual(t, first, ev["event_id"])
	require.Equal(t, map[string]any{"row": float64(50)}, get(ev, "task_sequence_step", "workflow_step", "checkpoint", "cursor"))
	require.EqualValues(t, 0, get(ev, "task_sequence_step", "workflow_step", "attempts"))
	ok(t, e.lib.Complete(h, ev["event_id"].(string), []byte(`{"success": true, "result": {"rows": 100}}`)))
	task = e.wait(batch)
	require.Equal(t, "complete", task.Status)
	require.Equal(t, 1, step(t, task, "crunch").Attempts)

	// A callable the host did not declare is not claimed by its worker: the
	// step waits in the queue and runs once a worker that declares it
	// starts.
	other := e.createTask("capi_not_mine", `{}`)
	require.Empty(t, get(ok(t, e.lib.Poll(h, 10, 300)), "events"))
	python := e.bootstrap(map[string]any{"callables": []string{"Python::NotMine"}, "language": "python", "worker_id": "worker-python"})
	ev = e.poll(python)
	require.Equal(t, "Python::NotMine", get(ev, "task_sequence_step", "step_definition", "handler", "callable"))
	ok(t, e.lib.Complete(python, ev["event_id"].(string), []byte(`{"success": true, "result": {"mine": true}}`)))
	task = e.wait(other)
	require.Equal(t, "complete", task.Status)
	require.Equal(t, "worker-python", stepresult.Parse(step(t, task, "other").Results).Metadata.WorkerID)

	// Misuse.
	failed(t, e.lib.Poll(h, 0, 0), CodeInvalidArgument)
	failed(t, e.lib.Poll(h, 1001, 0), CodeInvalidArgument)
	failed(t, e.lib.Poll(h, 1, -1), CodeInvalidArgument)
	failed(t, e.lib.Poll(h, 1, 60001), CodeInvalidArgument)
	failed(t, e.lib.Poll(h+100, 1, 0), CodeUnknownHandle)
	failed(t, e.lib.Complete(h, "no-such-event", []byte(`{"success": true}`)), CodeUnknownEvent)
	failed(t, e.lib.Status(0), CodeUnknownHandle)

	// Observability.
	health := ok(t, e.lib.Health(h))
	require.Equal(t, "healthy", get(health, "health", "status"))
	require.Equal(t, st["worker_id"], get(health, "health", "worker_id"))
	metrics := ok(t, e.lib.Metrics(h))
	require.True(t, strings.HasPrefix(metrics["content_type"].(string), "text/plain"), metrics["content_type"])
	require.Contains(t, metrics["text"], "tasker_worker_checkpoints_total")
	require.Contains(t, metrics["text"], "go_goroutines")
	st = ok(t, e.lib.Status(h))
	require.EqualValues(t, 7, get(st, "stats", "recorded"), "2 linear, 4 failures, 1 batch")

	stop := ok(t, e.lib.Stop(h, 0))
	require.Equal(t, "stopped", stop["state"])
	failed(t, e.lib.Stop(h, 0), CodeUnknownHandle)
	failed(t, e.lib.Poll(h, 1, 0), CodeUnknownHandle)
	failed(t, e.lib.Complete(h, "x", []byte(`{}`)), CodeUnknownHandle)
	failed(t, e.lib.Status(h), CodeUnknownHandle)
	failed(t, e.lib.Log(h, "info", "x", nil), CodeUnknownHandle)
	require.Equal(t, []uint64{python}, e.lib.Handles())
}

// TestStopReleasesWhatTheHostHolds: an event the host never completes is
// released at stop (the step goes back to its queue, the attempt not
// counted), a poll blocked in its wait returns "stopped", and begin
// shutdown stops new claims while dispatched events can still complete.
func TestStopReleasesWhatTheHostHolds(t *testing.T) {
	e := newEnv(t)
	h := e.bootstrap(map[string]any{"overrides": map[string]any{
		"database": map[string]any{"schema": e.sys.DB.Schema},
		"worker":   map[string]any{"shutdown_grace": "1s", "claims": map[string]any{"poll_interval": "100ms"}},
	}})
	first := e.createTask("capi_batch", `{}`)
	second := e.createTask("capi_batch", `{}`)
	held := e.poll(h)
	done := e.poll(h)
	ok(t, e.lib.BeginShutdown(h))
	require.Equal(t, "stopping", ok(t, e.lib.Status(h))["state"])
	ok(t, e.lib.Complete(h, done["event_id"].(string), []byte(`{"success": true}`)))
	ok(t, e.lib.BeginShutdown(h))

	polled := make(chan map[string]any, 1)
	go func() {
		var m map[string]any
		_ = json.Unmarshal(e.lib.Poll(h, 5, 60000), &m)
		polled <- m
	}()
	require.Eventually(t, func() bool { return get(ok(t, e.lib.Status(h)), "waiting_polls") == float64(1) },
		10*time.Second, time.Millisecond, "the poll blocks in its wait")
	// The blocked poll holds nothing: other calls go on.
	ok(t, e.lib.Log(h, "info", "while a poll waits", nil))
	ok(t, e.lib.Health(h))

	stop := ok(t, e.lib.Stop(h, 3000))
	require.EqualValues(t, 1, stop["released"])
	t.Logf("stop took %v ms with one event held by the host", stop["took_ms"])
	select {
	case m := <-polled:
		require.Equal(t, true, m["ok"])
		require.Equal(t, "stopped", m["state"])
		require.Empty(t, m["events"])
	case <-time.After(10 * time.Second):
		t.Fatal("the blocked poll did not return at stop")
	}
	failed(t, e.lib.Complete(h, held["event_id"].(string), []byte(`{"success": true}`)), CodeUnknownHandle)

	ids := map[string]uuid.UUID{held["task_uuid"].(string): uuid.Nil}
	for _, id := range []uuid.UUID{first, second} {
		task, err := e.client.GetTask(e.sys.Ctx, id)
		require.NoError(t, err)
		if _, isHeld := ids[id.String()]; isHeld {
			s := step(t, task, "crunch")
			require.Equal(t, "enqueued", s.CurrentState, "released for another worker")
			require.Zero(t, s.Attempts)
		}
	}
	// Another worker finishes the released step.
	h2 := e.bootstrap(nil)
	ev := e.poll(h2)
	require.Equal(t, held["step_uuid"], ev["step_uuid"])
	ok(t, e.lib.Complete(h2, ev["event_id"].(string), []byte(`{"success": true}`)))
	for _, id := range []uuid.UUID{first, second} {
		require.Equal(t, "complete", e.wait(id).Status)
	}
}

// TestSeveralWorkersInOneProcess: each handle has its own worker,
// namespaces and events.
func TestSeveralWorkersInOneProcess(t *testing.T) {
	e := newEnv(t)
	a := e.bootstrap(map[string]any{"namespaces": []string{"capi_ns"}, "worker_id": "worker-a"})
	b := e.bootstrap(map[string]any{"namespaces": []string{"capi_other_ns"}, "language": "python", "worker_id": "worker-b"})
	require.NotEqual(t, a, b)
	require.Equal(t, []uint64{a, b}, e.lib.Handles())
	solo := e.createTask("capi_other", `{}`)
	ev := e.poll(b)
	require.Equal(t, "Capi::Solo", get(ev, "task_sequence_step", "step_definition", "handler", "callable"))
	require.Empty(t, get(ok(t, e.lib.Poll(a, 10, 0)), "events"))
	failed(t, e.lib.Complete(a, ev["event_id"].(string), []byte(`{"success": true}`)), CodeUnknownEvent)
	ok(t, e.lib.Complete(b, ev["event_id"].(string), []byte(`{"success": true}`)))
	require.Equal(t, "complete", e.wait(solo).Status)
	require.Equal(t, "worker-b", ok(t, e.lib.Status(b))["worker_id"])
	require.Equal(t, "python", ok(t, e.lib.Status(b))["language"])
	ok(t, e.lib.Stop(a, 0))
	ok(t, e.lib.Status(b))
}

// TestLogBridge: a host's line lands in the worker's structured log with
// its level, fields, worker id and source.
func TestLogBridge(t *testing.T) {
	e := newEnv(t)
	ok(t, e.lib.Log(0, "warn", "before any worker", []byte(`{"pid": 42}`)))
	h := e.bootstrap(map[string]any{"worker_id": "log-worker"})
	ok(t, e.lib.Log(h, "trace", "handler detail", []byte(`{"step": "first", "n": 3, "nested": {"a": [1]}}`)))
	ok(t, e.lib.Log(h, "error", "handler blew up", nil))
	failed(t, e.lib.Log(h, "loud", "x", nil), CodeInvalidArgument)
	failed(t, e.lib.Log(h, "info", "x", []byte(`[1]`)), CodeInvalidArgument)
	failed(t, e.lib.Log(h, "info", "x", []byte(`{"a":`)), CodeInvalidJSON)
	failed(t, e.lib.Log(h, "info", "bad \xff", nil), CodeInvalidJSON)
	logs := e.logs.String()
	require.Contains(t, logs, `level=WARN msg="before any worker" source=host pid=42`)
	require.Contains(t, logs, `level=TRACE msg="handler detail" worker_id=log-worker source=ruby n=3 nested=map[a:[1]] step=first`)
	require.Contains(t, logs, `level=ERROR msg="handler blew up" worker_id=log-worker source=ruby`)
}

// TestConcurrentHosts: several goroutines (host threads) poll and complete
// at once; every step runs once.
//
// The worker spins its blocked polls (poll_spin_us), and half the host
// threads poll with the indexed reply.
func TestConcurrentHosts(t *testing.T) {
	e := newEnv(t)
	h := e.bootstrap(map[string]any{"poll_spin_us": 200, "overrides": map[string]any{
		"database": map[string]any{"schema": e.sys.DB.Schema},
		"worker":   map[string]any{"handlers": map[string]any{"max_concurrent": 8, "adaptive": false}},
	}})
	const tasks = 40
	ids := make([]uuid.UUID, tasks)
	for i := range ids {
		ids[i] = e.createTask("capi_other", fmt.Sprintf(`{"i": %d}`, i))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				mu.Lock()
				n := len(seen)
				mu.Unlock()
				if n == tasks {
					return
				}
				var ids [][2]string // event id, step uuid
				if i%2 == 0 {
					var m struct {
						Events []map[string]any `json:"events"`
					}
					if json.Unmarshal(e.lib.Poll(h, 3, 200), &m) != nil {
						return
					}
					for _, ev := range m.Events {
						ids = append(ids, [2]string{ev["event_id"].(string), ev["step_uuid"].(string)})
					}
				} else {
					reply := e.lib.PollIndexed(h, 3, 200)
					nl := bytes.IndexByte(reply, '\n')
					var m struct {
						Events [][]any `json:"events"`
					}
					if nl < 0 || json.Unmarshal(reply[:nl], &m) != nil {
						return
					}
					for _, ev := range m.Events {
						ids = append(ids, [2]string{ev[0].(string), ev[2].(string)})
					}
				}
				for _, id := range ids {
					mu.Lock()
					seen[id[1]]++
					mu.Unlock()
					e.lib.Complete(h, id[0], []byte(`{"success": true, "result": "ok"}`))
				}
			}
		}()
	}
	wg.Wait()
	require.Len(t, seen, tasks)
	for s, n := range seen {
		require.Equal(t, 1, n, s)
	}
	for _, id := range ids {
		require.Equal(t, "complete", e.wait(id).Status)
	}
}
