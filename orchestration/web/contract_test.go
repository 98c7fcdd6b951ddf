package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestWireContract")

// contractTemplate is the template of TestWireContract: three steps in a
// row; "second" fails for tasks whose context says so.
const contractTemplate = `
name: chain
namespace_name: contract
version: 1.0.0
description: Three steps in a row
identity_strategy: caller_provided
steps:
  - name: first
    handler: {callable: Contract::First, initialization: {factor: 2}}
  - name: second
    dependencies: [first]
    handler: {callable: Contract::Second}
    retry: {retryable: false, max_attempts: 1}
  - name: third
    dependencies: [second]
    handler: {callable: Contract::Third}
    timeout_seconds: 5
`

// exchange is one recorded request.
type exchange struct {
	name   string // golden file name
	method string
	route  string // the route pattern, for the golden file
	res    response
}

// TestWireContract records every endpoint's response (status, content type
// and the JSON body with volatile values normalised) in a golden file per
// endpoint under testdata/contract, so that no change of the types behind
// the API can alter the wire format unnoticed. Run with -update to rewrite
// the files after an intended change, and review the diff.
func TestWireContract(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpls, err := template.Parse([]byte(contractTemplate), "contract.yaml", template.ParseOptions{})
	require.NoError(t, err)
	_, err = h.store.RegisterTemplates(h.ctx, tpls)
	require.NoError(t, err)

	var got []exchange
	record := func(name, method, route, path string, body any, headers ...string) response {
		t.Helper()
		res := h.do(method, path, body, headers...)
		got = append(got, exchange{name: name, method: method, route: route, res: res})
		return res
	}
	create := func(name, key, ctxJSON string) uuid.UUID {
		t.Helper()
		res := record(name, http.MethodPost, "/v1/tasks", "/v1/tasks", map[string]any{
			"namespace": "contract", "name": "chain", "version": "1.0.0", "context": json.RawMessage(ctxJSON),
			"initiator": "contract_test", "source_system": "web_test", "reason": "recording the wire format",
			"tags": []string{"contract"}, "priority": 3, "idempotency_key": key,
		})
		require.Equal(t, http.StatusCreated, res.status, "body: %s", res.body)
		var v struct {
			TaskUUID uuid.UUID `json:"task_uuid"`
		}
		res.json(t, &v)
		return v.TaskUUID
	}
	status := func(id uuid.UUID) state.TaskState {
		task, err := h.store.GetTask(h.ctx, id)
		require.NoError(t, err)
		return task.State
	}
	waitFor := func(id uuid.UUID, want state.TaskState) {
		t.Helper()
		require.Eventually(t, func() bool { return status(id) == want }, 30*time.Second, 10*time.Millisecond,
			"task %s never reached %s", id, want)
	}
	stepID := func(task uuid.UUID, name string) uuid.UUID {
		t.Helper()
		rs, err := h.store.StepReadiness(h.ctx, []uuid.UUID{task}, nil)
		require.NoError(t, err)
		for _, r := range rs {
			if r.Name == name {
				return r.UUID
			}
		}
		t.Fatalf("task %s has no step %s", task, name)
		return uuid.Nil
	}

	// A driver plays the workers: "second" fails (not retryable) when the
	// task's context asks for it. It is stopped before the operator fixes,
	// so their answers do not race with it.
	stopDriver := startDriver(h, "contract", func(cs store.ClaimedStep) outcome {
		return outcome{fail: cs.Step.Name == "second" && bytes.Contains(cs.Task.Context, []byte(`"fail"`))}
	})

	ok := create("create_task", "ok", `{"n": 1, "nested": {"list": [1, 2.5, "x"]}}`)
	waitFor(ok, state.TaskComplete)
	record("get_task", http.MethodGet, "/v1/tasks/{uuid}", "/v1/tasks/"+ok.String(), nil)
	record("list_steps", http.MethodGet, "/v1/tasks/{uuid}/workflow_steps", "/v1/tasks/"+ok.String()+"/workflow_steps", nil)
	second := stepID(ok, "second")
	record("get_step", http.MethodGet, "/v1/tasks/{uuid}/workflow_steps/{step_uuid}", stepPath(ok, second), nil)
	record("step_audit", http.MethodGet, "/v1/tasks/{uuid}/workflow_steps/{step_uuid}/audit", stepPath(ok, second)+"/audit", nil)
	record("task_domain_events", http.MethodGet, "/v1/tasks/{uuid}/domain_events", "/v1/tasks/"+ok.String()+"/domain_events", nil)
	record("task_events", http.MethodGet, "/v1/tasks/{uuid}/events", "/v1/tasks/"+ok.String()+"/events", nil,
		"Accept", "text/event-stream")

	var failed []uuid.UUID
	for i := range 3 {
		id := create(fmt.Sprintf("create_task_%d", i+2), fmt.Sprintf("fail-%d", i), fmt.Sprintf(`{"n": %d, "fail": true}`, i+2))
		failed = append(failed, id)
	}
	got = got[:len(got)-3] // the same shape as create_task
	for _, id := range failed {
		waitFor(id, state.TaskError)
	}
	stopDriver()
	record("get_task_error", http.MethodGet, "/v1/tasks/{uuid}", "/v1/tasks/"+failed[0].String(), nil)
	record("step_audit_failure", http.MethodGet, "/v1/tasks/{uuid}/workflow_steps/{step_uuid}/audit",
		stepPath(failed[0], stepID(failed[0], "second"))+"/audit", nil)
	record("task_summary", http.MethodGet, "/v1/tasks/{uuid}/summary", "/v1/tasks/"+failed[0].String()+"/summary", nil)

	idle := create("create_task_idle", "idle", `{"n": 5}`)
	got = got[:len(got)-1]
	cancelled := create("create_task_cancel", "cancel", `{"n": 6}`)
	got = got[:len(got)-1]
	stale := create("create_task_stale", "stale", `{"n": 7}`)
	got = got[:len(got)-1]
	record("get_task_in_progress", http.MethodGet, "/v1/tasks/{uuid}", "/v1/tasks/"+idle.String(), nil)
	record("cancel_task", http.MethodDelete, "/v1/tasks/{uuid}", "/v1/tasks/"+cancelled.String()+"?reason=no+longer+needed", nil)

	task, err := h.store.GetTask(h.ctx, stale)
	require.NoError(t, err)
	done, err := h.store.HandleStaleTask(h.ctx, store.StaleTask{
		TaskUUID: stale, Namespace: task.Namespace, TaskName: task.Name, State: task.State,
		MinutesInState: 45, ThresholdMinutes: 30, CorrelationID: task.CorrelationID, RequestedAt: task.RequestedAt,
		CreatedAt: task.CreatedAt,
	}, store.StaleAction{DLQ: true, Fail: true})
	require.NoError(t, err)
	require.True(t, done)

	record("list_tasks", http.MethodGet, "/v1/tasks", "/v1/tasks?namespace=contract&per_page=3&page=2", nil)
	record("list_tasks_by_status", http.MethodGet, "/v1/tasks", "/v1/tasks?status=error&status=cancelled", nil)
	record("list_dlq", http.MethodGet, "/v1/dlq", "/v1/dlq", nil)
	res := record("dlq_for_task", http.MethodGet, "/v1/dlq/task/{task_uuid}", "/v1/dlq/task/"+stale.String(), nil)
	var entry struct {
		ID uuid.UUID `json:"dlq_entry_uuid"`
	}
	res.json(t, &entry)
	record("dlq_stats", http.MethodGet, "/v1/dlq/stats", "/v1/dlq/stats", nil)
	record("staleness", http.MethodGet, "/v1/dlq/staleness", "/v1/dlq/staleness", nil)
	record("investigation_queue", http.MethodGet, "/v1/dlq/investigation-queue", "/v1/dlq/investigation-queue", nil)
	record("task_summary_dlq", http.MethodGet, "/v1/tasks/{uuid}/summary", "/v1/tasks/"+stale.String()+"/summary", nil)
	record("update_dlq", http.MethodPatch, "/v1/dlq/entry/{dlq_entry_uuid}", "/v1/dlq/entry/"+entry.ID.String(),
		map[string]any{"resolution_status": "manually_resolved", "resolution_notes": "fixed by hand",
			"resolved_by": "ops", "metadata": map[string]any{"ticket": "OPS-1"}})
	record("list_dlq_resolved", http.MethodGet, "/v1/dlq", "/v1/dlq?resolution_status=manually_resolved", nil)
	record("dlq_stats_resolved", http.MethodGet, "/v1/dlq/stats", "/v1/dlq/stats", nil)

	record("reset_step", http.MethodPatch, "/v1/tasks/{uuid}/workflow_steps/{step_uuid}",
		stepPath(failed[0], stepID(failed[0], "second")),
		map[string]any{"action_type": "reset_for_retry", "reason": "flaky", "reset_by": "ops"})
	record("resolve_step", http.MethodPatch, "/v1/tasks/{uuid}/workflow_steps/{step_uuid}",
		stepPath(failed[1], stepID(failed[1], "second")),
		map[string]any{"action_type": "resolve_manually", "reason": "done elsewhere", "resolved_by": "ops"})
	record("complete_step", http.MethodPatch, "/v1/tasks/{uuid}/workflow_steps/{step_uuid}",
		stepPath(failed[2], stepID(failed[2], "second")),
		map[string]any{"action_type": "complete_manually", "reason": "computed by hand", "completed_by": "ops",
			"completion_data": map[string]any{"result": map[string]any{"value": 42}, "metadata": map[string]any{"ticket": "OPS-2"}}})

	record("list_templates", http.MethodGet, "/v1/templates", "/v1/templates", nil)
	record("get_template", http.MethodGet, "/v1/templates/{namespace}/{name}/{version}", "/v1/templates/contract/chain/1.0.0", nil)

	record("analytics_performance", http.MethodGet, "/v1/analytics/performance", "/v1/analytics/performance?hours=1", nil)
	record("analytics_bottlenecks", http.MethodGet, "/v1/analytics/bottlenecks",
		"/v1/analytics/bottlenecks?limit=5&min_executions=1", nil)
	record("config", http.MethodGet, "/config", "/config", nil)

	require.Eventually(t, h.core.IsLeader, 30*time.Second, 10*time.Millisecond)
	record("health", http.MethodGet, "/health", "/health", nil)
	record("health_live", http.MethodGet, "/health/live", "/health/live", nil)
	record("health_ready", http.MethodGet, "/health/ready", "/health/ready", nil)
	record("health_detailed", http.MethodGet, "/health/detailed", "/health/detailed", nil)

	record("error_not_found", http.MethodGet, "/v1/tasks/{uuid}", "/v1/tasks/"+uuid.NewString(), nil)
	record("error_bad_param", http.MethodGet, "/v1/tasks", "/v1/tasks?per_page=0", nil)
	record("error_bad_body", http.MethodPost, "/v1/tasks", "/v1/tasks",
		map[string]any{"namespace": "contract", "name": "chain", "priority": "high", "colour": "red"})
	record("error_conflict", http.MethodPost, "/v1/tasks", "/v1/tasks", map[string]any{
		"namespace": "contract", "name": "chain", "context": map[string]any{}, "idempotency_key": "ok"})
	record("error_method_not_allowed", http.MethodPut, "/v1/tasks", "/v1/tasks", nil)
	record("error_no_route", http.MethodGet, "/v2/tasks", "/v2/tasks", nil)
	record("openapi", http.MethodGet, "/api-docs/openapi.json", "/api-docs/openapi.json", nil)

	dir := filepath.Join("testdata", "contract")
	if *update {
		require.NoError(t, os.RemoveAll(dir))
		require.NoError(t, os.MkdirAll(dir, 0o755))
	}
	names := map[string]bool{}
	for _, ex := range got {
		require.False(t, names[ex.name], "two exchanges named %s", ex.name)
		names[ex.name] = true
		path := filepath.Join(dir, ex.name+".json")
		rec := goldenOf(t, ex)
		if *update {
			require.NoError(t, os.WriteFile(path, rec, 0o644))
			continue
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "no golden file for %s: run go test -run TestWireContract -update ./orchestration/web/", ex.name)
		require.Equal(t, string(want), string(rec), "%s %s (%s) changed on the wire", ex.method, ex.route, path)
	}
	if !*update {
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		require.NoError(t, err)
		require.Len(t, files, len(got), "golden files without an exchange: run with -update")
	}
	for _, ex := range got {
		requireClientDecodes(t, ex)
		requireCoreClientDecodes(t, ex)
	}
}

