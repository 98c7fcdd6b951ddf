package worker

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/template"
)

func get(t *testing.T, srv *httptest.Server, path string) (int, []byte) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

func decode(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m), string(body))
	return m
}

func TestRESTEndpoints(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: api_demo
namespace_name: api_ns
version: "1.2.3"
description: for the API test
steps:
  - {name: one, handler: {callable: api.one}}
  - {name: two, dependencies: [one], handler: {callable: api.two}}
`)
	reg := NewRegistry()
	handle(t, reg, "api.one", noop)
	handle(t, reg, "api.two", func(context.Context, *Step[struct{}]) (any, error) {
		return nil, Permanent(errors.New("no"))
	})
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg})
	srv := httptest.NewServer(c.HTTPHandler())
	t.Cleanup(srv.Close)
	h.orchestrate()
	tk := h.createTask(tpl, `{}`)
	h.waitFor("both steps", func() bool { return c.Stats().Recorded == 2 })
	_ = tk

	code, body := get(t, srv, "/health")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "healthy", decode(t, body)["status"])
	code, body = get(t, srv, "/health/live")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, c.WorkerID(), decode(t, body)["worker_id"])
	code, body = get(t, srv, "/health/ready")
	require.Equal(t, http.StatusOK, code, string(body))
	require.Equal(t, "ready", decode(t, body)["status"])

	code, body = get(t, srv, "/health/detailed")
	require.Equal(t, http.StatusOK, code)
	d := decode(t, body)
	require.Equal(t, "healthy", d["status"])
	require.Equal(t, []any{"api_ns"}, d["namespaces"])
	require.EqualValues(t, 2, d["stats"].(map[string]any)["recorded"])
	require.EqualValues(t, 8, d["concurrency"].(map[string]any)["limit"])
	require.Equal(t, "ok", d["database"].(map[string]any)["status"])
	require.NotNil(t, d["database"].(map[string]any)["pool"])
	queues := d["queues"].([]any)
	require.Len(t, queues, 1)
	require.Equal(t, "worker_api_ns_queue", queues[0].(map[string]any)["queue"])

	code, body = get(t, srv, "/metrics")
	require.Equal(t, http.StatusOK, code)
	text := string(body)
	for _, want := range []string{
		`tasker_worker_steps_claimed_total{namespace="api_ns"`,
		`tasker_worker_steps_completed_total{namespace="api_ns"`,
		`tasker_worker_steps_failed_total{error_type="PermanentError",namespace="api_ns"`,
		`tasker_worker_handler_duration_seconds_bucket`,
		`tasker_worker_steps_in_flight`,
		`tasker_worker_concurrency_limit`,
		`tasker_worker_completion_batch_size_count`,
	} {
		require.True(t, strings.Contains(text, want), "metrics lack %s", want)
	}

	code, body = get(t, srv, "/v1/templates")
	require.Equal(t, http.StatusOK, code)
	tl := decode(t, body)
	require.EqualValues(t, 1, tl["total_count"])
	first := tl["templates"].([]any)[0].(map[string]any)
	require.Equal(t, "api_demo", first["name"])
	require.Equal(t, "1.2.3", first["version"])
	require.EqualValues(t, 2, first["step_count"])
	require.Equal(t, []any{"api.one", "api.two"}, first["handlers"])
	code, body = get(t, srv, "/v1/templates?namespace=other")
	require.Equal(t, http.StatusOK, code)
	require.EqualValues(t, 0, decode(t, body)["total_count"])

	code, body = get(t, srv, "/v1/templates/api_ns/api_demo/1.2.3")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "for the API test", decode(t, body)["description"])
	code, body = get(t, srv, "/v1/templates/api_ns/api_demo/9.9.9")
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, "NOT_FOUND", decode(t, body)["error"].(map[string]any)["code"])
	code, body = get(t, srv, "/nope")
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, "NOT_FOUND", decode(t, body)["error"].(map[string]any)["code"])
	resp, err := srv.Client().Post(srv.URL+"/health", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

// TestReadyFailsWhenDatabaseIsGone: /health/ready answers 503 with an error
// envelope once the database stops answering (here: the pool is closed),
// and when the worker is not running.
func TestReadyFailsWhenDatabaseIsGone(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: ready
namespace_name: ready_ns
version: "1"
steps: [{name: one, handler: {callable: ready.one}}]
`)
	c := h.buildCore(coreSpec{templates: []*template.Template{tpl}})
	srv := httptest.NewServer(c.HTTPHandler())
	t.Cleanup(srv.Close)
	code, body := get(t, srv, "/health/ready")
	require.Equal(t, http.StatusServiceUnavailable, code, "not started yet")
	require.Equal(t, "SERVICE_UNAVAILABLE", decode(t, body)["error"].(map[string]any)["code"])

	require.NoError(t, c.Start(h.ctx))
	code, _ = get(t, srv, "/health/ready")
	require.Equal(t, http.StatusOK, code)

	h.pool.Close()
	code, body = get(t, srv, "/health/ready")
	require.Equal(t, http.StatusServiceUnavailable, code)
	e := decode(t, body)["error"].(map[string]any)
	require.Equal(t, "SERVICE_UNAVAILABLE", e["code"])
	require.Contains(t, e["message"], "database")
	code, body = get(t, srv, "/health/detailed")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "degraded", decode(t, body)["status"])
	require.NoError(t, c.Stop(h.ctx))
}

// TestRESTRejectsBadInput: the edge rule answers 400 naming the parameter
// for NUL characters and invalid UTF-8 in path segments and query
// parameters, and 431 in the envelope for oversized headers.
func TestRESTRejectsBadInput(t *testing.T) {
	h := newHarness(t)
	c := h.buildCore(coreSpec{})
	srv := httptest.NewServer(c.HTTPHandler())
	t.Cleanup(srv.Close)
	for path, param := range map[string]string{
		"/v1/templates/a%00/b/1":      "namespace",
		"/v1/templates/a/%ff/1":       "name",
		"/v1/templates/a/b/%ed%a0%80": "version",
		"/v1/templates?namespace=%00": "namespace",
		"/v1/templates?namespace=%ff": "namespace",
		"/health?verbose=x%00":        "verbose",
		"/health/ready?p=%zz":         "p",
		"/metrics?name%00=1":          "name\x00",
		"/nowhere%00":                 "path",
	} {
		code, body := get(t, srv, path)
		require.Equal(t, http.StatusBadRequest, code, "%s: %s", path, body)
		e := decode(t, body)["error"].(map[string]any)
		require.Equal(t, "BAD_REQUEST", e["code"], path)
		details := e["details"].([]any)
		require.Len(t, details, 1, path)
		require.Equal(t, param, details[0].(map[string]any)["parameter"], path)
	}

	req, err := http.NewRequestWithContext(h.ctx, http.MethodGet, srv.URL+"/health", nil)
	require.NoError(t, err)
	req.Header.Set("X-Padding", strings.Repeat("p", 100<<10))
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
	require.Equal(t, "HEADERS_TOO_LARGE", decode(t, body)["error"].(map[string]any)["code"])
}
