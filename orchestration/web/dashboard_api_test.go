package web_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/orchestration/web"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// listTasks reads GET /v1/tasks with a query and checks it answered 200.
func (h *harness) listTasks(t *testing.T, query string) api.TaskListResponse {
	t.Helper()
	res := h.do(http.MethodGet, "/v1/tasks?"+query, nil)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var out api.TaskListResponse
	res.json(t, &out)
	return out
}

func taskIDs(l api.TaskListResponse) []uuid.UUID {
	out := make([]uuid.UUID, len(l.Tasks))
	for i, t := range l.Tasks {
		out[i] = t.TaskUUID
	}
	return out
}

// TestTaskListCursorPaging: the list is read page by page by key, forwards
// and back, giving every task once in the same order as numbered pages;
// the capped count says when it stopped.
func TestTaskListCursorPaging(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	for range 7 {
		h.createTask(tpl, input)
	}
	all := taskIDs(h.listTasks(t, "per_page=100"))
	require.Len(t, all, 7)

	first := h.listTasks(t, "per_page=3&count=capped")
	require.Equal(t, all[:3], taskIDs(first))
	require.Equal(t, 7, first.Pagination.TotalCount)
	require.False(t, first.Pagination.TotalCountCapped)
	require.True(t, first.Pagination.HasNext)
	require.False(t, first.Pagination.HasPrevious)
	require.Empty(t, first.Pagination.PreviousCursor)
	require.NotEmpty(t, first.Pagination.NextCursor)

	var seen []uuid.UUID
	pages := []api.TaskListResponse{first}
	seen = append(seen, taskIDs(first)...)
	for p := first; p.Pagination.NextCursor != ""; {
		p = h.listTasks(t, "per_page=3&cursor="+p.Pagination.NextCursor)
		require.Equal(t, 0, p.Pagination.Page, "a page read by cursor has no number")
		require.True(t, p.Pagination.HasPrevious)
		seen = append(seen, taskIDs(p)...)
		pages = append(pages, p)
	}
	require.Equal(t, all, seen, "every task once, newest first")
	require.Len(t, pages, 3)
	require.False(t, pages[2].Pagination.HasNext)

	back := h.listTasks(t, "per_page=3&cursor="+pages[2].Pagination.PreviousCursor)
	require.Equal(t, taskIDs(pages[1]), taskIDs(back), "previous_cursor reads the page before")
	back = h.listTasks(t, "per_page=3&cursor="+back.Pagination.PreviousCursor)
	require.Equal(t, taskIDs(first), taskIDs(back))
	require.False(t, back.Pagination.HasPrevious, "the first page again")

	numbered := h.listTasks(t, "per_page=3&page=2")
	require.Equal(t, all[3:6], taskIDs(numbered), "numbered pages still work")
	require.Equal(t, 7, numbered.Pagination.TotalCount)
	require.NotEmpty(t, numbered.Pagination.NextCursor, "a numbered page also offers the cursor of the next")

	for _, bad := range []string{"cursor=nope", "cursor=" + url.QueryEscape("bz4xMjM0LnNvbWV0aGluZw"), "count=approximate",
		"created_from=yesterday", "correlation_id=42"} {
		h.do(http.MethodGet, "/v1/tasks?"+bad, nil).requireError(t, http.StatusBadRequest, web.CodeBadRequest)
	}
}

// TestTaskListFilters: initiator, correlation id and creation time range.
func TestTaskListFilters(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	mine := h.createTaskAs(tpl, "alice")
	h.createTaskAs(tpl, "bob")
	h.createTaskAs(tpl, "bob")

	require.Equal(t, []uuid.UUID{mine.TaskUUID}, taskIDs(h.listTasks(t, "initiator=alice")))
	require.Len(t, h.listTasks(t, "initiator=bob").Tasks, 2)
	byCorr := h.listTasks(t, "correlation_id="+mine.CorrelationID.String())
	require.Equal(t, []uuid.UUID{mine.TaskUUID}, taskIDs(byCorr))
	require.Equal(t, 1, byCorr.Pagination.TotalCount)

	at := mine.CreatedAt
	from := url.QueryEscape(at.Format(time.RFC3339Nano))
	to := url.QueryEscape(at.Add(time.Microsecond).Format(time.RFC3339Nano))
	require.Equal(t, []uuid.UUID{mine.TaskUUID}, taskIDs(h.listTasks(t, "created_from="+from+"&created_to="+to)))
	require.Len(t, h.listTasks(t, "created_from="+from).Tasks, 3)
	require.Empty(t, h.listTasks(t, "created_to="+from+"&initiator=bob").Tasks, "bob's tasks came after alice's")
}