// clientTypes names the type of package client that decodes each
// exchange's body (errors decode into the envelope, api.ErrorResponse).
var clientTypes = map[string]func() any{
	"create_task": func() any { return new(client.Task) }, "get_task": func() any { return new(client.Task) },
	"get_task_error": func() any { return new(client.Task) }, "get_task_in_progress": func() any { return new(client.Task) },
	"cancel_task": func() any { return new(client.Task) }, "list_tasks": func() any { return new(client.TaskList) },
	"list_tasks_by_status": func() any { return new(client.TaskList) },
	"list_steps":           func() any { return new([]client.Step) }, "get_step": func() any { return new(client.Step) },
	"reset_step": func() any { return new(client.Step) }, "resolve_step": func() any { return new(client.Step) },
	"complete_step": func() any { return new(client.Step) }, "step_audit": func() any { return new([]client.AuditEntry) },
	"step_audit_failure": func() any { return new([]client.AuditEntry) },
	"list_templates":     func() any { return new(client.TemplateList) }, "get_template": func() any { return new(client.Template) },
	"list_dlq": func() any { return new([]client.DLQEntry) }, "list_dlq_resolved": func() any { return new([]client.DLQEntry) },
	"dlq_for_task": func() any { return new(client.DLQEntry) }, "dlq_stats": func() any { return new([]client.DLQStat) },
	"dlq_stats_resolved": func() any { return new([]client.DLQStat) }, "update_dlq": func() any { return new(client.DLQUpdateResult) },
	"staleness": func() any { return new([]client.StaleTask) }, "health": func() any { return new(client.Health) },
	"health_live": func() any { return new(client.Health) }, "health_ready": func() any { return new(client.Health) },
	"health_detailed": func() any { return new(client.DetailedHealth) },
	"error_not_found": func() any { return new(api.ErrorResponse) }, "error_bad_param": func() any { return new(api.ErrorResponse) },
	"error_bad_body": func() any { return new(api.ErrorResponse) }, "error_conflict": func() any { return new(api.ErrorResponse) },
	"error_method_not_allowed": func() any { return new(api.ErrorResponse) },
	"task_summary":             func() any { return new(client.TaskSummary) },
	"task_domain_events":       func() any { return new([]api.DomainEvent) },
	"task_summary_dlq":         func() any { return new(client.TaskSummary) },
	"investigation_queue":      func() any { return new([]client.InvestigationEntry) },
	"analytics_performance":    func() any { return new(client.PerformanceMetrics) },
	"analytics_bottlenecks":    func() any { return new(client.BottleneckAnalysis) },
	"config":                   func() any { return new(client.Config) },
	"error_no_route":           func() any { return new(api.ErrorResponse) },
}

