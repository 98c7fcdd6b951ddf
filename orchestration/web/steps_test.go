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
)

func stepPath(task, step uuid.UUID) string {
	return "/v1/tasks/" + task.String() + "/workflow_steps/" + step.String()
}

func (h *harness) patchStep(task, step uuid.UUID, body any) response {
	h.t.Helper()
	return h.do(http.MethodPatch, stepPath(task, step), body)
}

func TestStepsListAndGet(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	h.drive(tpl.NamespaceName, succeed)
	tr := h.createTask(tpl, input)
	h.waitState(tr.TaskUUID, state.TaskComplete)

	res := h.do(http.MethodGet, "/v1/tasks/"+tr.TaskUUID.String()+"/workflow_steps", nil)
	require.Equal(t, http.StatusOK, res.status)
	var steps []api.StepResponse
	res.json(t, &steps)
	require.Len(t, steps, 4)
	for _, s := range steps {
		require.Equal(t, string(state.StepComplete), s.CurrentState, s.Name)
		require.Equal(t, 1, s.Attempts)
		require.NotNil(t, s.CompletedAt)
		require.JSONEq(t, `{"step":"`+s.Name+`"}`, string(mustResult(t, s.Results)))
	}

	res = h.do(http.MethodGet, stepPath(tr.TaskUUID, steps[1].StepUUID), nil)
	require.Equal(t, http.StatusOK, res.status)
	var one api.StepResponse
	res.json(t, &one)
	require.Equal(t, steps[1].Name, one.Name)
	require.Equal(t, []string{steps[0].Name}, one.Dependencies)
	require.True(t, one.DependenciesSatisfied)

	res = h.do(http.MethodGet, stepPath(tr.TaskUUID, steps[1].StepUUID)+"/audit", nil)
	require.Equal(t, http.StatusOK, res.status)
	var audit []api.AuditEntry
	res.json(t, &audit)
	require.Len(t, audit, 1)
	require.True(t, audit[0].Success)
	require.Equal(t, "driver", audit[0].WorkerID)

	h.do(http.MethodGet, "/v1/tasks/"+uuid.NewString()+"/workflow_steps", nil).requireError(t, http.StatusNotFound, web.CodeNotFound)
	h.do(http.MethodGet, stepPath(tr.TaskUUID, uuid.New()), nil).requireError(t, http.StatusNotFound, web.CodeNotFound)
	h.do(http.MethodGet, stepPath(uuid.New(), steps[0].StepUUID), nil).requireError(t, http.StatusNotFound, web.CodeNotFound)
	h.do(http.MethodGet, stepPath(tr.TaskUUID, uuid.New())+"/audit", nil).requireError(t, http.StatusNotFound, web.CodeNotFound)
	e := h.do(http.MethodGet, "/v1/tasks/"+tr.TaskUUID.String()+"/workflow_steps/xyz", nil).requireError(t, http.StatusBadRequest, web.CodeBadRequest)
	require.Equal(t, []string{"param:step_uuid"}, e.pointers(t))
}

// mustResult extracts the handler's result from a stored execution result.
func mustResult(t *testing.T, stored json.RawMessage) json.RawMessage {
	t.Helper()
	var r struct {
		Result json.RawMessage `json:"result"`
	}
	require.NoError(t, json.Unmarshal(stored, &r))
	return r.Result
}

func TestResolveManuallyRedrivesTask(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	h.drive(tpl.NamespaceName, failAt("linear_step_2"))
	tr := h.createTask(tpl, input)
	failed := h.waitState(tr.TaskUUID, state.TaskError)
	step := stepByName(t, failed, "linear_step_2")
	require.Equal(t, string(state.StepError), step.CurrentState)

	res := h.patchStep(tr.TaskUUID, step.StepUUID, map[string]any{
		"action_type": "resolve_manually", "reason": "handled out of band", "resolved_by": "ops"})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var sr api.StepResponse
	res.json(t, &sr)
	require.Equal(t, string(state.StepResolvedManually), sr.CurrentState)
	done := h.waitState(tr.TaskUUID, state.TaskComplete)
	require.Equal(t, string(state.StepComplete), stepByName(t, done, "linear_step_4").CurrentState)
}

func TestResetForRetryRedrivesTask(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/diamond_pattern.yaml")
	h.drive(tpl.NamespaceName, failAt("diamond_branch_c"))
	tr := h.createTask(tpl, input)
	failed := h.waitState(tr.TaskUUID, state.TaskError)
	c := stepByName(t, failed, "diamond_branch_c")

	// Only a step in error can be reset.
	start := stepByName(t, failed, "diamond_start")
	h.patchStep(tr.TaskUUID, start.StepUUID, map[string]any{"action_type": "reset_for_retry", "reason": "x", "reset_by": "ops"}).
		requireError(t, http.StatusBadRequest, web.CodeBadRequest)

	res := h.patchStep(tr.TaskUUID, c.StepUUID, map[string]any{"action_type": "reset_for_retry", "reason": "flaky", "reset_by": "ops"})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	done := h.waitState(tr.TaskUUID, state.TaskComplete)
	require.Equal(t, 1, stepByName(t, done, "diamond_branch_c").Attempts, "reset clears attempts")

	// The task is finished now: no more fixes.
	h.patchStep(tr.TaskUUID, c.StepUUID, map[string]any{"action_type": "resolve_manually", "reason": "x", "resolved_by": "ops"}).
		requireError(t, http.StatusBadRequest, web.CodeBadRequest)
}