func (h *harness) createTaskAs(tpl *template.Template, initiator string) api.TaskResponse {
	h.t.Helper()
	res := h.do(http.MethodPost, "/v1/tasks", map[string]any{"namespace": tpl.NamespaceName, "name": tpl.Name, "version": tpl.Version,
		"context": map[string]any{"even_number": 6}, "initiator": initiator, "idempotency_key": uuid.NewString()})
	require.Equal(h.t, http.StatusCreated, res.status, "body: %s", res.body)
	var tr api.TaskResponse
	res.json(h.t, &tr)
	return tr
}

// TestOverview: one answer counts every state, buckets the tasks created
// and finished with the completed ones' latency, and derives the open
// tasks over time.
func TestOverview(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	h.drive(tpl.NamespaceName, succeed)
	done := h.createTask(tpl, input)
	h.waitState(done.TaskUUID, state.TaskComplete)
	h.createTask(h.fixture("rust/diamond_pattern.yaml"), input) // no worker for it: stays open

	res := h.do(http.MethodGet, "/v1/analytics/overview?minutes=10&bucket_seconds=60", nil)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var o api.OverviewResponse
	res.json(t, &o)
	require.Len(t, o.TasksByState, len(state.TaskStates), "every state, zeros included")
	require.EqualValues(t, 1, o.TasksByState["complete"])
	require.EqualValues(t, 2, o.TotalTasks)
	require.EqualValues(t, 1, o.OpenTasks)
	require.Len(t, o.Buckets, 10)
	var created, completed int64
	var latency bool
	for _, b := range o.Buckets {
		created += b.Created
		completed += b.Completed
		latency = latency || b.LatencyP50Seconds != nil
	}
	require.EqualValues(t, 2, created)
	require.EqualValues(t, 1, completed)
	require.True(t, latency, "the completed task's latency is in its bucket")
	require.EqualValues(t, 1, o.Buckets[len(o.Buckets)-1].OpenAtEnd, "open now")
	require.EqualValues(t, 0, o.Buckets[0].OpenAtEnd, "nothing was open ten minutes ago")
	require.NotNil(t, o.Workers)

	e := h.do(http.MethodGet, "/v1/analytics/overview?minutes=10080&bucket_seconds=1", nil).
		requireError(t, http.StatusBadRequest, web.CodeBadRequest)
	require.Equal(t, []string{"param:bucket_seconds"}, e.pointers(t))
}

// busyWorker registers a live worker serving ns with the given handler
// capacity and claims k of the namespace's waiting steps under its
// liveness lock, so the overview counts them in progress on it.
func (h *harness) busyWorker(id, ns string, capacity, k int) {
	h.t.Helper()
	key, err := store.NewLivenessKey()
	require.NoError(h.t, err)
	sess, err := h.store.HoldLiveness(h.ctx, key)
	require.NoError(h.t, err)
	h.t.Cleanup(func() { require.NoError(h.t, sess.Close(context.Background())) })
	require.NoError(h.t, h.store.RegisterWorker(h.ctx, store.WorkerRegistration{Lock: key, WorkerID: id,
		Namespaces: []string{ns}, MaxConcurrent: capacity, ConcurrencyLimit: capacity}))
	claimed := 0
	var claimErr error
	require.Eventually(h.t, func() bool {
		if claimed == k {
			return true
		}
		out, err := h.store.ClaimNext(h.ctx, store.Claimer{ID: id, Lock: key}, messaging.WorkerQueue(ns), k-claimed, time.Minute)
		if err != nil {
			claimErr = err
			return true
		}
		claimed += len(out.Claimed)
		return claimed == k
	}, 30*time.Second, 10*time.Millisecond, "%d steps claimed by %s", k, id)
	require.NoError(h.t, claimErr)
}