// requireClientDecodes decodes an exchange's body strictly (unknown fields
// are errors) into the client's type for it: the client knows every field
// the server sends. The events stream's frames decode into api.TaskEvent
// and api.TaskEndEvent, as client.Follow decodes them.
func requireClientDecodes(t *testing.T, ex exchange) {
	t.Helper()
	strict := func(data []byte, into any) {
		t.Helper()
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(into), "%s: the client's %T does not take %s", ex.name, into, data)
		require.False(t, dec.More(), ex.name)
	}
	switch {
	case ex.name == "openapi":
	case ex.name == "task_events":
		frames := 0
		for f := range strings.SplitSeq(strings.TrimSpace(string(ex.res.body)), "\n\n") {
			var event, data string
			for line := range strings.SplitSeq(f, "\n") {
				if v, ok := strings.CutPrefix(line, "event: "); ok {
					event = v
				}
				if v, ok := strings.CutPrefix(line, "data: "); ok {
					data = v
				}
			}
			switch event {
			case "task", "step":
				strict([]byte(data), new(api.TaskEvent))
			case "end":
				strict([]byte(data), new(api.TaskEndEvent))
			}
			frames++
		}
		require.Positive(t, frames)
	default:
		mk, ok := clientTypes[ex.name]
		require.True(t, ok, "no client type for exchange %s: add it to clientTypes", ex.name)
		strict(ex.res.body, mk())
	}
}

