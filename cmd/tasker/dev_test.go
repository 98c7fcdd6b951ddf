package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/testdb"
)

// TestDevDemo runs `tasker dev --demo` against a test schema: every example
// workflow must complete as expected and the command must exit 0.
func TestDevDemo(t *testing.T) {
	db := testdb.Empty(t)
	t.Setenv("DATABASE_URL", db.URL)
	t.Setenv("TASKER__DATABASE__SCHEMA", db.Schema)
	out, err := runCmd(t, "dev", "--demo", "--bind", "127.0.0.1:0")
	require.NoError(t, err, out)
	require.Contains(t, out, "All 8 example workflows ended as expected.")
	require.Contains(t, out, "examples_linear/square_chain/1.0.0")
	require.Contains(t, out, "Tasker stopped")
}

// TestDevDemoOnPrivateCluster runs the demo on a private PostgreSQL cluster
// created under a temporary folder, twice (the second run reuses it).
func TestDevDemoOnPrivateCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	dir, err := os.MkdirTemp("", "tasker-dev-test-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	out, err := runCmd(t, "dev", "--demo", "--bind", "127.0.0.1:0", "--embedded-postgres", "--dir", dir)
	if err != nil && (strings.Contains(out, "binaries") || strings.Contains(err.Error(), "binaries")) {
		t.Skip(err)
	}
	require.NoError(t, err, out)
	require.Contains(t, out, "Created the private PostgreSQL cluster")
	require.Contains(t, out, "private PostgreSQL stopped")
	out, err = runCmd(t, "dev", "--demo", "--bind", "127.0.0.1:0", "--embedded-postgres", "--dir", dir)
	require.NoError(t, err, out)
	require.Contains(t, out, "Reusing the private PostgreSQL cluster")
	require.Contains(t, out, "All 8 example workflows ended as expected.")
}

// TestDevHonoursAnExplicitURL: a database URL set in the environment is
// used as given; when nothing answers there, dev fails and says so instead
// of quietly starting a private cluster.
func TestDevHonoursAnExplicitURL(t *testing.T) {
	for _, env := range []string{"TASKER__DATABASE__URL", "DATABASE_URL"} {
		t.Run(env, func(t *testing.T) {
			cleanConfigEnv(t)
			t.Setenv(env, "postgres://nobody@127.0.0.1:1/x?connect_timeout=2")
			dir := t.TempDir()
			out, err := runCmd(t, "dev", "--demo", "--bind", "127.0.0.1:0", "--dir", dir)
			require.Error(t, err, out)
			require.Contains(t, err.Error(), "127.0.0.1:1")
			require.NotContains(t, out, "private PostgreSQL cluster")
			_, statErr := os.Stat(dir + "/postgres")
			require.True(t, os.IsNotExist(statErr), "no cluster folder was created")
		})
	}
}
