// Package archtest checks the module's dependency flow (docs/architecture.md, package map):
// shared imports neither orchestration nor worker; orchestration and worker
// never import each other; handler packages and bindings sit on worker; the
// REST API's types (api) import nothing of the module, and the Go client
// nothing but them. The graph rules (shared/dag) are pure: no data access
// (rules_test.go); handler-facing packages (worker, worker/workertest) do
// not expose the store's types in their exported API (api_surface_test.go).
package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const module = "github.com/tasker-go/tasker/"

// forbidden maps a package prefix to prefixes it must not depend on
// (directly or transitively).
var forbidden = map[string][]string{
	"shared/":       {"orchestration", "worker", "workers/", "bindings/", "cmd/"},
	"orchestration": {"worker", "workers/", "bindings/", "cmd/"},
	"worker":        {"orchestration", "workers/", "bindings/", "cmd/"},
	"workers/":      {"orchestration", "bindings/", "cmd/"},
	"bindings/":     {"orchestration", "cmd/"},
	"config":        {"shared/", "orchestration", "worker", "cmd/"},
	"internal/":     {"cmd/"},
	// The REST API's types are a leaf any program can import; the Go
	// client speaks them and nothing of the server.
	"api":    {"shared/", "orchestration", "worker", "workers/", "bindings/", "cmd/", "client", "internal/", "config"},
	"client": {"shared/", "orchestration", "worker", "workers/", "bindings/", "cmd/", "internal/", "config"},
}

func matches(rel, prefix string) bool {
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(rel, prefix)
	}
	return rel == prefix || strings.HasPrefix(rel, prefix+"/")
}

func TestDependencyFlow(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, module+"...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	checked := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || !strings.HasPrefix(fields[0], module) {
			continue
		}
		pkg := strings.TrimPrefix(fields[0], module)
		for from, bans := range forbidden {
			if !matches(pkg, from) {
				continue
			}
			checked++
			for _, dep := range fields[1:] {
				if !strings.HasPrefix(dep, module) {
					continue
				}
				d := strings.TrimPrefix(dep, module)
				for _, ban := range bans {
					// "worker" must not match "workers/...": matches handles it.
					require.False(t, matches(d, ban), "%s must not depend on %s (docs/architecture.md, package map)", pkg, d)
				}
			}
		}
	}
	require.NoError(t, sc.Err())
	require.Positive(t, checked)
}

func TestMatches(t *testing.T) {
	require.True(t, matches("worker", "worker"))
	require.True(t, matches("worker/workertest", "worker"))
	require.False(t, matches("workers/native", "worker"))
	require.True(t, matches("workers/native", "workers/"))
	require.False(t, matches("shared/store", "orchestration"))
}
