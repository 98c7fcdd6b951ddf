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
