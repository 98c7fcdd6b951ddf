package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/shared/testdb"
)

func TestTemplateRegister(t *testing.T) {
	db := testdb.New(t)
	dir := filepath.Join(testdb.FixturesDir(t), "task_templates", "rust")
	out, err := runCmd(t, "template", "register", "--database-url", db.URL, "--schema", db.Schema,
		filepath.Join(dir, "mathematical_sequence.yaml"), filepath.Join(dir, "diamond_pattern.yaml"))
	require.NoError(t, err, out)
	require.Contains(t, out, "registered rust_e2e_linear/mathematical_sequence/1.0.0 (4 steps)")
	require.Contains(t, out, "registered rust_e2e_diamond/diamond_pattern/1.0.0 (4 steps)")
	pool := db.Pool(t, 2)
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM named_tasks`).Scan(&n))
	require.Equal(t, 2, n)
	// Registering again is an upsert.
	_, err = runCmd(t, "template", "register", "--database-url", db.URL, "--schema", db.Schema, filepath.Join(dir, "diamond_pattern.yaml"))
	require.NoError(t, err)
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM named_tasks`).Scan(&n))
	require.Equal(t, 2, n)
}

func TestTemplateRegisterRefusesInvalid(t *testing.T) {
	db := testdb.New(t)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("name: x\nnamespace_name: ns\nversion: 1.0.0\nsteps:\n  - name: a\n    handler: {callable: A}\n    dependencies: [missing]\n"), 0o600))
	out, err := runCmd(t, "template", "register", "--database-url", db.URL, "--schema", db.Schema, bad)
	var ec exitCodeError
	require.ErrorAs(t, err, &ec)
	require.Equal(t, 1, ec.code)
	require.Contains(t, out, "bad.yaml:7:")
	require.Contains(t, out, "missing")
	pool := db.Pool(t, 2)
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM named_tasks`).Scan(&n))
	require.Zero(t, n, "nothing written")
}

// envTemplate is a template whose test environment shortens its step's
// timeout.
const envTemplate = `name: env_demo
namespace_name: env_ns
version: 1.0.0
steps:
  - name: a
    handler: {callable: A}
    timeout_seconds: 30
environments:
  test:
    steps:
      - name: a
        timeout_seconds: 3
`

// register parses templates for $TASKER_ENV, else the configured
// environment, exactly as a worker of that environment does.
func TestTemplateRegisterUsesTheConfiguredEnvironment(t *testing.T) {
	db := testdb.New(t)
	pool := db.Pool(t, 2)
	file := filepath.Join(t.TempDir(), "env.yaml")
	require.NoError(t, os.WriteFile(file, []byte(envTemplate), 0o600))
	stored := func() (int, string) {
		var timeout int
		var cfg string
		require.NoError(t, pool.QueryRow(context.Background(),
			`SELECT (configuration->'steps'->0->>'timeout_seconds')::int, configuration::text FROM named_tasks WHERE name = 'env_demo'`).Scan(&timeout, &cfg))
		return timeout, cfg
	}

	t.Setenv("TASKER_ENV", "test")
	out, err := runCmd(t, "template", "register", "--database-url", db.URL, "--schema", db.Schema, file)
	require.NoError(t, err, out)
	timeout, cfg := stored()
	require.Equal(t, 3, timeout, "$TASKER_ENV=test merges the test overrides")
	// What a test worker registers for the same file.
	tpls, err := template.LoadPaths([]string{file}, template.ParseOptions{Environment: config.EnvTest})
	require.NoError(t, err)
	reg, err := store.RegistrationOf(tpls[0])
	require.NoError(t, err)
	require.JSONEq(t, string(reg.Configuration), cfg)

	out, err = runCmd(t, "template", "register", "--database-url", db.URL, "--schema", db.Schema, "--env", "development", file)
	require.NoError(t, err, out)
	timeout, _ = stored()
	require.Equal(t, 30, timeout, "--env wins over $TASKER_ENV")

}

func TestTemplateRegisterExplainsAnUnmigratedSchema(t *testing.T) {
	db := testdb.Empty(t)
	dir := filepath.Join(testdb.FixturesDir(t), "task_templates", "rust")
	_, err := runCmd(t, "template", "register", "--database-url", db.URL, "--schema", db.Schema,
		filepath.Join(dir, "diamond_pattern.yaml"))
	require.ErrorIs(t, err, infra.ErrNoSchema)
	require.ErrorContains(t, err, `schema "`+db.Schema+`"`)
}