// TestOverviewWorkerSaturation: each live worker reports its capacity and
// its saturation (steps in progress / capacity), and the total sums the
// workers that report a capacity; a worker that reports none (a row of a
// worker older than the capacity columns) has null figures.
func TestOverviewWorkerSaturation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	for range 3 {
		h.createTask(tpl, input)
	}
	h.busyWorker("busy", tpl.NamespaceName, 4, 3)
	h.busyWorker("legacy", "other_ns", 0, 0)

	res := h.do(http.MethodGet, "/v1/analytics/overview?minutes=10&bucket_seconds=60", nil)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var o api.OverviewResponse
	res.json(t, &o)
	require.Len(t, o.Workers, 2)
	busy, legacy := o.Workers[0], o.Workers[1]
	require.Equal(t, "busy", busy.WorkerID)
	require.EqualValues(t, 3, busy.InProgressSteps)
	require.NotNil(t, busy.Capacity)
	require.Equal(t, 4, *busy.Capacity)
	require.NotNil(t, busy.ConcurrencyLimit)
	require.Equal(t, 4, *busy.ConcurrencyLimit)
	require.NotNil(t, busy.Saturation)
	require.InDelta(t, 0.75, *busy.Saturation, 1e-9)

	require.Equal(t, "legacy", legacy.WorkerID)
	require.Nil(t, legacy.Capacity)
	require.Nil(t, legacy.ConcurrencyLimit)
	require.Nil(t, legacy.Saturation)

	require.EqualValues(t, 4, o.WorkerCapacity)
	require.EqualValues(t, 3, o.WorkerInProgressSteps)
	require.NotNil(t, o.WorkerSaturation)
	require.InDelta(t, 0.75, *o.WorkerSaturation, 1e-9)
}

// TestDLQTaskHistory: GET /v1/dlq?task_uuid= lists a task's entries.
func TestDLQTaskHistory(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	stuck := h.createTask(tpl, input)
	other := h.createTask(tpl, input)
	for _, tr := range []api.TaskResponse{stuck, other} {
		_, err := h.store.HandleStaleTask(h.ctx, store.StaleTask{
			TaskUUID: tr.TaskUUID, Namespace: tr.Namespace, TaskName: tr.Name, State: state.TaskStepsInProcess,
			MinutesInState: 45, ThresholdMinutes: 30, CorrelationID: tr.CorrelationID, RequestedAt: tr.RequestedAt,
			CreatedAt: tr.CreatedAt,
		}, store.StaleAction{DLQ: true})
		require.NoError(t, err)
	}
	res := h.do(http.MethodGet, "/v1/dlq?task_uuid="+stuck.TaskUUID.String(), nil)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var entries []api.DLQEntry
	res.json(t, &entries)
	require.Len(t, entries, 1)
	require.Equal(t, stuck.TaskUUID, entries[0].TaskUUID)
	res = h.do(http.MethodGet, "/v1/dlq?resolution_status=cancelled&task_uuid="+stuck.TaskUUID.String(), nil)
	res.json(t, &entries)
	require.Empty(t, entries)
	h.do(http.MethodGet, "/v1/dlq?task_uuid=x", nil).requireError(t, http.StatusBadRequest, web.CodeBadRequest)
}

// TestWhoAmI: with authentication off every resource is granted; with it
// on, any valid credential learns its subject and permissions.
func TestWhoAmI(t *testing.T) {
	t.Parallel()
	var me api.WhoAmIResponse
	h := newHarness(t)
	res := h.do(http.MethodGet, "/v1/auth/whoami", nil)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	res.json(t, &me)
	require.False(t, me.AuthEnabled)
	require.Equal(t, allResourceWildcards(), me.Permissions)

	ha := newHarness(t, withAuth(nil))
	ha.do(http.MethodGet, "/v1/auth/whoami", nil).requireError(t, http.StatusUnauthorized, api.CodeUnauthorized)
	res = ha.do(http.MethodGet, "/v1/auth/whoami", nil, "X-API-Key", testNarrowAPIKey)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	me = api.WhoAmIResponse{}
	res.json(t, &me)
	require.Equal(t, api.WhoAmIResponse{AuthEnabled: true, Subject: "none", Kind: "api_key", Permissions: []string{}}, me)
	res = ha.do(http.MethodGet, "/v1/auth/whoami", nil, "X-API-Key", testAPIKey)
	res.json(t, &me)
	require.Equal(t, "all", me.Subject)
	require.Equal(t, allResourceWildcards(), me.Permissions)
}
