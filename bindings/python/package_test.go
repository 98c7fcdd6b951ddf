package python_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUnittestSuite runs the package's own tests (tests/, unittest), once
// with events as the indexed poll hands them over (decoded part by part)
// and once as the plain poll does (decoded whole): handlers must see the
// same either way.
func TestUnittestSuite(t *testing.T) {
	for _, poll := range []string{"indexed", "plain"} {
		cmd := exec.Command(python3(t), "-m", "unittest", "discover", "-s", "tests", "-t", ".")
		cmd.Dir = packageDir(t)
		cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "TASKER_TEST_POLL="+poll)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "python unittest suite failed (%s poll):\n%s", poll, out)
		t.Logf("%s poll: %s", poll, lastLines(string(out), 3))
	}
}

// TestLibraryBinding runs the ctypes binding's tests against the real
// worker library (calls that need no database).
func TestLibraryBinding(t *testing.T) {
	lib := library(t)
	cmd := exec.Command(python3(t), "-m", "unittest", "-v", "tests.test_library")
	cmd.Dir = packageDir(t)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "TASKER_WORKER_LIB="+lib)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NotContains(t, string(out), "skipped", "%s", out)
}

// TestInstallIntoVenv builds a wheel offline with the system's setuptools,
// installs it into a fresh virtual environment and imports it from there.
func TestInstallIntoVenv(t *testing.T) {
	py := wheelPython(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	// Building writes build/ and *.egg-info next to the sources: build a copy.
	for _, name := range []string{"pyproject.toml", "README.md", "tasker_core"} {
		copyTree(t, filepath.Join(packageDir(t), name), filepath.Join(src, name))
	}
	venv := filepath.Join(tmp, "venv")
	run(t, tmp, py, "-m", "venv", "--system-site-packages", venv)
	vpy := filepath.Join(venv, "bin", "python")
	run(t, src, vpy, "-m", "pip", "wheel", "--no-build-isolation", "--no-index", "--no-deps", "-w", filepath.Join(tmp, "dist"), ".")
	wheels, err := filepath.Glob(filepath.Join(tmp, "dist", "tasker_core-*.whl"))
	require.NoError(t, err)
	require.Len(t, wheels, 1)
	run(t, tmp, vpy, "-m", "pip", "install", "--no-index", "--no-deps", wheels[0])
	out := run(t, tmp, vpy, "-c", "import tasker_core, tasker_core.worker; print(tasker_core.__file__)")
	require.True(t, strings.HasPrefix(strings.TrimSpace(out), venv), "imported from %s, not the venv", out)
	out = run(t, tmp, vpy, "-m", "tasker_core.worker", "--help")
	require.Contains(t, out, "--handlers DIR")
}

// wheelPython is an interpreter that can build a wheel offline: python3 on
// PATH when it has setuptools and wheel, else Debian's /usr/bin/python3
// (python3-setuptools and python3-wheel).
func wheelPython(t *testing.T) string {
	t.Helper()
	candidates := []string{python3(t), "/usr/bin/python3"}
	for _, py := range candidates {
		if exec.Command(py, "-c", "import setuptools, wheel, venv, ensurepip").Run() == nil {
			return py
		}
	}
	t.Skipf("no python3 with setuptools, wheel and venv (tried %v): apt-get install python3-venv python3-setuptools python3-wheel", candidates)
	return ""
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PIP_NO_INPUT=1", "PIP_DISABLE_PIP_VERSION_CHECK=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %v:\n%s", name, args, out)
	return string(out)
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		target := filepath.Join(to, rel)
		if info.IsDir() {
			if info.Name() == "__pycache__" {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	require.NoError(t, err)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
