package client_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/store"
)

// TestStrictDecodingOfEveryEndpoint calls every method of the client
// against a real server with WithStrictDecoding: no answer carries a field
// the client's types (package api, shared with the server) do not know.
// Every endpoint of the orchestration API is reached.
func TestStrictDecodingOfEveryEndpoint(t *testing.T) {
	// The worker leaves examples_slow alone: its tasks wait, to be
	// cancelled and to go stale.
	sys := systest.Start(t, systest.Options{Worker: func(w *config.Worker) {
		w.Namespaces = []string{"examples_linear", "examples_errors"}
	}})
	ctx := sys.Ctx
	c, err := client.New(sys.URL, client.WithStrictDecoding())
	require.NoError(t, err)

	// Tasks, steps, events.
	task, err := c.CreateTask(ctx, client.TaskRequest{Namespace: "examples_linear", Name: "square_chain",
		Context: json.RawMessage(`{"even_number":6}`), Tags: []string{"strict"}})
	require.NoError(t, err)
	var kinds []string
	final, err := c.Wait(ctx, task.TaskUUID, func(e client.Event) { kinds = append(kinds, e.Kind) })
	require.NoError(t, err)
	require.Equal(t, "complete", final.Status)
	require.Contains(t, kinds, "step")
	require.Equal(t, "end", kinds[len(kinds)-1])
	status, err := c.Follow(ctx, task.TaskUUID, nil)
	require.NoError(t, err)
	require.Equal(t, "complete", status)
	steps, err := c.Steps(ctx, task.TaskUUID)
	require.NoError(t, err)
	require.Len(t, steps, 4)
	step, err := c.Step(ctx, task.TaskUUID, steps[1].StepUUID)
	require.NoError(t, err)
	require.Equal(t, steps[1].Name, step.Name)
	audit, err := c.StepAudit(ctx, task.TaskUUID, steps[1].StepUUID)
	require.NoError(t, err)
	require.Len(t, audit, 1)
	list, err := c.ListTasks(ctx, client.ListOptions{Namespace: "examples_linear", PerPage: 5})
	require.NoError(t, err)
	require.Equal(t, 1, list.Pagination.TotalCount)

	// Operator fixes on failed steps.
	failed := make([]*client.Task, 3)
	for i := range failed {
		ft, err := c.CreateTask(ctx, client.TaskRequest{Namespace: "examples_errors", Name: "permanent_error",
			Context: json.RawMessage(`{}`)})
		require.NoError(t, err)
		failed[i], err = c.Wait(ctx, ft.TaskUUID, nil)
		require.NoError(t, err)
		require.Equal(t, "error", failed[i].Status)
		require.NotEmpty(t, failed[i].Steps[0].FailureMessage())
	}
	for i, action := range []client.StepAction{
		client.ResetForRetry("flaky", "ops"),
		client.ResolveManually("done elsewhere", "ops"),
		client.CompleteManually(json.RawMessage(`{"value":1}`), json.RawMessage(`{"ticket":"OPS-1"}`), "by hand", "ops"),
	} {
		s, err := c.UpdateStep(ctx, failed[i].TaskUUID, failed[i].Steps[0].StepUUID, action)
		require.NoError(t, err, action.ActionType)
		require.Equal(t, failed[i].Steps[0].StepUUID, s.StepUUID)
	}

	// Cancellation.
	slow, err := c.CreateTask(ctx, client.TaskRequest{Namespace: "examples_slow", Name: "slow_step",
		Context: json.RawMessage(`{"sleep_ms": 10}`)})
	require.NoError(t, err)
	cancelled, err := c.CancelTask(ctx, slow.TaskUUID, "not needed")
	require.NoError(t, err)
	require.Equal(t, "cancelled", cancelled.Status)

	// Templates.
	tpls, err := c.Templates(ctx, "")
	require.NoError(t, err)
	require.NotEmpty(t, tpls.Namespaces)
	tpl, err := c.Template(ctx, "examples_linear", "square_chain", "1.0.0")
	require.NoError(t, err)
	require.NotEmpty(t, tpl.Steps)

	// The dead letter queue.
	stale := staleTask(t, sys, c)
	staleness, err := c.Staleness(ctx, 10)
	require.NoError(t, err)
	require.NotEmpty(t, staleness)
	done, err := sys.Store.HandleStaleTask(ctx, stale, store.StaleAction{DLQ: true, Fail: true})
	require.NoError(t, err)
	require.True(t, done)
	entries, err := c.DLQ(ctx, "pending", 10, 0)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	entry, err := c.DLQForTask(ctx, stale.TaskUUID)
	require.NoError(t, err)
	require.Equal(t, entries[0].DLQEntryUUID, entry.DLQEntryUUID)
	resolved, by := "manually_resolved", "ops"
	res, err := c.UpdateDLQEntry(ctx, entry.DLQEntryUUID, client.DLQUpdate{ResolutionStatus: &resolved, ResolvedBy: &by})
	require.NoError(t, err)
	require.True(t, res.Success)
	stats, err := c.DLQStats(ctx)
	require.NoError(t, err)
	require.Len(t, stats, 1)
	require.Equal(t, 1, stats[0].ManuallyResolved)
	require.NotNil(t, stats[0].AvgResolutionMinutes)

	// Health.
	for name, probe := range map[string]func() (*client.Health, error){
		"healthy": func() (*client.Health, error) { return c.BasicHealth(ctx) },
		"alive":   func() (*client.Health, error) { return c.Liveness(ctx) },
		"ready":   func() (*client.Health, error) { return c.Readiness(ctx) },
	} {
		h, err := probe()
		require.NoError(t, err, name)
		require.Equal(t, name, h.Status)
	}
	detailed, err := c.DetailedHealth(ctx)
	require.NoError(t, err)
	require.Equal(t, "healthy", detailed.Status)
	require.NotEmpty(t, detailed.Queues)

	// Errors decode into the envelope.
	_, err = c.GetTask(ctx, uuid.New())
	require.True(t, client.IsNotFound(err), "%v", err)
	_, err = c.CreateTask(ctx, client.TaskRequest{Namespace: "examples_linear", Name: "square_chain",
		Context: json.RawMessage(`{"even_number":"six"}`)})
	var apiErr *client.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusBadRequest, apiErr.Status)
	require.Equal(t, "/context/even_number", apiErr.Details[0].Pointer)
}

