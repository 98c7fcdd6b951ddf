// Package brokertest gives tests a private virtual host on the local
// RabbitMQ, so that tests on the rabbitmq queue backend share no queue with
// each other or with other test processes. It sits below every package that
// runs such tests (the store, the worker, orchestration, the system tests),
// none of which it imports.
package brokertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// VHost creates a private virtual host on the local RabbitMQ (with
// rabbitmqctl) for one test, deleted when the test ends, and returns its
// AMQP URL. The test is skipped when the broker or rabbitmqctl is not
// available, unless TASKER_REQUIRE_RABBITMQ is set; then it fails.
func VHost(t testing.TB) string {
	t.Helper()
	skip := func(why string) {
		if os.Getenv("TASKER_REQUIRE_RABBITMQ") != "" {
			t.Fatalf("%s and TASKER_REQUIRE_RABBITMQ is set", why)
		}
		t.Skip(why + ": skipping; set TASKER_REQUIRE_RABBITMQ=1 to fail instead")
	}
	dialer := net.Dialer{Timeout: 2 * time.Second}
	conn, err := dialer.DialContext(context.Background(), "tcp", "127.0.0.1:5672")
	if err != nil {
		skip("RabbitMQ not reachable at 127.0.0.1:5672")
		return ""
	}
	_ = conn.Close()
	ctl, err := exec.LookPath("rabbitmqctl")
	if err != nil {
		skip("rabbitmqctl not found")
		return ""
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	vhost := "tasker_systest_" + hex.EncodeToString(b[:])
	run := func(args ...string) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, ctl, args...).CombinedOutput()
		require.NoError(t, err, "rabbitmqctl %v: %s", args, out)
	}
	run("add_vhost", vhost)
	t.Cleanup(func() { run("delete_vhost", vhost) })
	run("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
	return "amqp://guest:guest@127.0.0.1:5672/" + vhost
}
