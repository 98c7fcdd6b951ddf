package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/corecompat"
	"github.com/tasker-go/tasker/orchestration/web"
	"github.com/tasker-go/tasker/shared/config"
)

// coreTypes names the tasker-core client type (mirrored in package
// corecompat) that each TestWireContract exchange's body must decode into.
// Errors are read as text by that client; openapi and the event stream it
// does not read.
var coreTypes = map[string]func() any{
	"create_task": func() any { return new(corecompat.TaskResponse) }, "get_task": func() any { return new(corecompat.TaskResponse) },
	"get_task_error": func() any { return new(corecompat.TaskResponse) }, "get_task_in_progress": func() any { return new(corecompat.TaskResponse) },
	"cancel_task": func() any { return new(corecompat.TaskResponse) }, "list_tasks": func() any { return new(corecompat.TaskListResponse) },
	"list_tasks_by_status": func() any { return new(corecompat.TaskListResponse) },
	"list_steps":           func() any { return new([]corecompat.StepResponse) }, "get_step": func() any { return new(corecompat.StepResponse) },
	"reset_step": func() any { return new(corecompat.StepResponse) }, "resolve_step": func() any { return new(corecompat.StepResponse) },
	"complete_step":      func() any { return new(corecompat.StepResponse) },
	"step_audit":         func() any { return new([]corecompat.StepAuditResponse) },
	"step_audit_failure": func() any { return new([]corecompat.StepAuditResponse) },
	"list_templates":     func() any { return new(corecompat.TemplateListResponse) },
	"get_template":       func() any { return new(corecompat.TemplateDetail) },
	"list_dlq":           func() any { return new([]corecompat.DlqEntry) }, "list_dlq_resolved": func() any { return new([]corecompat.DlqEntry) },
	"dlq_for_task": func() any { return new(corecompat.DlqEntry) }, "dlq_stats": func() any { return new([]corecompat.DlqStats) },
	"dlq_stats_resolved":    func() any { return new([]corecompat.DlqStats) },
	"staleness":             func() any { return new([]corecompat.StalenessMonitoring) },
	"investigation_queue":   func() any { return new([]corecompat.DlqInvestigationQueueEntry) },
	"task_summary":          func() any { return new(corecompat.TaskSummaryResponse) },
	"task_summary_dlq":      func() any { return new(corecompat.TaskSummaryResponse) },
	"analytics_performance": func() any { return new(corecompat.PerformanceMetrics) },
	"analytics_bottlenecks": func() any { return new(corecompat.BottleneckAnalysis) },
	"config":                func() any { return new(corecompat.OrchestrationConfigResponse) },
	"health":                func() any { return new(corecompat.HealthResponse) }, "health_live": func() any { return new(corecompat.HealthResponse) },
	"health_ready":    func() any { return new(corecompat.HealthResponse) },
	"health_detailed": func() any { return new(corecompat.DetailedHealthResponse) },
}

// requireCoreClientDecodes decodes a successful exchange's body as
// tasker-core's client would (corecompat.Check). update_dlq's answer that
// client discards; tasker-core has no domain events route.
func requireCoreClientDecodes(t *testing.T, ex exchange) {
	t.Helper()
	if ex.res.status >= 300 || ex.name == "openapi" || ex.name == "task_events" || ex.name == "update_dlq" ||
		ex.name == "task_domain_events" {
		return
	}
	mk, ok := coreTypes[ex.name]
	require.True(t, ok, "no tasker-core client type for exchange %s: add it to coreTypes", ex.name)
	require.NoError(t, corecompat.Check(ex.res.body, mk()), "%s %s", ex.method, ex.route)
}

// TestCoreClientRequestsAccepted sends what tasker-core's client sends:
// a task request with a zone-less requested_at and null options, priority
// and parent_correlation_id; the step actions; a DLQ update with the
// status spelt as its enum variant. Each is accepted and its answer
// decodes into the client's type.
func TestCoreClientRequestsAccepted(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml")

	req := corecompat.NewTaskRequest(tpl.NamespaceName, tpl.Name, tpl.Version, corecompat.Value(`{"even_number": 6}`))
	req.RequestedAt = "2026-12-07T00:48:14.918472"
	res := h.do(http.MethodPost, "/v1/tasks", req)
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	var task corecompat.TaskResponse
	require.NoError(t, corecompat.Check(res.body, &task))
	require.NotEmpty(t, task.Steps)
	var ours struct {
		RequestedAt time.Time `json:"requested_at"`
	}
	res.json(t, &ours)
	require.Equal(t, time.Date(2026, 12, 7, 0, 48, 14, 918472000, time.UTC), ours.RequestedAt.UTC(),
		"a requested_at without a zone is UTC")

	id := uuid.MustParse(task.TaskUUID)
	res = h.do(http.MethodGet, "/v1/tasks/"+id.String()+"/summary", nil)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	require.NoError(t, corecompat.Check(res.body, new(corecompat.TaskSummaryResponse)))

	step := task.Steps[0].WorkflowStepUUID
	res = h.do(http.MethodPatch, "/v1/tasks/"+id.String()+"/workflow_steps/"+string(step),
		corecompat.ResolveManually("done elsewhere", "ops"))
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	require.NoError(t, corecompat.Check(res.body, new(corecompat.StepResponse)))
}

// TestRequestsStayStrict: leniency for what tasker-core's client sends does
// not let wrong values through.
func TestRequestsStayStrict(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	base := func() map[string]any {
		return map[string]any{"namespace": tpl.NamespaceName, "name": tpl.Name, "version": tpl.Version,
			"context": map[string]any{"even_number": 6}}
	}
	for ptr, bad := range map[string]any{
		"/requested_at": "yesterday", "/options": []any{1}, "/priority": 2.5,
		"/correlation_id": "not-a-uuid",
	} {
		body := base()
		body[strings.TrimPrefix(ptr, "/")] = bad
		res := h.do(http.MethodPost, "/v1/tasks", body)
		e := res.requireError(t, http.StatusBadRequest, "BAD_REQUEST")
		require.Contains(t, e.pointers(t), ptr, "%s", res.body)
	}
	body := base()
	body["requested_at"] = "2026-12-07 00:48:14+01"
	res := h.do(http.MethodPost, "/v1/tasks", body)
	res.requireError(t, http.StatusBadRequest, "BAD_REQUEST")
}

// TestConfigNeverShowsSecrets: passwords in the database and RabbitMQ URLs
// are redacted from GET /config.
func TestConfigNeverShowsSecrets(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cfg := config.Default(config.ContextOrchestration)
	cfg.Env = "production"
	cfg.Database.URL = "postgres://tasker:db-s3cret@db.internal:5432/tasker?sslpassword=key-s3cret"
	cfg.Queues.Backend = config.BackendRabbitMQ
	cfg.Queues.RabbitMQ.URL = "amqp://tasker:mq-s3cret@mq.internal:5672/"
	opts := h.webOpts
	opts.Settings = cfg
	srv, err := web.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop(h.ctx) })
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/config", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	body := rec.Body.String()
	for _, secret := range []string{"db-s3cret", "key-s3cret", "mq-s3cret"} {
		require.NotContains(t, body, secret)
	}
	require.Contains(t, body, "***")
	var out corecompat.OrchestrationConfigResponse
	require.NoError(t, corecompat.Check(rec.Body.Bytes(), &out))
	require.Equal(t, "production", out.Metadata.Environment)
	require.Equal(t, "rabbitmq", out.Messaging.Backend)
	var raw struct {
		Config json.RawMessage `json:"config"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &raw))
	require.Contains(t, string(raw.Config), "db.internal")
}
