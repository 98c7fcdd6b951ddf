package rabbitnode

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// RequireEnv names the environment variable that turns a missing broker
// into a test failure instead of a skip (scripts/test.sh sets it).
const RequireEnv = "TASKER_REQUIRE_RABBITMQ"

var testNodes atomic.Int64

// StartForTest starts a private node for one test, in a temporary folder,
// and stops it when the test ends (logging the end of the broker's log when
// the test failed). The node name starts with prefix and names the process,
// so nodes of parallel tests and test processes never collide. The test is
// skipped when rabbitmq-server is not installed, unless
// TASKER_REQUIRE_RABBITMQ is set: then it fails.
func StartForTest(t testing.TB, prefix string) *Node {
	t.Helper()
	if _, err := FindBinDir(); err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("this test runs a private RabbitMQ node: %v, and %s is set", err, RequireEnv)
			return nil
		}
		t.Skipf("this test runs a private RabbitMQ node: %v: skipping; set %s=1 to fail instead", err, RequireEnv)
		return nil
	}
	n, err := New(t.TempDir(), fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), testNodes.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := n.Stop(sctx); err != nil {
			t.Errorf("stopping the private RabbitMQ node: %v", err)
		}
		if t.Failed() {
			n.logTail(t)
		}
	})
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return n
}

// logTail logs the last lines of the broker's log.
func (n *Node) logTail(t testing.TB) {
	b, err := os.ReadFile(n.LogFile())
	if err != nil {
		t.Logf("private RabbitMQ log: %v", err)
		return
	}
	const keep = 8000
	if len(b) > keep {
		b = b[len(b)-keep:]
	}
	t.Logf("end of the private RabbitMQ node's log (%s):\n%s", n.LogFile(), b)
}
