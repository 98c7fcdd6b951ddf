package web_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var fuzzMethods = []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodPut}

// FuzzRequest feeds arbitrary methods, paths, query strings and bodies to the
// whole handler stack over a real database: whatever arrives, the answer is
// never a 5xx. The seeds run in every `go test`; `go test -fuzz FuzzRequest`
// explores further.
func FuzzRequest(f *testing.F) {
	h := newHarness(f)
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	task := h.createTask(tpl, input)
	step := task.Steps[0].StepUUID.String()
	id := task.TaskUUID.String()
	create := func(fields string) []byte {
		return []byte(`{"namespace": "` + tpl.NamespaceName + `", "name": "` + tpl.Name + `", "version": "` + tpl.Version + `"` + fields + `}`)
	}
	seeds := []struct {
		method      uint8
		path, query string
		body        []byte
	}{
		{0, "/v1/tasks", "", nil},
		{0, "/v1/tasks", "namespace=%00&name=%ff&status=pending,x", nil},
		{0, "/v1/tasks", "page=99999999999999999999&per_page=-1", nil},
		{0, "/v1/tasks/" + id, "", nil},
		{0, "/v1/tasks/" + id + "/workflow_steps/" + step + "/audit", "", nil},
		{0, "/v1/tasks/a\x00b", "", nil},
		{0, "/v1/templates/a\x00/b/1.0.0", "", nil},
		{0, "/v1/templates/\xff/\xfe/1", "namespace=%ed%a0%80", nil},
		{0, "/v1/templates", "namespace=a;b", nil},
		{0, "/v1/dlq", "resolution_status=%zz&limit=1e9", nil},
		{0, "/v1/dlq/staleness", "limit=0", nil},
		{0, "/health/detailed", "", nil},
		{0, "/metrics", "x=\x00", nil},
		{1, "/v1/tasks", "", create(`, "context": {"even_number": 6}`)},
		{1, "/v1/tasks", "", create(`, "context": {"even_number": 6, "k": "\u0000"}`)},
		{1, "/v1/tasks", "", create(`, "context": {"even_number": 1e999999}`)},
		{1, "/v1/tasks", "", create(`, "context": {"even_number": 6}, "tags": ["\ud800"]`)},
		{1, "/v1/tasks", "", create(`, "context": {"even_number": 6}, "reason": "\xff"`)},
		{1, "/v1/tasks", "", create(`, "context": {"even_number": 6}, "requested_at": "0001-01-01T00:00:00Z"`)},
		{1, "/v1/tasks", "", create(`, "context": {"even_number": 6}, "requested_at": "9999-12-31T23:59:59+14:00"`)},
		{1, "/v1/tasks", "", create(`, "context": {"even_number": 6}, "priority": 1e3`)},
		{1, "/v1/tasks", "", []byte(`{"namespace": "x", "name": "y"`)},
		{1, "/v1/tasks", "", []byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`)},
		{1, "/v1/tasks", "", []byte("\x00\x01")},
		{2, "/v1/tasks/" + id + "/workflow_steps/" + step, "", []byte(`{"action_type": "resolve_manually", "reason": "r", "resolved_by": "\u0000"}`)},
		{2, "/v1/tasks/" + id + "/workflow_steps/" + step, "", []byte(`{"action_type": "complete_manually", "reason": "r", "completed_by": "o", "completion_data": {"result": 1e-99999}}`)},
		{2, "/v1/dlq/entry/" + id, "", []byte(`{"metadata": {"a": "\udc00"}}`)},
		{3, "/v1/tasks/" + id, "reason=%00", nil},
		{4, "/v1/tasks", "", []byte(`{}`)},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, s.body)
	}
	handler := h.server.Handler()
	f.Fuzz(func(t *testing.T, method uint8, path, query string, body []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // ends event streams
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, fuzzMethods[int(method)%len(fuzzMethods)], "http://tasker/", bytes.NewReader(body))
		require.NoError(t, err)
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req.URL = &url.URL{Path: path, RawQuery: query}
		req.RequestURI = req.URL.RequestURI()
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		require.Less(t, rec.Code, 500, "%s %q?%q body %q: %s", req.Method, path, query, body, rec.Body.String())
	})
}
