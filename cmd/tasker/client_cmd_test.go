package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/systest"
)

// clientRoot is a root command holding the client commands, wired as
// root.go wires them.
func clientRoot() *cobra.Command {
	root := &cobra.Command{Use: "tasker", SilenceUsage: true, SilenceErrors: true}
	tpl := &cobra.Command{Use: "template"}
	tpl.AddCommand(newTemplateListCmd(), newTemplateShowCmd())
	root.AddCommand(newTaskCmd(), newDLQCmd(), newSystemCmd(), tpl)
	return root
}

// runClient runs a client command in-process; it returns standard output,
// standard error and the command's error.
func runClient(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return runClientIn(t, "", args...)
}

func runClientIn(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	root := clientRoot()
	var stdout, stderr bytes.Buffer
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return stdout.String(), stderr.String(), err
}

// requireClientExit checks a command's exit status and that its message
// contains each of want.
func requireClientExit(t *testing.T, err error, code int, want ...string) {
	t.Helper()
	var ec exitCodeError
	require.True(t, errors.As(err, &ec), "want exitCodeError, got %v", err)
	require.Equal(t, code, ec.code, "exit status; message: %s", ec.msg)
	for _, w := range want {
		require.Contains(t, ec.msg, w)
	}
}

// createTaskCLI creates a task through the CLI and returns its UUID.
func createTaskCLI(t *testing.T, url, namespace, name, ctxJSON string) uuid.UUID {
	t.Helper()
	out, _, err := runClient(t, "task", "create", "--url", url, "-o", "json",
		"--namespace", namespace, "--name", name, "--context", ctxJSON)
	require.NoError(t, err)
	var task client.Task
	require.NoError(t, json.Unmarshal([]byte(out), &task), out)
	require.NotEqual(t, uuid.Nil, task.TaskUUID)
	return task.TaskUUID
}

// followTaskToEnd follows a task to its end through the event stream.
func followTaskToEnd(t *testing.T, sys *systest.System, id uuid.UUID) *client.Task {
	t.Helper()
	c, err := client.New(sys.URL)
	require.NoError(t, err)
	final, err := c.Wait(sys.Ctx, id, nil)
	require.NoError(t, err)
	return final
}

// taskStepNamed returns a task's step by name.
func taskStepNamed(t *testing.T, task *client.Task, name string) client.Step {
	t.Helper()
	for _, s := range task.Steps {
		if s.Name == name {
			return s
		}
	}
	require.Failf(t, "no such step", "task %s has no step %s", task.TaskUUID, name)
	return client.Step{}
}

// cliJSON decodes a command's JSON output.
func cliJSON(t *testing.T, out string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &m), out)
	return m
}