// staleTask creates a task no worker finishes soon and returns it as the
// staleness detector sees it with tiny thresholds.
func staleTask(t *testing.T, sys *systest.System, c *client.Client) store.StaleTask {
	t.Helper()
	task, err := c.CreateTask(sys.Ctx, client.TaskRequest{Namespace: "examples_slow", Name: "slow_step",
		Context: json.RawMessage(`{"sleep_ms": 10}`)})
	require.NoError(t, err)
	tiny := store.StalenessThresholds{WaitingForDependencies: time.Nanosecond, WaitingForRetry: time.Nanosecond,
		StepsInProcess: time.Nanosecond, MaxLifetime: time.Hour}
	var stale store.StaleTask
	require.Eventually(t, func() bool {
		tasks, err := sys.Store.TasksPastStaleness(sys.Ctx, tiny, 10)
		require.NoError(t, err)
		for _, st := range tasks {
			if st.TaskUUID == task.TaskUUID {
				stale = st
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "the task never became stale")
	return stale
}

// newJSONServer answers every request with body.
func newJSONServer(t *testing.T, body string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestStrictDecodingRefusesUnknownFields: strict mode turns a field the
// client does not know into an error; the default mode ignores it.
func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	srv := newJSONServer(t, `{"status":"alive","timestamp":"2025-01-01T00:00:00Z","version":"v1","surprise":1}`)
	lax, err := client.New(srv)
	require.NoError(t, err)
	h, err := lax.Liveness(t.Context())
	require.NoError(t, err)
	require.Equal(t, "alive", h.Status)
	strict, err := client.New(srv, client.WithStrictDecoding())
	require.NoError(t, err)
	_, err = strict.Liveness(t.Context())
	require.ErrorContains(t, err, `unknown field "surprise"`)
}
