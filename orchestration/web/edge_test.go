package web_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/orchestration/web"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// snapshot digests every table the API can write, to prove a refused
// request wrote nothing.
func (h *harness) snapshot() string {
	h.t.Helper()
	var out []string
	for _, table := range []string{"tasks", "workflow_steps", "task_transitions", "workflow_step_transitions",
		"workflow_step_edges", "tasks_dlq", "named_tasks", "task_namespaces"} {
		var digest string
		require.NoError(h.t, h.pool.QueryRow(h.ctx,
			`SELECT count(*) || ':' || md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM `+table+` x`).Scan(&digest))
		out = append(out, table+"="+digest)
	}
	return strings.Join(out, " ")
}

// badText is how each kind of bad string travels in a JSON body.
var badText = []struct {
	name string
	json string // a JSON string token
}{
	{"NUL escape", `"a\u0000b"`},
	{"lone high surrogate", `"\ud800"`},
	{"lone low surrogate", `"x\udfffy"`},
	{"raw invalid UTF-8", "\"\xff\xfe\""},
}

// TestBadTextNeverReachesTheDatabase sends NUL characters, unpaired
// surrogates and invalid UTF-8 in every kind of request input, on every
// route family: each gets 400 naming the field, parameter or JSON pointer,
// and nothing is written.
func TestBadTextNeverReachesTheDatabase(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	task := h.createTask(tpl, input) // no workers: it waits in steps_in_process
	step := task.Steps[0].StepUUID
	stale := h.createTask(tpl, `{"even_number": 8}`)
	done, err := h.store.HandleStaleTask(h.ctx, store.StaleTask{
		TaskUUID: stale.TaskUUID, Namespace: stale.Namespace, TaskName: stale.Name, State: state.TaskStepsInProcess,
		MinutesInState: 45, ThresholdMinutes: 30, CorrelationID: stale.CorrelationID, RequestedAt: stale.RequestedAt,
		CreatedAt: stale.CreatedAt,
	}, store.StaleAction{DLQ: true, Fail: true})
	require.NoError(t, err)
	require.True(t, done)
	entry, err := h.store.DLQForTask(h.ctx, stale.TaskUUID)
	require.NoError(t, err)
	before := h.snapshot()

	type call struct {
		method, path string
		body         string
		want         string // "param:<name>" or a JSON pointer
	}
	var calls []call
	// Bodies: every string field of every body, and object keys.
	createBody := func(field, value string) string {
		fields := map[string]string{
			"namespace": `"` + tpl.NamespaceName + `"`, "name": `"` + tpl.Name + `"`, "version": `"` + tpl.Version + `"`,
			"context": `{"even_number": 6}`, "initiator": `"tests"`, "source_system": `"edge"`, "reason": `"r"`,
			"tags": `["t"]`, "idempotency_key": `"` + uuid.NewString() + `"`,
		}
		fields[field] = value
		var parts []string
		for k, v := range fields {
			parts = append(parts, fmt.Sprintf("%q: %s", k, v))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	stepBody := func(action, field, value string) string {
		by := map[string]string{"reset_for_retry": "reset_by", "resolve_manually": "resolved_by", "complete_manually": "completed_by"}[action]
		fields := map[string]string{"action_type": `"` + action + `"`, "reason": `"because"`, by: `"ops"`}
		if action == "complete_manually" {
			fields["completion_data"] = `{"result": {"ok": true}, "metadata": {"k": "v"}}`
		}
		fields[field] = value
		var parts []string
		for k, v := range fields {
			parts = append(parts, fmt.Sprintf("%q: %s", k, v))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	for _, bt := range badText {
		for _, f := range []string{"namespace", "name", "version", "initiator", "reason", "source_system", "idempotency_key"} {
			calls = append(calls, call{"POST", "/v1/tasks", createBody(f, bt.json), "/" + f})
		}
		calls = append(calls,
			call{"POST", "/v1/tasks", createBody("tags", `["ok", `+bt.json+`]`), "/tags/1"},
			call{"POST", "/v1/tasks", createBody("context", `{"even_number": 6, "deep": [{"x": `+bt.json+`}]}`), "/context/deep/0/x"},
			call{"POST", "/v1/tasks", createBody("context", `{"even_number": 6, `+bt.json+`: 1}`), ""}, // key: pointer checked below
			call{"PATCH", stepPath(task.TaskUUID, step), stepBody("resolve_manually", "reason", bt.json), "/reason"},
			call{"PATCH", stepPath(task.TaskUUID, step), stepBody("resolve_manually", "resolved_by", bt.json), "/resolved_by"},
			call{"PATCH", stepPath(task.TaskUUID, step), stepBody("reset_for_retry", "reset_by", bt.json), "/reset_by"},
			call{"PATCH", stepPath(task.TaskUUID, step), stepBody("complete_manually", "completed_by", bt.json), "/completed_by"},
			call{"PATCH", stepPath(task.TaskUUID, step), stepBody("complete_manually", "completion_data",
				`{"result": {"v": [`+bt.json+`]}}`), "/completion_data/result/v/0"},
			call{"PATCH", stepPath(task.TaskUUID, step), stepBody("complete_manually", "completion_data",
				`{"result": 1, "metadata": {"note": `+bt.json+`}}`), "/completion_data/metadata/note"},
			call{"PATCH", "/v1/dlq/entry/" + entry.UUID.String(), `{"resolution_notes": ` + bt.json + `}`, "/resolution_notes"},
			call{"PATCH", "/v1/dlq/entry/" + entry.UUID.String(), `{"resolved_by": ` + bt.json + `}`, "/resolved_by"},
			call{"PATCH", "/v1/dlq/entry/" + entry.UUID.String(), `{"metadata": {"ticket": ` + bt.json + `}}`, "/metadata/ticket"},
		)
	}
	// Query parameters and path segments, NUL and invalid UTF-8.
	for _, bad := range []string{"%00", "a%00b", "%ff", "%ed%a0%80"} {
		calls = append(calls,
			call{"GET", "/v1/tasks?namespace=" + bad, "", "param:namespace"},
			call{"GET", "/v1/tasks?name=" + bad, "", "param:name"},
			call{"GET", "/v1/tasks?initiator=" + bad, "", "param:initiator"},
			call{"GET", "/v1/tasks?source_system=" + bad, "", "param:source_system"},
			call{"GET", "/v1/tasks?status=" + bad, "", "param:status"},
			call{"GET", "/v1/tasks/" + bad, "", "param:uuid"},
			call{"DELETE", "/v1/tasks/" + task.TaskUUID.String() + "?reason=" + bad, "", "param:reason"},
			call{"DELETE", "/v1/tasks/" + bad, "", "param:uuid"},
			call{"GET", "/v1/tasks/" + bad + "/workflow_steps", "", "param:uuid"},
			call{"GET", "/v1/tasks/" + task.TaskUUID.String() + "/workflow_steps/" + bad, "", "param:step_uuid"},
			call{"GET", "/v1/tasks/" + task.TaskUUID.String() + "/workflow_steps/" + bad + "/audit", "", "param:step_uuid"},
			call{"PATCH", "/v1/tasks/" + task.TaskUUID.String() + "/workflow_steps/" + bad, `{}`, "param:step_uuid"},
			call{"GET", "/v1/tasks/" + bad + "/events", "", "param:uuid"},
			call{"GET", "/v1/templates?namespace=" + bad, "", "param:namespace"},
			call{"GET", "/v1/templates/" + bad + "/b/1.0.0", "", "param:namespace"},
			call{"GET", "/v1/templates/a/" + bad + "/1.0.0", "", "param:name"},
			call{"GET", "/v1/templates/a/b/" + bad, "", "param:version"},
			call{"GET", "/v1/dlq?resolution_status=" + bad, "", "param:resolution_status"},
			call{"GET", "/v1/dlq/task/" + bad, "", "param:task_uuid"},
			call{"PATCH", "/v1/dlq/entry/" + bad, `{"resolution_notes": "x"}`, "param:dlq_entry_uuid"},
			call{"GET", "/v1/dlq/stats?x=" + bad, "", "param:x"},
			call{"GET", "/v1/dlq/staleness?limit=" + bad, "", "param:limit"},
			call{"GET", "/health/detailed?verbose=" + bad, "", "param:verbose"},
			call{"GET", "/metrics?name[]=" + bad, "", "param:name[]"},
			call{"GET", "/v1/nowhere" + bad, "", "param:path"},
		)
	}
	for _, c := range calls {
		var body any
		if c.body != "" {
			body = c.body
		}
		res := h.do(c.method, c.path, body)
		e := res.requireError(t, http.StatusBadRequest, web.CodeBadRequest)
		got := e.pointers(t)
		require.Len(t, got, 1, "%s %s %s", c.method, c.path, c.body)
		if c.want == "" { // a bad key: the pointer names the member
			require.True(t, strings.HasPrefix(got[0], "/context/"), "%s: %v", c.body, got)
			continue
		}
		require.Equal(t, c.want, got[0], "%s %s %s", c.method, c.path, c.body)
	}
	require.Equal(t, before, h.snapshot(), "a refused request wrote something")
	require.Equal(t, string(state.TaskStepsInProcess), h.getTask(task.TaskUUID).Status)
}

// logRecorder keeps every record an API server logs.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r)
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) snapshot() []slog.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]slog.Record(nil), l.records...)
}

