package api_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/api"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPermissionVocabulary(t *testing.T) {
	for _, p := range api.Permissions {
		require.True(t, api.IsKnownPermission(p.Name), p.Name)
		require.NotEmpty(t, p.Description, p.Name)
	}
	for _, r := range api.PermissionResources {
		require.True(t, api.IsKnownPermission(r+":*"), r)
	}
	for _, p := range []string{"", "*", ":*", "tasks", "tasks:", "tasks:delete", "task:read", "nothing:*", "Tasks:read", "tasks:read "} {
		require.False(t, api.IsKnownPermission(p), "%q", p)
	}
}

func TestPermissionGrants(t *testing.T) {
	for _, c := range []struct {
		granted, required string
		want              bool
	}{
		{"tasks:read", "tasks:read", true},
		{"tasks:*", "tasks:read", true},
		{"tasks:*", "tasks:cancel", true},
		{"tasks:read", "tasks:create", false},
		{"tasks:*", "steps:read", false},
		{"task:*", "tasks:read", false},
		{"*", "tasks:read", false},
		{":*", "tasks:read", false},
		{"tasks:*", "tasks_extra:read", false},
	} {
		require.Equal(t, c.want, api.PermissionGrants(c.granted, c.required), "%s grants %s", c.granted, c.required)
	}
}