// startDriver is harness.drive with a stop function.
func startDriver(h *harness, ns string, script func(cs store.ClaimedStep) outcome) func() {
	d := &driver{h: h, ns: ns, script: script}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	go func() { defer close(done); d.loop(ctx) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done; d.wg.Wait() }) }
	h.t.Cleanup(stop)
	return stop
}

// goldenOf renders an exchange: status, content type and the body with
// volatile values replaced (see normalizer).
func goldenOf(t *testing.T, ex exchange) []byte {
	t.Helper()
	n := &normalizer{uuids: map[string]int{}}
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\n  \"request\": %q,\n  \"status\": %d,\n  \"content_type\": %q,\n  \"body\": ",
		ex.method+" "+ex.route, ex.res.status, ex.res.header.Get("Content-Type"))
	if strings.HasPrefix(ex.res.header.Get("Content-Type"), "text/event-stream") {
		b.WriteString("[")
		frames := strings.Split(strings.TrimSpace(string(ex.res.body)), "\n\n")
		sep := "\n"
		for _, f := range frames {
			var event, data string
			for line := range strings.SplitSeq(f, "\n") {
				switch {
				case strings.HasPrefix(line, "event: "):
					event = strings.TrimPrefix(line, "event: ")
				case strings.HasPrefix(line, "data: "):
					data = strings.TrimPrefix(line, "data: ")
				}
			}
			if event == "" {
				continue // a heartbeat
			}
			fmt.Fprintf(&b, "%s    {\"event\": %q, \"data\": ", sep, event)
			require.NoError(t, n.write(&b, []byte(data), "      "), "event data: %s", data)
			b.WriteString("}")
			sep = ",\n"
		}
		b.WriteString("\n  ]\n}\n")
		return b.Bytes()
	}
	require.NoError(t, n.write(&b, ex.res.body, "  "), "body: %s", ex.res.body)
	b.WriteString("\n}\n")
	return b.Bytes()
}

