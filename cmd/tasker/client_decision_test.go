package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/shared/testdb"
)

// TestTaskWithDecisionPoint: the steps a decision creates show in the live
// progress of `task create --wait` (their creation events), in `task steps`
// with the edges they were given (the convergence step depends only on the
// branches that exist), in `task get` and in `task visualize` (the branch
// not chosen drawn as not created).
func TestTaskWithDecisionPoint(t *testing.T) {
	tpls, err := template.ParseFile(filepath.Join(testdb.FixturesDir(t), "task_templates", "rust",
		"conditional_approval_rust.yaml"), template.ParseOptions{Environment: "test"})
	require.NoError(t, err)
	sys := systest.Start(t, systest.Options{Templates: tpls})
	url := []string{"--url", sys.URL}
	run := func(args ...string) string {
		t.Helper()
		out, _, err := runClient(t, append(args, url...)...)
		require.NoError(t, err, out)
		return out
	}

	out := run("task", "create", "--namespace", "conditional_approval_rust", "--name", "approval_routing",
		"--context", `{"amount": 10000, "requester": "ann", "purpose": "servers"}`, "--wait")
	for _, s := range []string{"manager_approval", "finance_review", "finalize_approval"} {
		require.Regexp(t, `\+\S+\s+`+s+`\s+- → pending`, out, "the creation of %s is streamed", s)
		require.Regexp(t, `\+\S+\s+`+s+`\s+enqueued_for_orchestration → complete`, out)
	}
	require.NotContains(t, out, "auto_approve")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Regexp(t, `^task \S+ complete after \S+: 5 steps: 5 complete$`, lines[len(lines)-1])
	id := uuid.MustParse(strings.Fields(out)[2])

	out = run("task", "steps", id.String())
	require.Regexp(t, `finalize_approval\s+complete\s+1/\d+\s+finance_review,manager_approval\s`, out)
	require.Regexp(t, `finance_review\s+complete\s+1/\d+\s+routing_decision\s`, out)
	require.NotContains(t, out, "auto_approve")

	got := cliJSON(t, run("task", "get", id.String(), "-o", "json"))
	require.Len(t, got["steps"], 5)

	out = run("task", "visualize", id.String())
	require.Contains(t, out, "finance_review<br/>complete")
	require.Contains(t, out, "finalize_approval<br/><i>deferred_convergence</i><br/>complete")
	require.Contains(t, out, `s3["auto_approve"]`, "the branch not chosen is drawn without a state")
	require.Contains(t, out, "class s3 not_created")
}
