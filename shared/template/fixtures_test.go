package template

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// fixturesDir is tasker-core's template fixtures, read in place (DESIGN §1).
const fixturesDir = "../../../shared/fixtures/tasker-core/task_templates"

// fixture returns the path of one fixture, skipping the test when the
// fixtures are not checked out next to the repository.
func fixture(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(fixturesDir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("tasker-core fixtures not found at %s (they live outside the repository): %v", p, err)
	}
	return p
}

// parseFixture parses a fixture holding exactly one template and validates it.
func parseFixture(t *testing.T, rel, env string) *Template {
	t.Helper()
	tpls, err := ParseFile(fixture(t, rel), ParseOptions{Environment: env})
	require.NoError(t, err)
	require.Len(t, tpls, 1)
	require.NoError(t, tpls[0].Validate())
	return tpls[0]
}

func TestEveryFixtureParsesAndValidates(t *testing.T) {
	dir := fixture(t, ".")
	for _, env := range []string{"", "test", "development", "production"} {
		tpls, err := LoadPaths([]string{dir}, ParseOptions{Environment: env})
		require.NoError(t, err, "env %q", env)
		require.Len(t, tpls, 93, "env %q", env)
		for _, tpl := range tpls {
			require.NoError(t, tpl.Validate(), "%s (env %q)", tpl.File(), env)
			_, err := tpl.CompileInputSchema()
			require.NoError(t, err, tpl.File())
			require.Len(t, tpl.TopologicalOrder(), len(tpl.Steps), tpl.File())
			require.NotEmpty(t, tpl.InitialSteps(), tpl.File())

			// The stored JSON form reads back to the same template.
			b, err := json.Marshal(tpl)
			require.NoError(t, err, tpl.File())
			var back Template
			require.NoError(t, json.Unmarshal(b, &back), tpl.File())
			b2, err := json.Marshal(&back)
			require.NoError(t, err)
			require.JSONEq(t, string(b), string(b2), tpl.File())
		}
	}
}
