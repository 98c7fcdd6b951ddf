package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/orchestration/web"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/state"
)

func TestCreateTask(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{web: func(w *config.OrchestrationWeb) { w.MaxBodyBytes = 4096 }})
	tpl := h.fixture("rust/mathematical_sequence.yaml")

	tr := h.createTask(tpl, input)
	require.NotEqual(t, uuid.Nil, tr.TaskUUID)
	require.Equal(t, tpl.NamespaceName, tr.Namespace)
	require.Equal(t, tpl.Name, tr.Name)
	require.Equal(t, tpl.Version, tr.Version)
	require.Equal(t, "tests", tr.Initiator)
	require.JSONEq(t, input, string(tr.Context))
	require.Equal(t, 4, tr.TotalSteps)
	require.Len(t, tr.Steps, 4)
	require.NotEmpty(t, tr.ExecutionStatus)
	require.NotEmpty(t, tr.HealthStatus)
	require.Equal(t, string(state.TaskStepsInProcess), tr.Status, "the first step went out in the creating transaction")

	base := func() map[string]any {
		return map[string]any{"namespace": tpl.NamespaceName, "name": tpl.Name, "version": tpl.Version,
			"context": json.RawMessage(input), "idempotency_key": uuid.NewString()}
	}
	with := func(k string, v any) map[string]any { b := base(); b[k] = v; return b }

	cases := []struct {
		name     string
		body     any
		pointers []string
	}{
		{"input_schema type", with("context", map[string]any{"even_number": "six"}), []string{"/context/even_number"}},
		{"input_schema required", with("context", map[string]any{}), []string{"/context/even_number"}},
		{"context not an object", with("context", []int{1}), []string{"/context"}},
		{"missing name and namespace", map[string]any{"context": map[string]any{}}, []string{"/name", "/namespace"}},
		{"priority range", with("priority", 500), []string{"/priority"}},
		{"wrong type", with("priority", "high"), []string{"/priority"}},
		{"wrong type in array", with("tags", []any{"a", 3}), []string{"/tags/1"}},
		{"bad uuid", with("correlation_id", "nope"), []string{"/correlation_id"}},
		{"bad time", with("requested_at", "yesterday"), []string{"/requested_at"}},
		{"unknown field", with("template_name", "x"), []string{"/template_name"}},
		{"malformed JSON", `{"name": "x",`, []string{""}},
		{"not an object", `[1, 2]`, []string{""}},
		{"trailing garbage", `{"name": "x"} {}`, []string{""}},
	}
	for _, c := range cases {
		res := h.do(http.MethodPost, "/v1/tasks", c.body)
		e := res.requireError(t, http.StatusBadRequest, web.CodeBadRequest)
		require.Equal(t, c.pointers, e.pointers(t), "%s: %s", c.name, res.body)
	}
	res := h.do(http.MethodPost, "/v1/tasks", "")
	res.requireError(t, http.StatusBadRequest, web.CodeBadRequest)

	res = h.do(http.MethodPost, "/v1/tasks", with("name", "no_such_template"))
	res.requireError(t, http.StatusNotFound, web.CodeNotFound)

	dup := base()
	require.Equal(t, http.StatusCreated, h.do(http.MethodPost, "/v1/tasks", dup).status)
	res = h.do(http.MethodPost, "/v1/tasks", dup)
	e := res.requireError(t, http.StatusConflict, web.CodeConflict)
	require.NotContains(t, e.Error.Message, tr.TaskUUID.String()[:8], "the existing task is not revealed")

	big := with("context", map[string]any{"even_number": 6, "pad": strings.Repeat("x", 5000)})
	res = h.do(http.MethodPost, "/v1/tasks", big)
	res.requireError(t, http.StatusRequestEntityTooLarge, web.CodePayloadTooLarge)
	// Without a Content-Length the limit applies to the bytes read.
	b, _ := json.Marshal(big)
	res = h.do(http.MethodPost, "/v1/tasks", io.MultiReader(strings.NewReader(string(b))))
	res.requireError(t, http.StatusRequestEntityTooLarge, web.CodePayloadTooLarge)
}

