package web_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/orchestration/web"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

func TestDLQ(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	stuck := h.createTask(tpl, input) // no workers: it waits in steps_in_process
	waiting := h.createTask(tpl, `{"even_number": 8}`)
	done, err := h.store.HandleStaleTask(h.ctx, store.StaleTask{
		TaskUUID: stuck.TaskUUID, Namespace: stuck.Namespace, TaskName: stuck.Name, State: state.TaskStepsInProcess,
		MinutesInState: 45, ThresholdMinutes: 30, CorrelationID: stuck.CorrelationID, RequestedAt: stuck.RequestedAt,
		CreatedAt: stuck.CreatedAt,
	}, store.StaleAction{DLQ: true, Fail: true})
	require.NoError(t, err)
	require.True(t, done)
	require.Equal(t, string(state.TaskError), h.getTask(stuck.TaskUUID).Status)

	list := func(query string) []api.DLQEntry {
		t.Helper()
		res := h.do(http.MethodGet, "/v1/dlq"+query, nil)
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
		var out []api.DLQEntry
		res.json(t, &out)
		return out
	}
	entries := list("")
	require.Len(t, entries, 1)
	entry := entries[0]
	require.Equal(t, stuck.TaskUUID, entry.TaskUUID)
	require.Equal(t, api.ReasonStalenessTimeout, entry.DLQReason)
	require.Equal(t, api.ResolutionPending, entry.ResolutionStatus)
	require.Equal(t, "steps_in_process", entry.OriginalState)
	require.Len(t, list("?resolution_status=pending"), 1)
	require.Empty(t, list("?resolution_status=cancelled"))
	require.Empty(t, list("?offset=1"))
	require.Len(t, list("?limit=1"), 1)
	e := h.do(http.MethodGet, "/v1/dlq?resolution_status=lost", nil).requireError(t, http.StatusBadRequest, web.CodeBadRequest)
	require.Equal(t, []string{"param:resolution_status"}, e.pointers(t))
	h.do(http.MethodGet, "/v1/dlq?limit=0", nil).requireError(t, http.StatusBadRequest, web.CodeBadRequest)

	res := h.do(http.MethodGet, "/v1/dlq/task/"+stuck.TaskUUID.String(), nil)
	require.Equal(t, http.StatusOK, res.status)
	var byTask api.DLQEntry
	res.json(t, &byTask)
	require.Equal(t, entry.DLQEntryUUID, byTask.DLQEntryUUID)
	require.Contains(t, string(byTask.TaskSnapshot), `"task_details"`)
	h.do(http.MethodGet, "/v1/dlq/task/"+waiting.TaskUUID.String(), nil).requireError(t, http.StatusNotFound, web.CodeNotFound)
	h.do(http.MethodGet, "/v1/dlq/task/42", nil).requireError(t, http.StatusBadRequest, web.CodeBadRequest)

	res = h.do(http.MethodGet, "/v1/dlq/stats", nil)
	require.Equal(t, http.StatusOK, res.status)
	var stats []api.DLQStat
	res.json(t, &stats)
	require.Len(t, stats, 1)
	require.Equal(t, api.ReasonStalenessTimeout, stats[0].Reason)
	require.Equal(t, 1, stats[0].Total)
	require.Equal(t, 1, stats[0].Pending)

	path := "/v1/dlq/entry/" + entry.DLQEntryUUID.String()
	for body, pointer := range map[string]string{
		`{"resolution_status":"fixed"}`:  "/resolution_status",
		`{"resolution_notes":3}`:         "/resolution_notes",
		`{"metadata":[1]}`:               "/metadata",
		`{"owner":"me"}`:                 "/owner",
		`{}`:                             "",
		`{"resolution_status":"pending"`: "",
	} {
		e := h.do(http.MethodPatch, path, body).requireError(t, http.StatusBadRequest, web.CodeBadRequest)
		require.Equal(t, []string{pointer}, e.pointers(t), body)
	}
	h.do(http.MethodPatch, "/v1/dlq/entry/"+uuid.NewString(), `{"resolution_status":"cancelled"}`).
		requireError(t, http.StatusNotFound, web.CodeNotFound)

	res = h.do(http.MethodPatch, path, map[string]any{"resolution_status": "manually_resolved",
		"resolution_notes": "reset the step", "resolved_by": "ops", "metadata": map[string]any{"ticket": "OPS-9"}})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var upd api.DLQUpdateResponse
	res.json(t, &upd)
	require.True(t, upd.Success)
	require.Equal(t, entry.DLQEntryUUID, upd.DLQEntryUUID)
	after := list("?resolution_status=manually_resolved")
	require.Len(t, after, 1)
	require.Equal(t, "ops", *after[0].ResolvedBy)
	require.NotNil(t, after[0].ResolutionTimestamp)
	var meta map[string]any
	require.NoError(t, json.Unmarshal(after[0].Metadata, &meta))
	require.Equal(t, "OPS-9", meta["ticket"])
	require.Equal(t, "automatic_staleness", meta["detection_method"], "metadata is merged")

	res = h.do(http.MethodGet, "/v1/dlq/staleness?limit=10", nil)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var stale []api.StaleTask
	res.json(t, &stale)
	require.Len(t, stale, 1, "only the waiting task: the stuck one is in error now")
	require.Equal(t, waiting.TaskUUID, stale[0].TaskUUID)
	require.Equal(t, "healthy", stale[0].HealthStatus)
	require.InDelta(t, (30 * time.Minute).Minutes(), stale[0].ThresholdMinutes, 0.001)
	h.do(http.MethodGet, "/v1/dlq/staleness?limit=0", nil).requireError(t, http.StatusBadRequest, web.CodeBadRequest)
}
