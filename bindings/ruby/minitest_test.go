package ruby_test

import (
	"os/exec"
	"testing"
)

// TestMinitest runs the gem's own suite (API, DSL, registry, runner against
// a stand-in library, fixture workflows with hand-built events).
func TestMinitest(t *testing.T) {
	ruby := rubyPath(t)
	cmd := exec.Command(ruby, "-Ilib", "-Itest", "test/all.rb")
	cmd.Env = append(cmd.Environ(), "TASKER_LOG_LEVEL=error")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ruby -Ilib -Itest test/all.rb: %v\n%s", err, out)
	}
	t.Logf("%s", lastLines(string(out), 3))
}

func lastLines(s string, n int) string {
	end := len(s)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' && i < len(s)-1 {
			n--
			if n == 0 {
				return s[i+1 : end]
			}
		}
	}
	return s
}
