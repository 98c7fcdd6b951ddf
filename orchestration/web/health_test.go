package web_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/orchestration/server"
	"github.com/tasker-go/tasker/orchestration/web"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	h.createTask(tpl, input) // leaves a message in the worker queue

	for path, want := range map[string]string{"/health": "healthy", "/health/live": "alive", "/health/ready": "ready"} {
		res := h.do(http.MethodGet, path, nil)
		require.Equal(t, http.StatusOK, res.status, path)
		var hr api.HealthResponse
		res.json(t, &hr)
		require.Equal(t, want, hr.Status, path)
		require.Equal(t, "test", hr.Version)
	}
	res := h.do(http.MethodGet, "/health/detailed", nil)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var d api.DetailedHealthResponse
	res.json(t, &d)
	// No worker serves the waiting step's callable: it is reported and
	// the status is degraded.
	require.Equal(t, "degraded", d.Status)
	require.Equal(t, "degraded", d.Checks[api.CheckUnservedSteps].Status)
	require.Len(t, d.UnservedSteps, 1)
	first := tpl.Steps[0].Handler.Callable
	require.Equal(t, tpl.NamespaceName, d.UnservedSteps[0].Namespace)
	require.Equal(t, first, d.UnservedSteps[0].Callable)
	require.EqualValues(t, 1, d.UnservedSteps[0].Steps)
	metrics := string(h.do(http.MethodGet, "/metrics", nil).body)
	require.Contains(t, metrics, `tasker_unserved_steps{callable="`+first+`",namespace="`+tpl.NamespaceName+`"} 1`)

	// A live worker that has the handler serves it: healthy again. (A
	// registered worker whose process is gone, its liveness lock free,
	// serves nothing.)
	key, err := store.NewLivenessKey()
	require.NoError(t, err)
	other, err := store.NewLivenessKey()
	require.NoError(t, err)
	require.NoError(t, h.store.RegisterWorker(h.ctx, store.WorkerRegistration{Lock: other, WorkerID: "gone",
		Namespaces: []string{tpl.NamespaceName}, Callables: []string{first}}))
	res = h.do(http.MethodGet, "/health/detailed", nil)
	res.json(t, &d)
	require.Len(t, d.UnservedSteps, 1, "a worker without its liveness lock serves nothing")
	live, err := h.store.HoldLiveness(h.ctx, key)
	require.NoError(t, err)
	defer func() { require.NoError(t, live.Close(h.ctx)) }()
	require.NoError(t, h.store.RegisterWorker(h.ctx, store.WorkerRegistration{Lock: key, WorkerID: "live",
		Namespaces: []string{tpl.NamespaceName}, Callables: []string{"Something::Else", first}}))
	res = h.do(http.MethodGet, "/health/detailed", nil)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	d = api.DetailedHealthResponse{}
	res.json(t, &d)
	require.Equal(t, "healthy", d.Status)
	require.Equal(t, "healthy", d.Checks[api.CheckUnservedSteps].Status)
	require.Empty(t, d.UnservedSteps)
	require.NotNil(t, d.UnservedSteps, "an empty list, not null")
	require.Equal(t, "healthy", d.Checks["database"].Status)
	require.Equal(t, "healthy", d.Checks["queues"].Status)
	require.Positive(t, d.Pool.MaxConns)
	queues := map[string]api.QueueHealth{}
	for _, q := range d.Queues {
		queues[q.Queue] = q
	}
	require.Contains(t, queues, "orchestration_step_results")
	require.Contains(t, queues, "orchestration_task_requests")
	worker := queues["worker_"+tpl.NamespaceName+"_queue"]
	require.EqualValues(t, 1, worker.Depth)
	require.Equal(t, "ok", worker.Status)
	require.Contains(t, d.Checks, api.CheckVacuum)

	// A table of ours whose autovacuum is disabled is a warning naming it;
	// the service stays healthy.
	_, err = h.core.Store().Pool().Exec(h.ctx, `ALTER TABLE workflow_steps SET (autovacuum_enabled = false)`)
	require.NoError(t, err)
	res = h.do(http.MethodGet, "/health/detailed", nil)
	require.Equal(t, http.StatusOK, res.status)
	res.json(t, &d)
	require.Equal(t, "healthy", d.Status)
	require.Equal(t, "warning", d.Checks[api.CheckVacuum].Status)
	require.Contains(t, d.Checks[api.CheckVacuum].Message, "autovacuum is disabled on workflow_steps")
	// The leader flag reflects the Core (a lone instance becomes leader).
	require.Eventually(t, h.core.IsLeader, 10*time.Second, 10*time.Millisecond)
	res = h.do(http.MethodGet, "/health/detailed", nil)
	res.json(t, &d)
	require.True(t, d.Leader)
}

