package main

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/template"
)

func TestSystemHealth(t *testing.T) {
	sys := systest.Start(t, systest.Options{})
	worker := httptest.NewServer(sys.Workers[0].HTTPHandler())
	t.Cleanup(func() {
		worker.CloseClientConnections()
		worker.Close()
	})

	out, _, err := runClient(t, "system", "health", "--url", sys.URL, "--worker-url", worker.URL)
	require.NoError(t, err, out)
	require.Regexp(t, `Orchestration\s+`+sys.URL, out)
	require.Regexp(t, `Status\s+healthy \(version \S+, up \S+, `, out)
	require.Regexp(t, `Database\s+healthy`, out)
	require.Regexp(t, `Pool\s+\d+ of \d+ connections in use`, out)
	require.Regexp(t, `QUEUE\s+DEPTH\s+VISIBLE\s+OLDEST\s+STATUS`, out)
	require.Regexp(t, `orchestration_step_results\s+\d+\s+\d+\s+\S+\s+ok`, out)
	require.Regexp(t, `Worker\s+`+worker.URL, out)
	require.Regexp(t, `Status\s+healthy \(systest-worker-0 on \S*, running, up \S+\)`, out)
	require.Regexp(t, `Namespaces\s+.*examples_linear`, out)
	require.Regexp(t, `In flight\s+\d+ running, \d+ completing`, out)
	require.Regexp(t, `Concurrency\s+\d+ of \d+ slots in use`, out)

	out, _, err = runClient(t, "system", "health", "--url", sys.URL, "--worker-url", worker.URL, "-o", "json")
	require.NoError(t, err, out)
	var doc struct {
		Orchestration struct {
			URL    string
			Health struct{ Status string }
		}
		Workers []struct {
			URL    string
			Health struct {
				Status     string
				Namespaces []string
			}
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
	require.Equal(t, "healthy", doc.Orchestration.Health.Status)
	require.Len(t, doc.Workers, 1)
	require.Equal(t, "healthy", doc.Workers[0].Health.Status)
	require.Contains(t, doc.Workers[0].Health.Namespaces, "examples_linear")

	// Without --worker-url no worker is checked; an unreachable worker is
	// reported and fails the check, the rest is still shown.
	out, _, err = runClient(t, "system", "health", "--url", sys.URL)
	require.NoError(t, err)
	require.Contains(t, out, "Workers: none checked")
	out, _, err = runClient(t, "system", "health", "--url", sys.URL, "--worker-url", "127.0.0.1:1")
	requireClientExit(t, err, exitAPIFailure, "not healthy: worker http://127.0.0.1:1 unreachable")
	require.Regexp(t, `Status\s+healthy`, out)
	require.Contains(t, out, "cannot reach the worker API at http://127.0.0.1:1")

	out, _, err = runClient(t, "system", "health", "--url", "http://127.0.0.1:1")
	requireClientExit(t, err, exitAPIFailure, "not healthy: orchestration unreachable")
	require.Contains(t, out, "cannot reach the Tasker server at http://127.0.0.1:1")
}

// TestSystemHealthUnservedSteps: steps no live worker can run are listed
// and make the check fail (orchestration degraded).
func TestSystemHealthUnservedSteps(t *testing.T) {
	tpls, err := template.Parse([]byte(`name: unserved
namespace_name: cli_unserved
version: 1.0.0
steps: [{name: only, handler: {callable: "Cli::Nobody"}}]
`), "unserved.yaml", template.ParseOptions{})
	require.NoError(t, err)
	sys := systest.Start(t, systest.Options{Templates: tpls})
	c, err := client.New(sys.URL)
	require.NoError(t, err)
	_, err = c.CreateTask(sys.Ctx, client.TaskRequest{Namespace: "cli_unserved", Name: "unserved", Version: "1.0.0",
		Context: json.RawMessage(`{}`)})
	require.NoError(t, err)
	out, _, err := runClient(t, "system", "health", "--url", sys.URL)
	requireClientExit(t, err, exitAPIFailure, "not healthy: orchestration degraded")
	require.Regexp(t, `Unserved steps\s+degraded \(\d+ms\): 1 steps of 1 callables wait for a worker that has their handler`, out)
	require.Regexp(t, `UNSERVED NAMESPACE\s+CALLABLE \(no live worker has it\)\s+STEPS\s+OLDEST`, out)
	require.Regexp(t, `cli_unserved\s+Cli::Nobody\s+1\s+\S+`, out)
}
