package devpg

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestClusterLifecycle(t *testing.T) {
	if _, err := FindBinDir(); err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The unprivileged server user must be able to reach the folder, so it
	// cannot live under t.TempDir (whose parent is private).
	base, err := os.MkdirTemp("", "devpg-test-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o755))
	c, err := New(filepath.Join(base, "pg"))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(c.Dir, 0o755))
	require.NoError(t, c.Init(ctx))
	require.True(t, c.Exists())
	require.NoError(t, c.Start(ctx))
	conn, err := pgx.Connect(ctx, c.URL())
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)`)
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))
	require.NoError(t, c.Stop(ctx))

	// A second run reuses the cluster and its data.
	again, err := New(c.Dir)
	require.NoError(t, err)
	require.NoError(t, again.Init(ctx))
	require.NoError(t, again.Start(ctx))
	defer func() { require.NoError(t, again.Stop(ctx)) }()
	conn, err = pgx.Connect(ctx, again.URL())
	require.NoError(t, err)
	defer conn.Close(ctx)
	var v int
	require.NoError(t, conn.QueryRow(ctx, `SELECT v FROM kept`).Scan(&v))
	require.Equal(t, 42, v)

	require.True(t, c.HasLibrary("plpgsql"), "every installation has plpgsql")
	require.False(t, c.HasLibrary("no_such_library"))
	var autovacuum string
	require.NoError(t, conn.QueryRow(ctx, `SHOW autovacuum`).Scan(&autovacuum))
	require.Equal(t, "on", autovacuum, "PostgreSQL's default")

	// A restart of the same cluster keeps its port: clients reconnect to
	// the address they know. Settings apply to the run they are given for.
	port := again.Port
	require.NoError(t, conn.Close(ctx))
	require.NoError(t, again.Stop(ctx))
	again.Settings = []string{"autovacuum=off"}
	require.NoError(t, again.Start(ctx))
	require.Equal(t, port, again.Port)
	conn, err = pgx.Connect(ctx, again.URL())
	require.NoError(t, err)
	require.NoError(t, conn.QueryRow(ctx, `SELECT v FROM kept`).Scan(&v))
	require.NoError(t, conn.QueryRow(ctx, `SHOW autovacuum`).Scan(&autovacuum))
	require.Equal(t, "off", autovacuum)
}

// A setting that is not a plain name=value is refused before anything
// runs: the options go through a shell.
// TestUnreachableFolderIsNamed: a cluster under a folder the server user
// cannot enter fails with an error that names the folder, before initdb.
func TestUnreachableFolderIsNamed(t *testing.T) {
	if _, err := FindBinDir(); err != nil {
		t.Skip(err)
	}
	base, err := os.MkdirTemp("", "devpg-private-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o750))
	c, err := New(filepath.Join(base, "pg"))
	require.NoError(t, err)
	if c.cred == nil {
		t.Skip("the server runs as this user: every folder it created is reachable")
	}
	require.NoError(t, os.MkdirAll(c.Dir, 0o755))
	err = c.Init(context.Background())
	require.ErrorContains(t, err, "cannot enter "+base)
	require.False(t, c.Exists())
}

func TestSettingsAreValidated(t *testing.T) {
	for _, bad := range []string{"autovacuum", "autovacuum=off; rm -rf /", "Autovacuum=on", "a=b c", "a='b'", "=on"} {
		c := &Cluster{Settings: []string{bad}}
		_, err := c.settingOptions()
		require.ErrorContains(t, err, "PostgreSQL setting", bad)
		require.ErrorContains(t, c.Start(context.Background()), "PostgreSQL setting", bad)
	}
	c := &Cluster{Settings: []string{"autovacuum=on", "shared_preload_libraries=pg_stat_statements,auto_explain", "auto_explain.log_min_duration=25ms"}}
	opts, err := c.settingOptions()
	require.NoError(t, err)
	require.Equal(t, " -c autovacuum=on -c shared_preload_libraries=pg_stat_statements,auto_explain -c auto_explain.log_min_duration=25ms", opts)
}