// TestHealthWithoutDatabase serves a service (not started) whose pool is
// closed.
func TestHealthWithoutDatabase(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cfg := config.Default(config.ContextOrchestration)
	cfg.Database.URL, cfg.Database.Schema = h.db.URL, h.db.Schema
	cfg.Database.Pool.MaxConnections, cfg.Database.Pool.MinConnections = 2, 0
	svc, err := server.Open(h.ctx, server.OpenOptions{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ts := httptest.NewServer(svc.Handler())
	defer ts.Close()
	defer func() { require.NoError(t, svc.Stop(h.ctx)) }()
	svc.Infra().Pool.Close()

	get := func(path string) response {
		res, err := ts.Client().Get(ts.URL + path)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return response{status: res.StatusCode, header: res.Header, body: b}
	}
	res := get("/health/ready")
	require.Equal(t, http.StatusServiceUnavailable, res.status)
	var hr api.HealthResponse
	res.json(t, &hr)
	require.Equal(t, "not_ready", hr.Status)
	require.Equal(t, "unhealthy", hr.Checks["database"].Status)
	res = get("/health/detailed")
	require.Equal(t, http.StatusServiceUnavailable, res.status)
	require.Equal(t, http.StatusOK, get("/health/live").status)
	get("/v1/tasks").requireError(t, http.StatusServiceUnavailable, web.CodeServiceUnavailable)
	// No listener: no live events.
	require.Equal(t, http.StatusServiceUnavailable, get("/v1/tasks/0195d1d8-0000-7000-8000-000000000000/events").status)
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	h.drive(tpl.NamespaceName, succeed)
	tr := h.createTask(tpl, input)
	h.waitState(tr.TaskUUID, state.TaskComplete)

	// The task is visible as complete the moment its transaction commits;
	// the processor records the metric just after.
	var text string
	require.Eventually(t, func() bool {
		res := h.do(http.MethodGet, "/metrics", nil)
		require.Equal(t, http.StatusOK, res.status)
		text = string(res.body)
		return strings.Contains(text, `tasker_tasks_finished_total{state="complete"} 1`)
	}, 10*time.Second, 20*time.Millisecond)
	for _, series := range []string{
		`tasker_tasks{state="complete"} 1`,
		`tasker_tasks{state="error"} 0`,
		`tasker_steps{state="complete"} 4`,
		`tasker_queue_depth{queue="orchestration_step_results"}`,
		`tasker_queue_depth{queue="worker_` + tpl.NamespaceName + `_queue"}`,
		`tasker_queue_oldest_message_age_seconds{queue="orchestration_task_requests"}`,
		`tasker_queue_visible_messages{queue=`,
		`tasker_db_pool_connections{state="max"} 16`,
		`tasker_db_pool_acquires_total`,
		`tasker_orchestration_leader`,
		`tasker_tasks_created_total{namespace="` + tpl.NamespaceName + `"} 1`, // the Core's registry
		`tasker_tasks_finished_total{state="complete"} 1`,
		`tasker_http_requests_total{method="POST",route="/v1/tasks",status="201"} 1`,
		`tasker_http_request_duration_seconds_bucket{method="GET",route="/v1/tasks/{uuid}"`,
	} {
		require.Contains(t, text, series)
	}
}

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	res := h.do(http.MethodGet, "/api-docs/openapi.json", nil)
	require.Equal(t, http.StatusOK, res.status)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
		Comps   struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	res.json(t, &doc)
	require.NotEmpty(t, doc.OpenAPI)
	want := map[string][]string{
		"/v1/tasks":                                         {"get", "post"},
		"/v1/tasks/{uuid}":                                  {"get", "delete"},
		"/v1/tasks/{uuid}/workflow_steps":                   {"get"},
		"/v1/tasks/{uuid}/workflow_steps/{step_uuid}":       {"get", "patch"},
		"/v1/tasks/{uuid}/workflow_steps/{step_uuid}/audit": {"get"},
		"/v1/tasks/{uuid}/events":                           {"get"},
		"/v1/templates":                                     {"get"},
		"/v1/templates/{namespace}/{name}/{version}":        {"get"},
		"/v1/dlq":                        {"get"},
		"/v1/dlq/task/{task_uuid}":       {"get"},
		"/v1/dlq/entry/{dlq_entry_uuid}": {"patch"},
		"/v1/dlq/stats":                  {"get"},
		"/v1/dlq/staleness":              {"get"},
		"/health":                        {"get"},
		"/health/live":                   {"get"},
		"/health/ready":                  {"get"},
		"/health/detailed":               {"get"},
	}
	for path, methods := range want {
		require.Contains(t, doc.Paths, path)
		for _, m := range methods {
			require.Contains(t, doc.Paths[path], m, "%s %s", m, path)
		}
	}
	for _, name := range []string{"ErrorResponse", "TaskRequest", "TaskResponse", "StepActionRequest", "DLQUpdateRequest"} {
		require.Contains(t, doc.Comps.Schemas, name)
	}
	require.NotContains(t, doc.Comps.Schemas, "ErrorModel", "every error is documented as the envelope")
	var post struct {
		RequestBody struct {
			Content map[string]struct {
				Schema struct {
					Ref string `json:"$ref"`
				} `json:"schema"`
			} `json:"content"`
		} `json:"requestBody"`
		Responses map[string]json.RawMessage `json:"responses"`
	}
	require.NoError(t, json.Unmarshal(doc.Paths["/v1/tasks"]["post"], &post))
	require.Equal(t, "#/components/schemas/TaskRequest", post.RequestBody.Content["application/json"].Schema.Ref)
	for _, code := range []string{"201", "400", "404", "409", "413", "503"} {
		require.Contains(t, post.Responses, code)
	}
}
