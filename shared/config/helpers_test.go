package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// writeTree writes a config root with the given files (paths relative to
// the root) and an empty base.toml for every context that has none.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for _, ctx := range Contexts {
		name := ctx + "/base.toml"
		if _, ok := files[name]; !ok {
			files[name] = ""
		}
	}
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	return root
}

// problemsOf returns the problems of a Load error, failing if it is not one.
func problemsOf(t *testing.T, err error) Problems {
	t.Helper()
	require.Error(t, err)
	var ps Problems
	require.True(t, errors.As(err, &ps), "error is %T, not Problems: %v", err, err)
	return ps
}

// requireProblem fails unless some problem's text contains every fragment.
func requireProblem(t *testing.T, err error, fragments ...string) {
	t.Helper()
	for _, p := range problemsOf(t, err) {
		text := p.Error()
		all := true
		for _, f := range fragments {
			if !strings.Contains(text, f) {
				all = false
				break
			}
		}
		if all {
			return
		}
	}
	require.Failf(t, "no matching problem", "want a problem containing %q; got:\n%v", fragments, err)
}
