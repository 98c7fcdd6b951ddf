package store_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/store"
)

// TestLatestVersionIsTheHighest: a request without a version gets the
// highest version, compared part by part as numbers, whatever order the
// versions were (re-)registered in.
func TestLatestVersionIsTheHighest(t *testing.T) {
	e := newEnv(t)
	latest := func() string {
		nt, err := e.store.GetNamedTask(e.ctx, "vers", "flow", "")
		require.NoError(t, err)
		return nt.Version
	}
	register := func(v string) {
		_, err := e.store.RegisterTemplate(e.ctx, store.TemplateRegistration{
			Namespace: "vers", Name: "flow", Version: v, Configuration: json.RawMessage(`{"steps":[]}`),
		})
		require.NoError(t, err)
	}
	for _, c := range []struct{ register, want string }{
		{"1.9.2", "1.9.2"},
		{"1.10.0", "1.10.0"}, // not text order
		{"1.9.2", "1.10.0"},  // re-registering an old version does not promote it
		{"v1.2", "1.10.0"},   // a leading v is ignored
		{"2.0.0-rc1", "2.0.0-rc1"},
		{"2.0.0", "2.0.0"},     // a release is above its pre-releases
		{"2.0.0-rc2", "2.0.0"}, // registered later, still a pre-release
		{"nightly", "2.0.0"},   // not a number: below every number
		{"2.0.0+build7", "2.0.0+build7"},
	} {
		register(c.register)
		require.Equal(t, c.want, latest(), "after registering %s", c.register)
	}
	nt, err := e.store.GetNamedTask(e.ctx, "vers", "flow", "1.9.2")
	require.NoError(t, err)
	require.Equal(t, "1.9.2", nt.Version, "an explicit version is taken as is")
}

// TestTemplatesAreNeverDeleted: tasks and steps reference their template
// rows without foreign keys (migration 00002: the keys' row locks were the
// largest cost of concurrent task creation), so the schema itself refuses
// to delete or truncate those rows.
func TestTemplatesAreNeverDeleted(t *testing.T) {
	e := newEnv(t)
	e.register("keep", "flow", []stepSpec{{name: "a", maxAttempts: 1}})
	pool := e.db.Pool(t, 1)
	for _, stmt := range []string{
		`DELETE FROM named_tasks`,
		`DELETE FROM named_steps WHERE name = 'a'`,
		`TRUNCATE named_steps CASCADE`,
		`TRUNCATE named_tasks CASCADE`,
	} {
		_, err := pool.Exec(e.ctx, stmt)
		require.ErrorContains(t, err, "are never deleted", stmt)
	}
	var n int
	require.NoError(t, pool.QueryRow(e.ctx, `SELECT (SELECT count(*) FROM named_tasks) + (SELECT count(*) FROM named_steps)`).Scan(&n))
	require.Equal(t, 2, n, "both rows are still there")
}
