package rabbitnode

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// recordingTB records how StartForTest gives up instead of ending the
// test.
type recordingTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
}
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
}

// TestStartForTestWithoutRabbitMQ: with no rabbitmq-server installed the
// test skips with a message saying how to fail instead, and fails when
// TASKER_REQUIRE_RABBITMQ is set.
func TestStartForTestWithoutRabbitMQ(t *testing.T) {
	saved := binDirs
	binDirs = []string{t.TempDir()}
	t.Cleanup(func() { binDirs = saved })
	t.Setenv("PATH", t.TempDir())

	t.Setenv(RequireEnv, "")
	r := &recordingTB{TB: t}
	require.Nil(t, StartForTest(r, "tasker-missing"))
	require.Empty(t, r.failed)
	require.Contains(t, r.skipped, "rabbitmq-server and rabbitmqctl not found")
	require.Contains(t, r.skipped, "set TASKER_REQUIRE_RABBITMQ=1 to fail instead")

	t.Setenv(RequireEnv, "1")
	r = &recordingTB{TB: t}
	require.Nil(t, StartForTest(r, "tasker-missing"))
	require.Empty(t, r.skipped)
	require.Contains(t, r.failed, "TASKER_REQUIRE_RABBITMQ is set")
}
