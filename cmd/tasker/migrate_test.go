package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/store/migrations"
	"github.com/tasker-go/tasker/shared/testdb"
)

func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestMigrateUpStatusDown(t *testing.T) {
	db := testdb.Empty(t)
	out, err := runCmd(t, "migrate", "status", "--database-url", db.URL, "--schema", db.Schema)
	require.NoError(t, err)
	require.Contains(t, out, "pending")
	out, err = runCmd(t, "migrate", "up", "--database-url", db.URL, "--schema", db.Schema)
	require.NoError(t, err)
	files, err := fs.Glob(migrations.FS(), "*.sql")
	require.NoError(t, err)
	require.Contains(t, out, fmt.Sprintf("applied %d migration(s)", len(files)))
	out, err = runCmd(t, "migrate", "up", "--database-url", db.URL, "--schema", db.Schema)
	require.NoError(t, err)
	require.Contains(t, out, "applied 0 migration(s)", "up is idempotent")
	out, err = runCmd(t, "migrate", "status", "--database-url", db.URL, "--schema", db.Schema)
	require.NoError(t, err)
	require.Contains(t, out, "applied  00001")
	out, err = runCmd(t, "migrate", "down", "--database-url", db.URL, "--schema", db.Schema)
	require.NoError(t, err)
	require.Contains(t, out, "rolled back 1")
}

func TestMigrateBadSchemaAndURL(t *testing.T) {
	_, err := runCmd(t, "migrate", "up", "--database-url", testdb.URL(), "--schema", "Bad-Name")
	require.ErrorContains(t, err, "invalid schema name")
	_, err = runCmd(t, "migrate", "up", "--database-url", "postgres://nobody@127.0.0.1:1/x?connect_timeout=2", "--schema", "x")
	require.ErrorContains(t, err, "is PostgreSQL running at")
}

// The database URL precedence is the one every command uses: --database-url,
// then TASKER__DATABASE__URL, then DATABASE_URL, then the configuration.
func TestMigrateDatabaseURLPrecedence(t *testing.T) {
	db := testdb.Empty(t)
	cleanConfigEnv(t)
	const nobody = "postgres://nobody@127.0.0.1:1/x?connect_timeout=2"
	t.Setenv("TASKER__DATABASE__SCHEMA", db.Schema)

	t.Setenv("DATABASE_URL", nobody)
	t.Setenv("TASKER__DATABASE__URL", db.URL)
	out, err := runCmd(t, "migrate", "status")
	require.NoError(t, err, "TASKER__DATABASE__URL wins over DATABASE_URL")
	require.Contains(t, out, "pending")

	t.Setenv("TASKER__DATABASE__URL", nobody)
	out, err = runCmd(t, "migrate", "status", "--database-url", db.URL)
	require.NoError(t, err, "--database-url wins over both")
	require.Contains(t, out, "pending")

	require.NoError(t, os.Unsetenv("TASKER__DATABASE__URL"))
	t.Setenv("DATABASE_URL", db.URL)
	_, err = runCmd(t, "migrate", "status")
	require.NoError(t, err, "DATABASE_URL alone")
}
