package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/systest"
)

var squareChainSteps = []string{"linear_step_1", "linear_step_2", "linear_step_3", "linear_step_4"}

func TestTaskCreateWait(t *testing.T) {
	sys := systest.Start(t, systest.Options{})

	t.Run("completes", func(t *testing.T) {
		out, stderr, err := runClient(t, "task", "create", "--url", sys.URL,
			"--namespace", "examples_linear", "--name", "square_chain", "--context", `{"even_number": 6}`,
			"--initiator", "cli-test", "--tag", "a", "--tag", "b", "--priority", "5", "--wait")
		require.NoError(t, err, out)
		require.Empty(t, stderr)
		require.Contains(t, out, "waiting for it to finish")
		for _, s := range squareChainSteps {
			require.Contains(t, out, s+" ")
			require.Regexp(t, `\+\S+\s+`+s+`\s+in_progress → enqueued_for_orchestration`, out)
			require.Regexp(t, `\+\S+\s+`+s+`\s+enqueued_for_orchestration → complete`, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Regexp(t, `^task \S+ complete after \S+: 4 steps: 4 complete$`, lines[len(lines)-1])
	})

	t.Run("json output keeps progress on stderr", func(t *testing.T) {
		out, stderr, err := runClientIn(t, `{"even_number": 4}`, "task", "create", "--url", sys.URL, "-o", "json",
			"--namespace", "examples_linear", "--name", "square_chain", "--context", "@-", "--wait")
		require.NoError(t, err)
		require.Contains(t, stderr, "linear_step_4")
		var task client.Task
		require.NoError(t, json.Unmarshal([]byte(out), &task), out)
		require.Equal(t, "complete", task.Status)
		require.Len(t, task.Steps, 4)
		require.JSONEq(t, `{"even_number":4}`, string(task.Context))
	})

	t.Run("fails", func(t *testing.T) {
		out, _, err := runClient(t, "task", "create", "--url", sys.URL,
			"--namespace", "examples_errors", "--name", "permanent_error", "--version", "1.0.0", "--wait")
		requireClientExit(t, err, exitTaskNotComplete, "ended error, not complete")
		require.Contains(t, out, "permanent_error_step")
		require.Regexp(t, `task \S+ error after`, out)
		require.Regexp(t, `permanent_error_step\s+error\s+attempt 1/\d\s+permanent error in step permanent_error_step`, out, "the failed step's error message")
	})
}

func TestTaskInspect(t *testing.T) {
	sys := systest.Start(t, systest.Options{})
	out, _, err := runClient(t, "task", "create", "--url", sys.URL,
		"--namespace", "examples_linear", "--name", "square_chain", "--context", `{"even_number": 6}`, "--reason", "inspect me")
	require.NoError(t, err)
	require.Regexp(t, `^created task [0-9a-f-]{36}\n`, out)
	require.Contains(t, out, "examples_linear/square_chain/1.0.0")
	id := uuid.MustParse(strings.Fields(out)[2])
	final := followTaskToEnd(t, sys, id)
	require.Equal(t, "complete", final.Status)
	step4 := taskStepNamed(t, final, "linear_step_4")

	url := []string{"--url", sys.URL}
	run := func(args ...string) string {
		t.Helper()
		out, _, err := runClient(t, append(args, url...)...)
		require.NoError(t, err, out)
		return out
	}

	out = run("task", "get", id.String())
	require.Contains(t, out, "Status       complete")
	require.Contains(t, out, "4 steps: 4 complete (100% done)")
	require.Contains(t, out, "inspect me")
	require.Contains(t, out, `{"even_number":6}`)
	for _, s := range squareChainSteps {
		require.Regexp(t, s+`\s+complete\s+1/3`, out)
	}
	got := cliJSON(t, run("task", "get", id.String(), "-o", "json"))
	require.Equal(t, id.String(), got["task_uuid"])
	require.Equal(t, "all_complete", got["execution_status"])

	out = run("task", "list", "--namespace", "examples_linear")
	require.Contains(t, out, id.String())
	require.Contains(t, out, "page 1 of 1 (1 tasks)")
	out = run("task", "list", "--status", "error,cancelled")
	require.Contains(t, out, "no tasks")
	list := cliJSON(t, run("task", "list", "--status", "complete", "--limit", "1", "-o", "json"))
	require.EqualValues(t, 1, list["pagination"].(map[string]any)["total_count"])

	out = run("task", "steps", id.String())
	require.Regexp(t, `STEP\s+STATE\s+ATTEMPTS\s+DEPENDS ON\s+STEP UUID`, out)
	require.Regexp(t, `linear_step_2\s+complete\s+1/3\s+linear_step_1\s+[0-9a-f-]{36}`, out)
	var steps []map[string]any
	require.NoError(t, json.Unmarshal([]byte(run("task", "steps", id.String(), "-o", "json")), &steps))
	require.Len(t, steps, 4)

	byName := run("task", "step", id.String(), "linear_step_4")
	byUUID := run("task", "step", id.String(), step4.StepUUID.String())
	require.Equal(t, byName, byUUID)
	require.Contains(t, byName, "2821109907456")
	require.Contains(t, byName, "linear_step_3 (1 of 1 done)")
	stepDoc := cliJSON(t, run("task", "step", id.String(), "linear_step_4", "-o", "json"))
	require.Equal(t, step4.StepUUID.String(), stepDoc["step_uuid"])

	out = run("task", "audit", id.String(), "linear_step_4")
	require.Regexp(t, `1\s+\S+ \(.*\)\s+systest-worker-0\s+true\s+\d+ms\s+in_progress → enqueued_for_orchestration\s+\{.*"result":2821109907456`, out)
	var audit []map[string]any
	require.NoError(t, json.Unmarshal([]byte(run("task", "audit", id.String(), "linear_step_4", "-o", "json")), &audit))
	require.Len(t, audit, 1)

	out = run("task", "visualize", id.String())
	require.True(t, strings.HasPrefix(out, "graph TD\n"), out)
	for _, s := range squareChainSteps {
		require.Contains(t, out, s+"<br/>complete")
	}
	out = run("task", "visualize", id.String(), "--markdown")
	require.True(t, strings.HasPrefix(out, "```mermaid\ngraph TD\n"), out)
	require.True(t, strings.HasSuffix(out, "```\n"), out)
	vis := cliJSON(t, run("task", "visualize", id.String(), "-o", "json"))
	require.Equal(t, "complete", vis["states"].(map[string]any)["linear_step_1"])
	require.Contains(t, vis["mermaid"], "graph TD")

	_, _, err = runClient(t, "task", "step", id.String(), "no_such_step", "--url", sys.URL)
	requireClientExit(t, err, exitAPIFailure, `has no step named "no_such_step"`, "linear_step_1, linear_step_2")
}

func TestTaskAPIErrors(t *testing.T) {
	sys := systest.Start(t, systest.Options{Workers: -1})
	missing := uuid.New()
	_, _, err := runClient(t, "task", "get", missing.String(), "--url", sys.URL)
	requireClientExit(t, err, exitAPIFailure, "error: task "+missing.String(), "(NOT_FOUND, HTTP 404)")

	_, _, err = runClient(t, "task", "create", "--url", sys.URL,
		"--namespace", "examples_linear", "--name", "square_chain", "--context", `{"even_number": "six"}`)
	requireClientExit(t, err, exitAPIFailure, "(BAD_REQUEST, HTTP 400)", "\n  /context/even_number: must be integer")

	_, _, err = runClient(t, "task", "create", "--url", sys.URL, "--namespace", "nope", "--name", "missing")
	requireClientExit(t, err, exitAPIFailure, "(NOT_FOUND, HTTP 404)")

	_, _, err = runClient(t, "template", "show", "examples_linear", "square_chain", "9.9.9", "--url", sys.URL)
	requireClientExit(t, err, exitAPIFailure, "(NOT_FOUND, HTTP 404)")
}

func TestTaskCancel(t *testing.T) {
	sys := systest.Start(t, systest.Options{Workers: -1})
	id := createTaskCLI(t, sys.URL, "examples_slow", "slow_step", `{"sleep_ms": 10}`)

	out, _, err := runClient(t, "task", "cancel", id.String(), "--reason", "not needed", "--url", sys.URL)
	require.NoError(t, err)
	require.Regexp(t, `^task `+id.String()+` is cancelled \(1 step: 1 cancelled\)\n$`, out)

	_, _, err = runClient(t, "task", "cancel", id.String(), "--url", sys.URL)
	requireClientExit(t, err, exitAPIFailure, "(BAD_REQUEST, HTTP 400)")

	out, _, err = runClient(t, "task", "list", "--status", "cancelled", "--url", sys.URL)
	require.NoError(t, err)
	require.Regexp(t, id.String()+`\s+examples_slow/slow_step/1.0.0\s+cancelled`, out)
}
