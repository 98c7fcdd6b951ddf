package migrations_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/shared/store/migrations"
	"github.com/tasker-go/tasker/shared/testdb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestUpDownUp(t *testing.T) {
	ctx := context.Background()
	db := testdb.Empty(t)
	m, err := migrations.Open(ctx, db.URL, db.Schema)
	require.NoError(t, err)
	defer m.Close()
	st, err := m.Status(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, st)
	for _, s := range st {
		require.False(t, s.Applied)
	}
	n, err := m.Up(ctx)
	require.NoError(t, err)
	require.Equal(t, len(st), n)
	n, err = m.Up(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "up is idempotent")
	n, err = m.Down(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = m.Up(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "down then up re-applies cleanly")
}

func TestValidSchema(t *testing.T) {
	require.True(t, migrations.ValidSchema("tasker"))
	require.True(t, migrations.ValidSchema("t_01"))
	for _, bad := range []string{"", "Tasker", "1abc", "a-b", `x"y`} {
		require.False(t, migrations.ValidSchema(bad), bad)
		_, err := migrations.Open(context.Background(), testdb.URL(), bad)
		require.Error(t, err)
	}
}