func TestCreateTaskBackpressure(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{orch: func(o *config.Orchestration) {
		o.Web.Backpressure.Enabled = true
		o.Web.Backpressure.QueueDepthLimit = 1
		o.Web.Backpressure.RetryAfter = 2 * time.Second
	}})
	tpl := h.fixture("rust/diamond_pattern.yaml")
	// No workers: each task leaves a message in the worker queue.
	h.createTask(tpl, input)
	h.createTask(tpl, input)
	var res response
	require.Eventually(t, func() bool {
		res = h.do(http.MethodPost, "/v1/tasks", map[string]any{"namespace": tpl.NamespaceName, "name": tpl.Name,
			"context": json.RawMessage(input), "idempotency_key": uuid.NewString()})
		return res.status == http.StatusServiceUnavailable
	}, 10*time.Second, 100*time.Millisecond)
	e := res.requireError(t, http.StatusServiceUnavailable, web.CodeBackpressure)
	require.Equal(t, "2", res.header.Get("Retry-After"))
	require.Equal(t, 2, e.Error.RetryAfterSeconds)
}

func TestListTasks(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	seq := h.fixture("rust/mathematical_sequence.yaml")
	dia := h.fixture("rust/diamond_pattern.yaml")
	var seqIDs []uuid.UUID
	for range 3 {
		seqIDs = append(seqIDs, h.createTask(seq, input).TaskUUID)
	}
	for range 2 {
		h.createTask(dia, input)
	}
	require.Equal(t, http.StatusOK, h.do(http.MethodDelete, "/v1/tasks/"+seqIDs[0].String(), nil).status)

	list := func(query string) api.TaskListResponse {
		t.Helper()
		res := h.do(http.MethodGet, "/v1/tasks"+query, nil)
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
		var out api.TaskListResponse
		res.json(t, &out)
		return out
	}
	all := list("")
	require.Len(t, all.Tasks, 5)
	require.Equal(t, api.Pagination{Page: 1, PerPage: 25, TotalCount: 5, TotalPages: 1}, all.Pagination)
	for _, tr := range all.Tasks {
		require.Positive(t, tr.TotalSteps, "list items carry their execution context")
		require.Empty(t, tr.Steps)
	}

	p1 := list("?per_page=2")
	require.Len(t, p1.Tasks, 2)
	require.NotEmpty(t, p1.Pagination.NextCursor, "a numbered page offers the cursor of the next")
	p1.Pagination.NextCursor = ""
	require.Equal(t, api.Pagination{Page: 1, PerPage: 2, TotalCount: 5, TotalPages: 3, HasNext: true}, p1.Pagination)
	p3 := list("?per_page=2&page=3")
	require.Len(t, p3.Tasks, 1)
	require.NotEmpty(t, p3.Pagination.PreviousCursor)
	p3.Pagination.PreviousCursor = ""
	require.Equal(t, api.Pagination{Page: 3, PerPage: 2, TotalCount: 5, TotalPages: 3, HasPrevious: true}, p3.Pagination)
	require.Empty(t, list("?per_page=2&page=9").Tasks)

	require.Equal(t, 3, list("?namespace="+seq.NamespaceName).Pagination.TotalCount)
	require.Equal(t, 2, list("?name="+dia.Name).Pagination.TotalCount)
	cancelled := list("?status=cancelled")
	require.Len(t, cancelled.Tasks, 1)
	require.Equal(t, seqIDs[0], cancelled.Tasks[0].TaskUUID)
	require.Equal(t, 5, list("?status=cancelled,steps_in_process").Pagination.TotalCount)
	open := list("?status=steps_in_process,pending") // open states only: read through the open-tasks index
	require.Equal(t, 4, open.Pagination.TotalCount)
	require.Len(t, open.Tasks, 4)
	require.NotContains(t, []uuid.UUID{open.Tasks[0].TaskUUID, open.Tasks[1].TaskUUID, open.Tasks[2].TaskUUID,
		open.Tasks[3].TaskUUID}, seqIDs[0])
	require.Equal(t, 5, list("?status=cancelled&status=steps_in_process").Pagination.TotalCount)
	require.Equal(t, 5, list("?initiator=tests&source_system=web_test").Pagination.TotalCount)
	require.Zero(t, list("?initiator=nobody").Pagination.TotalCount)

	for q, param := range map[string]string{
		"?status=finished": "status", "?per_page=500": "per_page", "?per_page=0": "per_page",
		"?page=abc": "page", "?page=0": "page",
	} {
		res := h.do(http.MethodGet, "/v1/tasks"+q, nil)
		e := res.requireError(t, http.StatusBadRequest, web.CodeBadRequest)
		require.Equal(t, []string{"param:" + param}, e.pointers(t), q)
	}
}

