package client_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/systest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCreateFollowAndInspect(t *testing.T) {
	sys := systest.Start(t, systest.Options{})
	c, err := client.New(sys.URL)
	require.NoError(t, err)
	task, err := c.CreateTask(sys.Ctx, client.TaskRequest{Namespace: "examples_linear", Name: "square_chain",
		Context: json.RawMessage(`{"even_number":6}`)})
	require.NoError(t, err)
	var events []client.Event
	final, err := c.Wait(sys.Ctx, task.TaskUUID, func(e client.Event) { events = append(events, e) })
	require.NoError(t, err)
	require.Equal(t, "complete", final.Status)
	require.Len(t, final.Steps, 4)
	require.Equal(t, "task", events[0].Kind)
	last := events[len(events)-1]
	require.Equal(t, "end", last.Kind)
	require.Equal(t, "complete", last.Status)
	for _, s := range final.Steps {
		if s.Name == "linear_step_4" {
			require.JSONEq(t, `2821109907456`, string(mustField(t, s.Result(), "result")))
			audit, err := c.StepAudit(sys.Ctx, task.TaskUUID, s.StepUUID)
			require.NoError(t, err)
			require.Len(t, audit, 1)
		}
	}
	list, err := c.ListTasks(sys.Ctx, client.ListOptions{Namespace: "examples_linear"})
	require.NoError(t, err)
	require.Equal(t, 1, list.Pagination.TotalCount)
	tpls, err := c.Templates(sys.Ctx, "")
	require.NoError(t, err)
	require.NotZero(t, tpls.TotalCount)
}

func TestErrors(t *testing.T) {
	sys := systest.Start(t, systest.Options{Workers: -1})
	c, err := client.New(sys.URL)
	require.NoError(t, err)
	_, err = c.GetTask(sys.Ctx, uuid.New())
	require.True(t, client.IsNotFound(err))
	var apiErr *client.Error
	_, err = c.CreateTask(sys.Ctx, client.TaskRequest{Namespace: "examples_linear", Name: "square_chain",
		Context: json.RawMessage(`{"even_number":"six"}`)})
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusBadRequest, apiErr.Status)
	require.Equal(t, "/context/even_number", apiErr.Details[0].Pointer)

	down, err := client.New("http://127.0.0.1:1")
	require.NoError(t, err)
	_, err = down.GetTask(sys.Ctx, uuid.New())
	var ce *client.ConnectionError
	require.ErrorAs(t, err, &ce)
	require.Contains(t, err.Error(), "tasker server")
	_, err = client.New("not a url")
	require.Error(t, err)
}

func mustField(t *testing.T, raw json.RawMessage, key string) json.RawMessage {
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m))
	return m[key]
}

// TestListTasksByCursorAndFilters: the client reads the task list page by
// page with the cursors of each answer (count capped), and filters it by
// correlation id, initiator, source system and creation time.
func TestListTasksByCursorAndFilters(t *testing.T) {
	sys := systest.Start(t, systest.Options{Workers: -1})
	c, err := client.New(sys.URL)
	require.NoError(t, err)
	shared := uuid.New()
	var created []uuid.UUID
	var tasks []*client.Task
	for i := range 5 {
		req := client.TaskRequest{Namespace: "examples_linear", Name: "square_chain",
			Context: json.RawMessage(`{"even_number":6}`), Initiator: "batch", SourceSystem: "client_test"}
		if i%2 == 0 {
			req.CorrelationID = &shared
		}
		if i == 4 {
			req.Initiator = "someone_else"
		}
		task, err := c.CreateTask(sys.Ctx, req)
		require.NoError(t, err)
		created = append([]uuid.UUID{task.TaskUUID}, created...) // newest first
		tasks = append(tasks, task)
	}

	ids := func(l *client.TaskList) []uuid.UUID {
		var out []uuid.UUID
		for _, tk := range l.Tasks {
			out = append(out, tk.TaskUUID)
		}
		return out
	}
	page, err := c.ListTasks(sys.Ctx, client.ListOptions{Namespace: "examples_linear", PerPage: 2, CappedCount: true})
	require.NoError(t, err)
	require.Equal(t, 5, page.Pagination.TotalCount)
	require.False(t, page.Pagination.TotalCountCapped)
	seen := ids(page)
	pages := 1
	for page.Pagination.NextCursor != "" {
		page, err = c.ListTasks(sys.Ctx, client.ListOptions{Namespace: "examples_linear", PerPage: 2, Cursor: page.Pagination.NextCursor})
		require.NoError(t, err)
		require.True(t, page.Pagination.HasPrevious)
		require.NotEmpty(t, page.Pagination.PreviousCursor)
		seen = append(seen, ids(page)...)
		pages++
	}
	require.Equal(t, created, seen, "every task once, newest first")
	require.Equal(t, 3, pages)
	back, err := c.ListTasks(sys.Ctx, client.ListOptions{Namespace: "examples_linear", PerPage: 2, Cursor: page.Pagination.PreviousCursor})
	require.NoError(t, err)
	require.Equal(t, created[2:4], ids(back), "the previous cursor reads the page before")

	byCorr, err := c.ListTasks(sys.Ctx, client.ListOptions{CorrelationID: shared})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{created[0], created[2], created[4]}, ids(byCorr))
	for _, tk := range byCorr.Tasks {
		require.Equal(t, shared, tk.CorrelationID)
	}
	byCorr, err = c.ListTasks(sys.Ctx, client.ListOptions{CorrelationID: shared, Initiator: "batch", SourceSystem: "client_test"})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{created[2], created[4]}, ids(byCorr), "the correlation id and the initiator")

	from, to := tasks[1].CreatedAt, tasks[3].CreatedAt
	window, err := c.ListTasks(sys.Ctx, client.ListOptions{CreatedFrom: from, CreatedTo: to})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{tasks[2].TaskUUID, tasks[1].TaskUUID}, ids(window), "from inclusive, to exclusive")

	_, err = c.ListTasks(sys.Ctx, client.ListOptions{Cursor: "nope"})
	var apiErr *client.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusBadRequest, apiErr.Status)
}
