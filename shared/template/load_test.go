package template

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// writeTree writes files (path -> content) below a new temporary directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

func named(name string) string { return strings.Replace(twoSteps, "name: demo", "name: "+name, 1) }

func keys(tpls []*Template) []string {
	out := make([]string, len(tpls))
	for i, t := range tpls {
		out[i] = t.Name
	}
	return out
}

func TestLoadPaths(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"a.yaml":            named("a"),
		"nested/b.yml":      named("b"),
		"nested/deep/c.YML": named("c"),
		"nested/notes.txt":  "not a template",
		"other/d.yaml":      named("d"),
		"other/e.json":      `{"name":"e","namespace_name":"ns","version":"1","steps":[{"name":"s","handler":{"callable":"S"}}]}`,
	})
	at := func(p string) string { return filepath.Join(dir, filepath.FromSlash(p)) }

	tpls, err := LoadPaths([]string{dir}, ParseOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c", "d"}, keys(tpls))

	// An explicit file is read whatever its extension; a directory given
	// twice is read once.
	tpls, err = LoadPaths([]string{at("other/e.json"), at("nested"), at("nested")}, ParseOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"e", "b", "c"}, keys(tpls))

	tpls, err = LoadPaths([]string{at("*.yaml")}, ParseOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, keys(tpls))

	tpls, err = LoadPaths([]string{at("**/*.{yml,yaml}")}, ParseOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "d"}, keys(tpls))

	tpls, err = LoadPaths([]string{at("nested/**/*.[yY]*")}, ParseOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"b", "c"}, keys(tpls))

	tpls, err = LoadPaths([]string{at("oth*")}, ParseOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"d"}, keys(tpls))
}

func TestLoadPathsProblems(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"good.yaml":  named("good"),
		"again.yaml": named("good"),
		"bad.yaml":   "name: x\nnamespace_name: [\n",
	})
	missing := filepath.Join(dir, "missing.yaml")
	tpls, err := LoadPaths([]string{dir, missing, filepath.Join(dir, "*.none"), filepath.Join(dir, "{a,b")}, ParseOptions{})
	require.Equal(t, []string{"good"}, keys(tpls))
	lines := errorLines(err)
	require.Len(t, lines, 5, strings.Join(lines, "\n"))
	require.Equal(t, missing+": cannot read: no such file or directory", lines[0])
	require.Equal(t, filepath.Join(dir, "*.none")+": no template files match", lines[1])
	require.Equal(t, filepath.Join(dir, "{a,b")+`: bad pattern "`+filepath.Join(dir, "{a,b")+`": unclosed {`, lines[2])
	require.True(t, strings.HasPrefix(lines[3], filepath.Join(dir, "bad.yaml")+":2: invalid YAML: "), lines[3])
	require.Equal(t, filepath.Join(dir, "good.yaml")+":1: template demo_ns/good/1.0.0 is already defined at "+filepath.Join(dir, "again.yaml")+":1", lines[4])
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestParseFileMissing(t *testing.T) {
	_, err := ParseFile(filepath.Join(t.TempDir(), "nope.yaml"), ParseOptions{})
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, "nope.yaml: reading template: no such file or directory")
}

func TestExpandBraces(t *testing.T) {
	got, err := expandBraces("a/{b,c{d,e}}/*.{yml,yaml}")
	require.NoError(t, err)
	require.Equal(t, []string{"a/b/*.yml", "a/b/*.yaml", "a/cd/*.yml", "a/cd/*.yaml", "a/ce/*.yml", "a/ce/*.yaml"}, got)
	_, err = expandBraces(strings.Repeat("{a,b,c}", 6))
	require.ErrorContains(t, err, "too many")
}
