package archtest

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGraphRulesArePure: the graph rules (shared/dag) are pure functions
// over data. They depend on the state machines and nothing else of the
// module, and on no database driver, so they cannot read or write rows
// themselves; the store loads the rows and applies them (shared never
// imports orchestration: TestDependencyFlow).
func TestGraphRulesArePure(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", module+"shared/dag")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	allowed := map[string]bool{module + "shared/dag": true, module + "shared/state": true}
	deps := strings.Fields(string(out))
	require.Contains(t, deps, module+"shared/state")
	for _, d := range deps {
		if strings.HasPrefix(d, module) {
			require.True(t, allowed[d], "shared/dag must not depend on %s: the rules stay free of data access", d)
		}
		require.False(t, strings.HasPrefix(d, "github.com/jackc/"), "shared/dag must not depend on the database driver (%s)", d)
	}
}
