package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
)

// templateFixtures is tasker-core's template fixtures, read in place.
const templateFixtures = "../../../shared/fixtures/tasker-core/task_templates"

func templateFixture(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(templateFixtures, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("tasker-core fixtures not found at %s (they live outside the repository): %v", p, err)
	}
	return p
}

// runTemplateCmd runs a template command in-process and returns its stdout,
// stderr and error.
func runTemplateCmd(cmd *cobra.Command, stdin string, args ...string) (string, string, error) {
	var stdout, stderr bytes.Buffer
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return stdout.String(), stderr.String(), err
}

func requireExit(t *testing.T, err error, code int) {
	t.Helper()
	var ec exitCodeError
	require.True(t, errors.As(err, &ec), "want exitCodeError, got %v", err)
	require.Equal(t, code, ec.code)
}

// cycleFile writes a template whose two steps depend on each other.
func cycleFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cycle.yaml")
	require.NoError(t, os.WriteFile(p, []byte(`name: loop
namespace_name: demo
version: 1.0.0
steps:
  - name: a
    dependencies: [b]
    handler: {callable: A}
  - name: b
    dependencies: [a]
    handler: {callable: B}
`), 0o644))
	return p
}

func TestTemplateValidateFixture(t *testing.T) {
	f := templateFixture(t, "rust/mathematical_sequence.yaml")
	out, _, err := runTemplateCmd(newTemplateValidateCmd(), "", f)
	require.NoError(t, err)
	require.Equal(t, "ok: 1 template\n", out)

	out, _, err = runTemplateCmd(newTemplateValidateCmd(), "", "--env", "test", f, templateFixture(t, "rust/conditional_approval_rust.yaml"))
	require.NoError(t, err)
	require.Equal(t, "ok: 2 templates\n", out)

	out, _, err = runTemplateCmd(newTemplateValidateCmd(), "", templateFixture(t, "."))
	require.NoError(t, err)
	require.Equal(t, "ok: 93 templates\n", out)
}

func TestTemplateValidateProblems(t *testing.T) {
	cyc := cycleFile(t)
	bad := filepath.Join(filepath.Dir(cyc), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("name: x\nnamespace_name: demo\nversion: '1'\nsteps:\n  - name: s\n    handler: {callable: S}\n    retry: {max_attempts: 500}\n    colour: red\n"), 0o644))
	missing := filepath.Join(filepath.Dir(cyc), "missing.yaml")

	out, _, err := runTemplateCmd(newTemplateValidateCmd(), "", cyc, bad, missing)
	requireExit(t, err, 1)
	require.Equal(t, []string{
		bad + `:8: steps[0]: unknown key "colour"`,
		cyc + ":6: steps[0].dependencies: cycle: a -> b -> a",
		missing + ": cannot read: no such file or directory",
	}, strings.Split(strings.TrimSpace(out), "\n"))

	// Without the decoding problem, the range problem shows.
	require.NoError(t, os.WriteFile(bad, []byte("name: x\nnamespace_name: demo\nversion: '1'\nsteps:\n  - name: s\n    handler: {callable: S}\n    retry: {max_attempts: 500}\n"), 0o644))
	out, _, err = runTemplateCmd(newTemplateValidateCmd(), "", bad)
	requireExit(t, err, 1)
	require.Equal(t, bad+":7: steps[0].retry.max_attempts: must be between 0 and 100 (got 500)\n", out)

	_, _, err = runTemplateCmd(newTemplateValidateCmd(), "")
	require.Error(t, err) // PATH is required
}

func TestTemplateVisualize(t *testing.T) {
	out, stderr, err := runTemplateCmd(newTemplateVisualizeCmd(), "", templateFixture(t, "rust/diamond_pattern.yaml"))
	require.NoError(t, err)
	require.Empty(t, stderr)
	require.Equal(t, `graph TD
    s0["diamond_start"]
    s1["diamond_branch_b"]
    s2["diamond_branch_c"]
    s3["diamond_end"]
    s0 --> s1
    s0 --> s2
    s1 --> s3
    s2 --> s3
`, out)

	data, err := os.ReadFile(templateFixture(t, "rust/conditional_approval_rust.yaml"))
	require.NoError(t, err)
	out, _, err = runTemplateCmd(newTemplateVisualizeCmd(), string(data), "-")
	require.NoError(t, err)
	require.Contains(t, out, `s1{"routing_decision<br/><i>decision</i>"}`)
	require.Contains(t, out, "s1 -.-> s3\n")
}

func TestTemplateVisualizeInvalid(t *testing.T) {
	cyc := cycleFile(t)
	out, stderr, err := runTemplateCmd(newTemplateVisualizeCmd(), "", cyc)
	requireExit(t, err, 1)
	require.Equal(t, "graph TD\n    s0[\"a\"]\n    s1[\"b\"]\n    s1 --> s0\n    s0 --> s1\n", out)
	require.Equal(t, cyc+":6: steps[0].dependencies: cycle: a -> b -> a\n", stderr)

	out, stderr, err = runTemplateCmd(newTemplateVisualizeCmd(), "name: [", "-")
	requireExit(t, err, 1)
	require.Empty(t, out)
	require.True(t, strings.HasPrefix(stderr, "<stdin>:1: invalid YAML: "), stderr)
}
