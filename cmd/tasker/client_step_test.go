package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/systest"
)

// failedTask runs examples_errors/permanent_error to its end (error) and
// returns it.
func failedTask(t *testing.T, sys *systest.System) *client.Task {
	t.Helper()
	out, _, err := runClient(t, "task", "create", "--url", sys.URL, "-o", "json",
		"--namespace", "examples_errors", "--name", "permanent_error", "--wait")
	requireClientExit(t, err, exitTaskNotComplete, "ended error")
	var task client.Task
	require.NoError(t, json.Unmarshal([]byte(out), &task), out)
	require.Equal(t, "error", task.Status)
	require.Equal(t, "error", taskStepNamed(t, &task, "permanent_error_step").CurrentState)
	return &task
}

func TestStepFixes(t *testing.T) {
	sys := systest.Start(t, systest.Options{})
	by := []string{"--by", "alice", "--url", sys.URL}

	t.Run("resolve by name completes the task", func(t *testing.T) {
		task := failedTask(t, sys)
		args := append([]string{"task", "resolve-step", task.TaskUUID.String(), "permanent_error_step",
			"--reason", "handled by hand"}, by...)
		out, _, err := runClient(t, args...)
		require.NoError(t, err, out)
		require.Regexp(t, `^step permanent_error_step \([0-9a-f-]{36}\) was resolved by hand: now resolved_manually\n`, out)
		require.Contains(t, out, "task "+task.TaskUUID.String()+" is complete")
		require.Equal(t, "complete", followTaskToEnd(t, sys, task.TaskUUID).Status)

		_, _, err = runClient(t, args...)
		requireClientExit(t, err, exitAPIFailure, "(BAD_REQUEST, HTTP 400)")
	})

	t.Run("complete by uuid passes the result on", func(t *testing.T) {
		task := failedTask(t, sys)
		step := taskStepNamed(t, task, "permanent_error_step")
		out, _, err := runClientIn(t, `{"value": 1296}`, append([]string{"task", "complete-step",
			task.TaskUUID.String(), step.StepUUID.String(), "--result", "@-", "--metadata", `{"ticket": "OPS-7"}`,
			"--reason", "computed offline", "-o", "json"}, by...)...)
		require.NoError(t, err, out)
		var got client.Step
		require.NoError(t, json.Unmarshal([]byte(out), &got), out)
		require.Equal(t, "complete", got.CurrentState)
		require.JSONEq(t, `{"value":1296}`, string(got.Result()))

		final := followTaskToEnd(t, sys, task.TaskUUID)
		require.Equal(t, "complete", final.Status)
		out, _, err = runClient(t, "task", "step", task.TaskUUID.String(), "permanent_error_step", "--url", sys.URL)
		require.NoError(t, err)
		require.Contains(t, out, `{"value":1296}`)
	})

	t.Run("reset runs the step again", func(t *testing.T) {
		task := failedTask(t, sys)
		// The reset re-evaluates the task in its transaction: it is running
		// again when the command returns, and following it ends when it ends.
		out, _, err := runClient(t, append([]string{"task", "reset-step", task.TaskUUID.String(), "permanent_error_step",
			"--reason", "try again"}, by...)...)
		require.NoError(t, err, out)
		require.Regexp(t, `was reset for retry: now (pending|enqueued|in_progress|enqueued_as_error_for_orchestration|error)\n`, out)
		final := followTaskToEnd(t, sys, task.TaskUUID)
		require.Equal(t, "error", final.Status)

		out, _, err = runClient(t, "task", "audit", task.TaskUUID.String(), "permanent_error_step", "--url", sys.URL)
		require.NoError(t, err)
		require.Regexp(t, `(?s)systest-worker-0\s+false.*systest-worker-0\s+false`, out, "two failed attempts")
		require.Contains(t, out, "this failure must not be retried")
	})
}