var (
	uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)
	// naiveTimeRE is a timestamp without a time zone (api.NaiveTime),
	// recorded as "<naive-time>" so that the golden files keep the format.
	naiveTimeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$`)
)

// volatileNumbers are the keys whose numeric values depend on timing or
// on the machine: they are recorded as "<number>".
var volatileNumbers = map[string]bool{
	"id": true, "duration_ms": true, "uptime_seconds": true, "oldest_message_age_seconds": true,
	"time_in_state_minutes": true, "time_in_state_seconds": true, "task_age_minutes": true, "execution_time_ms": true,
	"avg_resolution_time_minutes": true, "total_connections": true, "acquired_connections": true,
	"idle_connections": true, "constructing_connections": true, "utilization": true, "acquire_count": true,
	"empty_acquire_count": true, "canceled_acquire_count": true, "acquire_wait_ms_total": true,
	"average_task_duration_seconds": true, "average_step_duration_seconds": true, "average_duration_seconds": true,
	"max_duration_seconds": true, "minutes_in_dlq": true, "priority_score": true, "database_pool_utilization": true,
}

// opaqueKeys are objects recorded as "<opaque>": the effective
// configuration of GET /config names the test's own database schema, and
// the vacuum check of /health/detailed depends on the server's autovacuum
// setting.
var opaqueKeys = map[string]bool{"config": true, "vacuum": true}

// opaqueStrings are keys whose string values are opaque tokens made of
// volatile parts (a task list cursor holds a creation time).
var opaqueStrings = map[string]bool{"next_cursor": true, "previous_cursor": true}

// normalizer rewrites a JSON document keeping its key order and number
// spelling: a string that is a timestamp becomes "<time>", every UUID
// (also inside strings) becomes "<uuid-N>" numbered by first appearance, so
// that equal ids stay equal, and the numbers of volatileNumbers become
// "<number>".
type normalizer struct {
	uuids map[string]int
}

func (n *normalizer) write(b *bytes.Buffer, data []byte, indent string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := n.value(b, dec, "", indent); err != nil {
		return err
	}
	if _, err := dec.Token(); err == nil {
		return fmt.Errorf("trailing data")
	}
	return nil
}

func (n *normalizer) value(b *bytes.Buffer, dec *json.Decoder, key, indent string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		if opaqueKeys[key] && v == '{' {
			depth := 1
			for depth > 0 {
				t, err := dec.Token()
				if err != nil {
					return err
				}
				switch t {
				case json.Delim('{'), json.Delim('['):
					depth++
				case json.Delim('}'), json.Delim(']'):
					depth--
				}
			}
			b.WriteString(`"<opaque>"`)
			return nil
		}
		closing := "}"
		if v == '[' {
			closing = "]"
		}
		b.WriteString(string(v))
		first := true
		for dec.More() {
			if !first {
				b.WriteString(",")
			}
			first = false
			b.WriteString("\n" + indent + "  ")
			childKey := key
			if v == '{' {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				childKey = kt.(string)
				k, _ := json.Marshal(childKey)
				b.Write(k)
				b.WriteString(": ")
			}
			if err := n.value(b, dec, childKey, indent+"  "); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		if !first {
			b.WriteString("\n" + indent)
		}
		b.WriteString(closing)
	case string:
		s := v
		if opaqueStrings[key] {
			s = "<opaque>"
		} else if timeRE.MatchString(s) {
			s = "<time>"
		} else if naiveTimeRE.MatchString(s) {
			s = "<naive-time>"
		} else {
			s = uuidRE.ReplaceAllStringFunc(s, func(u string) string {
				id, ok := n.uuids[u]
				if !ok {
					id = len(n.uuids) + 1
					n.uuids[u] = id
				}
				return fmt.Sprintf("<uuid-%d>", id)
			})
		}
		enc := json.NewEncoder(b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			return err
		}
		b.Truncate(b.Len() - 1) // Encode's newline
	case json.Number:
		if volatileNumbers[key] {
			b.WriteString(`"<number>"`)
		} else {
			b.WriteString(v.String())
		}
	case bool:
		fmt.Fprint(b, v)
	case nil:
		b.WriteString("null")
	}
	return nil
}

// TestTerminalStatusMatchesStateMachine: the API's list of final task
// statuses (api.TerminalStatus, which clients use) is the state machine's.
func TestTerminalStatusMatchesStateMachine(t *testing.T) {
	for _, s := range state.TaskStates {
		require.Equal(t, s.Terminal(), api.TerminalStatus(string(s)), s)
	}
}
