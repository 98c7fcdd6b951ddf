package ruby_test

import (
	"os/exec"
	"testing"
)

// TestMinitest runs the gem's own suite (API, DSL, registry, runner against
// a stand-in library, fixture workflows with hand-built events), once with
// events as the indexed poll hands them over (decoded part by part) and
// once as the plain poll does (decoded whole): handlers must see the same
// either way.
func TestMinitest(t *testing.T) {
	ruby := rubyPath(t)
	for _, poll := range []string{"indexed", "plain"} {
		cmd := exec.Command(ruby, "-Ilib", "-Itest", "test/all.rb")
		cmd.Env = append(cmd.Environ(), "TASKER_LOG_LEVEL=error", "TASKER_TEST_POLL="+poll)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ruby -Ilib -Itest test/all.rb (%s poll): %v\n%s", poll, err, out)
		}
		t.Logf("%s poll: %s", poll, lastLines(string(out), 3))
	}
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