func TestClientBadFlagsNeverReachTheServer(t *testing.T) {
	// Nothing listens here: reaching the server would fail with exit 1, not 2.
	const down = "http://127.0.0.1:1"
	task := uuid.NewString()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"malformed context", []string{"task", "create", "--namespace", "a", "--name", "b", "--context", `{"x":`}, "--context: invalid JSON"},
		{"context not an object", []string{"task", "create", "--namespace", "a", "--name", "b", "--context", `[1,2]`}, "--context: must be a JSON object"},
		{"context file missing", []string{"task", "create", "--namespace", "a", "--name", "b", "--context", "@/no/such/file.json"}, "--context: open /no/such/file.json"},
		{"namespace missing", []string{"task", "create", "--name", "b"}, "--namespace is required"},
		{"priority out of range", []string{"task", "create", "--namespace", "a", "--name", "b", "--priority", "500"}, "--priority must be between -100 and 100"},
		{"bad task uuid", []string{"task", "get", "not-a-uuid"}, `TASK_UUID: "not-a-uuid" is not a UUID`},
		{"unknown output", []string{"task", "get", task, "--output", "xml"}, `invalid argument "xml" for "-o, --output" flag: must be table or json`},
		{"unknown flag", []string{"task", "get", task, "--colour"}, "unknown flag: --colour"},
		{"bad timeout", []string{"task", "get", task, "--timeout", "0s"}, "--timeout must be positive"},
		{"bad url", []string{"task", "get", task, "--url", "localhost"}, "--url: invalid server URL"},
		{"missing argument", []string{"task", "steps"}, "want TASK_UUID, got 0 argument(s)"},
		{"unknown status", []string{"task", "list", "--status", "done"}, `--status: "done" is not a task state`},
		{"limit out of range", []string{"task", "list", "--limit", "500"}, "--limit must be between 1 and 100"},
		{"reason missing", []string{"task", "resolve-step", task, "step_a", "--by", "alice"}, "--reason is required"},
		{"by missing", []string{"task", "reset-step", task, "step_a", "--reason", "retry"}, "--by is required"},
		{"result missing", []string{"task", "complete-step", task, "step_a", "--reason", "r", "--by", "b"}, "--result is required"},
		{"malformed result", []string{"task", "complete-step", task, "step_a", "--result", "{nope", "--reason", "r", "--by", "b"}, "--result: invalid JSON"},
		{"metadata not an object", []string{"task", "complete-step", task, "step_a", "--result", "1", "--metadata", "[]", "--reason", "r", "--by", "b"}, "--metadata: must be a JSON object"},
		{"bad step task uuid", []string{"task", "step", "nope", "step_a"}, `TASK_UUID: "nope" is not a UUID`},
		{"dlq status", []string{"dlq", "list", "--status", "open"}, `--status: "open" is not a DLQ status`},
		{"dlq update nothing", []string{"dlq", "update", task}, "nothing to update"},
		{"dlq entry uuid", []string{"dlq", "update", "x", "--notes", "n"}, `ENTRY_UUID: "x" is not a UUID`},
		{"template show arguments", []string{"template", "show", "ns", "name"}, "want NAMESPACE NAME VERSION, got 2 argument(s)"},
		{"template list output", []string{"template", "list", "-o", "yaml"}, "must be table or json"},
		{"worker url", []string{"system", "health", "--worker-url", "http://"}, "--worker-url:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append(tc.args, "--url", down)
			if tc.name == "bad url" {
				args = tc.args
			}
			_, _, err := runClient(t, args...)
			requireClientExit(t, err, exitUsage, tc.want, "--help' for usage")
			require.True(t, strings.HasPrefix(err.Error(), "error: "), err.Error())
		})
	}
}

func TestClientJSONFlagFromStdinAndFile(t *testing.T) {
	cmd := &cobra.Command{Use: "x"}
	cmd.SetIn(strings.NewReader(` {"a": [1, 2]} `))
	got, err := jsonFlag(cmd, "context", "@-", true)
	require.NoError(t, err)
	require.JSONEq(t, `{"a":[1,2]}`, string(got))
	got, err = jsonFlag(cmd, "result", "42", false)
	require.NoError(t, err)
	require.Equal(t, "42", string(got))
	_, err = jsonFlag(cmd, "context", "42", true)
	requireClientExit(t, err, exitUsage, "--context: must be a JSON object ({...}), not a number")
	_, err = jsonFlag(cmd, "context", `{"a":1} {"b":2}`, true)
	requireClientExit(t, err, exitUsage, "--context: invalid JSON")
}

func TestClientWorkerURL(t *testing.T) {
	for in, want := range map[string]string{
		":8081":                  "http://localhost:8081",
		"worker-1":               "http://worker-1:8081",
		"http://10.0.0.5:9000/":  "http://10.0.0.5:9000",
		"https://w.example.com":  "https://w.example.com:8081",
		"127.0.0.1:18081":        "http://127.0.0.1:18081",
		"http://[::1]:8081/base": "http://[::1]:8081/base",
	} {
		got, err := workerURL(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
}

func TestClientConnectionRefused(t *testing.T) {
	_, _, err := runClient(t, "task", "list", "--url", "http://127.0.0.1:1")
	requireClientExit(t, err, exitAPIFailure, "error: cannot reach the Tasker server at http://127.0.0.1:1",
		"tasker server", "TASKER_URL")
	t.Setenv("TASKER_URL", "http://127.0.0.1:1")
	_, _, err = runClient(t, "dlq", "stats")
	requireClientExit(t, err, exitAPIFailure, "cannot reach the Tasker server at http://127.0.0.1:1")
}
