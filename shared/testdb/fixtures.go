package testdb

import (
	"os"
	"path/filepath"
	"testing"
)

// FixturesDir returns tasker-core's fixture folder (task_templates/, the CSV
// files), which lives beside the repository at ../shared/fixtures/tasker-core
// (or where TASKER_FIXTURES_DIR points). Tests read fixtures in place; when
// they are absent the test is skipped with a message saying so.
func FixturesDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("TASKER_FIXTURES_DIR"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Skipf("tasker-core fixtures: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("tasker-core fixtures: module root not found")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "fixtures", "tasker-core")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("tasker-core fixtures not found at %s (they live outside the repository; set TASKER_FIXTURES_DIR)", p)
	}
	return p
}

// Fixture returns the path of one file under FixturesDir.
func Fixture(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(FixturesDir(t), rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("fixture %s not found: %v", p, err)
	}
	return p
}