func TestCompleteManuallyRedrivesTask(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	h.drive(tpl.NamespaceName, failAt("linear_step_2"))
	tr := h.createTask(tpl, input)
	failed := h.waitState(tr.TaskUUID, state.TaskError)
	step := stepByName(t, failed, "linear_step_2")

	res := h.patchStep(tr.TaskUUID, step.StepUUID, map[string]any{
		"action_type": "complete_manually", "reason": "computed by hand", "completed_by": "ops",
		"completion_data": map[string]any{"result": map[string]any{"result": 1296}, "metadata": map[string]any{"ticket": "OPS-7", "n": 9007199254740993}},
	})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var sr api.StepResponse
	res.json(t, &sr)
	require.Equal(t, string(state.StepComplete), sr.CurrentState)
	var stored struct {
		StepUUID uuid.UUID       `json:"step_uuid"`
		Success  bool            `json:"success"`
		Status   string          `json:"status"`
		Result   json.RawMessage `json:"result"`
		Metadata struct {
			Custom map[string]any `json:"custom"`
		} `json:"metadata"`
	}
	require.NoError(t, json.Unmarshal(sr.Results, &stored))
	require.True(t, stored.Success)
	require.Equal(t, "completed", stored.Status)
	require.Equal(t, step.StepUUID, stored.StepUUID)
	require.JSONEq(t, `{"result":1296}`, string(stored.Result))
	require.Equal(t, "OPS-7", stored.Metadata.Custom["ticket"])
	require.Contains(t, string(sr.Results), `9007199254740993`, "numbers are kept exact")
	h.waitState(tr.TaskUUID, state.TaskComplete)
}

func TestStepActionValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	tr := h.createTask(tpl, input)
	step := tr.Steps[0].StepUUID
	cases := []struct {
		name     string
		body     any
		pointers []string
	}{
		{"no action", map[string]any{"reason": "x"}, []string{"/action_type"}},
		{"unknown action", map[string]any{"action_type": "delete", "reason": "x"}, []string{"/action_type"}},
		{"action not a string", map[string]any{"action_type": 7}, []string{"/action_type"}},
		{"missing fields", map[string]any{"action_type": "resolve_manually"}, []string{"/reason", "/resolved_by"}},
		{"field of another action", map[string]any{"action_type": "reset_for_retry", "reason": "x", "reset_by": "a", "resolved_by": "b"}, []string{"/resolved_by"}},
		{"no completion data", map[string]any{"action_type": "complete_manually", "reason": "x", "completed_by": "a"}, []string{"/completion_data"}},
		{"no result", map[string]any{"action_type": "complete_manually", "reason": "x", "completed_by": "a", "completion_data": map[string]any{}}, []string{"/completion_data/result"}},
		{"metadata not an object", map[string]any{"action_type": "complete_manually", "reason": "x", "completed_by": "a",
			"completion_data": map[string]any{"result": 1, "metadata": []int{1}}}, []string{"/completion_data/metadata"}},
		{"unknown nested field", map[string]any{"action_type": "complete_manually", "reason": "x", "completed_by": "a",
			"completion_data": map[string]any{"result": 1, "extra": true}}, []string{"/completion_data/extra"}},
		{"malformed", `{"action_type":`, []string{""}},
	}
	for _, c := range cases {
		res := h.patchStep(tr.TaskUUID, step, c.body)
		e := res.requireError(t, http.StatusBadRequest, web.CodeBadRequest)
		require.Equal(t, c.pointers, e.pointers(t), "%s: %s", c.name, res.body)
	}
	h.patchStep(tr.TaskUUID, uuid.New(), map[string]any{"action_type": "resolve_manually", "reason": "x", "resolved_by": "a"}).
		requireError(t, http.StatusNotFound, web.CodeNotFound)
	h.patchStep(uuid.New(), step, map[string]any{"action_type": "resolve_manually", "reason": "x", "resolved_by": "a"}).
		requireError(t, http.StatusNotFound, web.CodeNotFound)
	// Nothing changed.
	require.Eventually(t, func() bool { return h.getTask(tr.TaskUUID).Status == string(state.TaskStepsInProcess) }, 5*time.Second, 10*time.Millisecond)
}
