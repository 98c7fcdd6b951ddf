package worker

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/corecompat"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/template"
)

// TestCoreClientDecodesWorkerAPI decodes every answer of the worker's HTTP
// API as tasker-core's WorkerApiClient would (corecompat.Check), and checks
// what the new endpoints say.
func TestCoreClientDecodesWorkerAPI(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: compat_demo
namespace_name: compat_ns
version: "1.0.0"
description: for the compatibility test
input_schema: {type: object, properties: {n: {type: integer}}}
steps:
  - {name: one, handler: {callable: compat.one}, retry: {retryable: true, max_attempts: 2}}
  - {name: two, dependencies: [one], handler: {callable: compat.two}}
`)
	missing := parseTemplate(t, `name: compat_missing
namespace_name: compat_ns
version: "1.0.0"
steps: [{name: lone, handler: {callable: compat.nobody}}]
`)
	reg := NewRegistry()
	handle(t, reg, "compat.one", noop)
	handle(t, reg, "compat.two", noop)
	c := h.newCore(coreSpec{templates: []*template.Template{tpl, missing}, registry: reg})
	c.opts.Environment = "test"
	srv := httptest.NewServer(c.HTTPHandler())
	t.Cleanup(srv.Close)
	h.orchestrate()
	h.createTask(tpl, `{"n": 1}`)
	h.waitFor("both steps", func() bool { return c.Stats().Recorded == 2 })

	decodes := func(method, path string, into any) []byte {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), method, srv.URL+path, nil)
		require.NoError(t, err)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s %s: %s", method, path, body)
		require.NoError(t, corecompat.Check(body, into), "%s %s", method, path)
		return body
	}

	decodes(http.MethodGet, "/health", new(corecompat.BasicHealthResponse))
	decodes(http.MethodGet, "/health/live", new(corecompat.BasicHealthResponse))
	var ready corecompat.WorkerReadinessResponse
	decodes(http.MethodGet, "/health/ready", &ready)
	require.Equal(t, "healthy", ready.Checks.Database.Status)
	require.Equal(t, []string{"compat_ns"}, ready.SystemInfo.SupportedNamespaces)
	var detailed corecompat.WorkerDetailedHealthResponse
	decodes(http.MethodGet, "/health/detailed", &detailed)
	require.Equal(t, "healthy", detailed.Checks.QueueProcessing.Status)
	require.Equal(t, "test", detailed.SystemInfo.Environment)

	var list corecompat.WorkerTemplateListResponse
	decodes(http.MethodGet, "/v1/templates", &list)
	require.EqualValues(t, 2, list.TemplateCount)
	require.Equal(t, []string{"compat_ns"}, list.SupportedNamespaces)
	require.Equal(t, []string{"compat.one", "compat.two"}, list.WorkerCapabilities)
	decodes(http.MethodGet, "/v1/templates?namespace=compat_ns&include_cache_stats=true", new(corecompat.WorkerTemplateListResponse))

	var one corecompat.WorkerTemplateResponse
	body := decodes(http.MethodGet, "/v1/templates/compat_ns/compat_demo/1.0.0", &one)
	require.Equal(t, "compat_demo", one.Template.Template.Name)
	require.Len(t, one.Template.Template.Steps, 2)
	require.EqualValues(t, 2, one.Template.Template.Steps[0].Retry.MaxAttempts)
	require.Equal(t, "compat.one", one.HandlerMetadata.HandlerClass)
	require.NotNil(t, one.HandlerMetadata.ConfigSchema)
	require.Contains(t, string(body), `"namespace_name":"compat_ns"`, "the template's own fields stay at the top level")

	var valid corecompat.TemplateValidationResponse
	decodes(http.MethodPost, "/v1/templates/compat_ns/compat_demo/1.0.0/validate", &valid)
	require.True(t, valid.Valid, "%v", valid.Errors)
	require.Equal(t, []string{"compat.one", "compat.two"}, valid.StepHandlers)
	var invalid corecompat.TemplateValidationResponse
	decodes(http.MethodPost, "/v1/templates/compat_ns/compat_missing/1.0.0/validate", &invalid)
	require.False(t, invalid.Valid)
	require.Len(t, invalid.Errors, 1)
	require.Contains(t, invalid.Errors[0], "compat.nobody")

	var metrics corecompat.MetricsResponse
	decodes(http.MethodGet, "/metrics/worker", &metrics)
	claimed, ok := metrics.Metrics["tasker_worker_steps_claimed_total{namespace=compat_ns}"]
	require.True(t, ok, "metrics: %v", metrics.Metrics)
	require.Equal(t, "counter", claimed.MetricType)
	require.InDelta(t, 2, claimed.Value, 0)
	decodes(http.MethodGet, "/metrics/events", new(corecompat.DomainEventStats))

	var cfg corecompat.WorkerConfigResponse
	decodes(http.MethodGet, "/config", &cfg)
	require.Equal(t, c.WorkerID(), cfg.WorkerID)
}

// TestWorkerConfigNeverShowsSecrets: the worker's GET /config redacts the
// passwords of the configuration it was given.
func TestWorkerConfigNeverShowsSecrets(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: secret
namespace_name: secret_ns
version: "1"
steps: [{name: one, handler: {callable: secret.one}}]
`)
	c := h.buildCore(coreSpec{templates: []*template.Template{tpl}})
	settings := config.Default(config.ContextWorker)
	settings.Database.URL = "postgres://tasker:db-s3cret@db.internal/tasker"
	settings.Queues.RabbitMQ.URL = "amqp://u:mq-s3cret@mq.internal/"
	c.opts.Settings = settings
	srv := httptest.NewServer(c.HTTPHandler())
	t.Cleanup(srv.Close)
	code, body := get(t, srv, "/config")
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, string(body), "db-s3cret")
	require.NotContains(t, string(body), "mq-s3cret")
	require.Contains(t, string(body), "db.internal")
	require.NoError(t, corecompat.Check(body, new(corecompat.WorkerConfigResponse)))
}