// rawExchange sends request bytes on a fresh TCP connection, closes the
// sending side, and returns the response.
func rawExchange(t *testing.T, addr, request string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = io.WriteString(conn, request)
	require.NoError(t, err)
	require.NoError(t, conn.(*net.TCPConn).CloseWrite())
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = res.Body.Close() })
	return res
}

func readError(t *testing.T, res *http.Response) response {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// TestUnreadableBodies: a body cut short and a malformed chunked body are
// the client's errors (400), logged at most at info, never as failures.
func TestUnreadableBodies(t *testing.T) {
	t.Parallel()
	logs := &logRecorder{}
	h := newHarness(t, harnessOptions{logger: slog.New(logs)})
	// What start-up logged is not about the requests (it warns when the
	// test database is not vacuumed, for one).
	started := len(logs.snapshot())
	addr := strings.TrimPrefix(h.http.URL, "http://")
	head := "Host: tasker\r\nContent-Type: application/json\r\nConnection: close\r\n"
	for name, req := range map[string]string{
		"cut short":              "POST /v1/tasks HTTP/1.1\r\n" + head + "Content-Length: 500\r\n\r\n" + `{"namespace": "n", "na`,
		"chunk size not hex":     "POST /v1/tasks HTTP/1.1\r\n" + head + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
		"chunk longer than sent": "POST /v1/tasks HTTP/1.1\r\n" + head + "Transfer-Encoding: chunked\r\n\r\nff\r\n{\"name\": \"x\"}",
		"chunk without CRLF":     "PATCH /v1/dlq/entry/" + uuid.NewString() + " HTTP/1.1\r\n" + head + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n",
	} {
		res := readError(t, rawExchange(t, addr, req)) //nolint:bodyclose // readError reads and closes the body
		e := res.requireError(t, http.StatusBadRequest, web.CodeBadRequest)
		require.Contains(t, e.Error.Message, "the request body could not be read", name)
	}
	var clientErrors int
	for _, r := range logs.snapshot()[started:] {
		require.LessOrEqual(t, r.Level, slog.LevelInfo, "logged %q at %s", r.Message, r.Level)
		if strings.HasPrefix(r.Message, "client error") {
			clientErrors++
		}
	}
	require.Equal(t, 4, clientErrors)
}

// TestOversizedHeaders: headers over the API's own limit get 431 in the
// JSON envelope; only headers over the server's far larger limit get Go's
// plain-text answer.
func TestOversizedHeaders(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := h.startListening()
	url := "http://" + srv.Addr() + "/v1/tasks"
	send := func(size int) response {
		req, err := http.NewRequestWithContext(h.ctx, http.MethodGet, url, nil)
		require.NoError(t, err)
		req.Header.Set("X-Padding", strings.Repeat("p", size))
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return response{status: res.StatusCode, header: res.Header, body: b}
	}
	require.Equal(t, http.StatusOK, send(32<<10).status)
	e := send(100<<10).requireError(t, http.StatusRequestHeaderFieldsTooLarge, web.CodeHeadersTooLarge)
	require.Contains(t, e.Error.Message, "at most 65536")
	plain := send(2 << 20)
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, plain.status)
	require.NotEqual(t, "application/json", plain.header.Get("Content-Type"), "documented: Go's own answer")
}