func TestGetAndCancelTask(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/diamond_pattern.yaml")
	tr := h.createTask(tpl, input)

	got := h.getTask(tr.TaskUUID)
	require.Equal(t, tr.TaskUUID, got.TaskUUID)
	require.Len(t, got.Steps, 4)
	start := stepByName(t, got, "diamond_start")
	require.Equal(t, string(state.StepEnqueued), start.CurrentState)
	require.Empty(t, start.Dependencies)
	end := stepByName(t, got, "diamond_end")
	require.Equal(t, 2, end.TotalParents)
	require.ElementsMatch(t, []string{"diamond_branch_b", "diamond_branch_c"}, end.Dependencies)
	require.Equal(t, "processing", got.ExecutionStatus)
	require.Equal(t, "wait_for_completion", got.RecommendedAction)

	res := h.do(http.MethodGet, "/v1/tasks/"+uuid.NewString(), nil)
	res.requireError(t, http.StatusNotFound, web.CodeNotFound)
	res = h.do(http.MethodGet, "/v1/tasks/not-a-uuid", nil)
	e := res.requireError(t, http.StatusBadRequest, web.CodeBadRequest)
	require.Equal(t, []string{"param:uuid"}, e.pointers(t))

	res = h.do(http.MethodDelete, "/v1/tasks/"+tr.TaskUUID.String()+"?reason=changed+my+mind", nil)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var cancelled api.TaskResponse
	res.json(t, &cancelled)
	require.Equal(t, string(state.TaskCancelled), cancelled.Status)
	for _, s := range cancelled.Steps {
		require.Equal(t, string(state.StepCancelled), s.CurrentState, s.Name)
	}
	res = h.do(http.MethodDelete, "/v1/tasks/"+tr.TaskUUID.String(), nil)
	res.requireError(t, http.StatusBadRequest, web.CodeBadRequest)
	res = h.do(http.MethodDelete, "/v1/tasks/"+uuid.NewString(), nil)
	res.requireError(t, http.StatusNotFound, web.CodeNotFound)
}

func TestRouterFallbacksAndTimeout(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.do(http.MethodGet, "/v2/nothing", nil).requireError(t, http.StatusNotFound, web.CodeNotFound)
	h.do(http.MethodPut, "/v1/tasks", "{}").requireError(t, http.StatusMethodNotAllowed, web.CodeMethodNotAllowed)

	slow := newHarness(t, harnessOptions{web: func(w *config.OrchestrationWeb) { w.RequestTimeout = time.Nanosecond }})
	slow.do(http.MethodGet, "/v1/tasks", nil).requireError(t, http.StatusRequestTimeout, web.CodeTimeout)
	slow.do(http.MethodGet, fmt.Sprintf("/v1/tasks/%s", uuid.New()), nil).requireError(t, http.StatusRequestTimeout, web.CodeTimeout)
}
