package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

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
