// Package brokertest gives tests a private virtual host on the local
// RabbitMQ, so that tests on the rabbitmq queue backend share no queue with
// each other or with other test processes. It sits below every package that
// runs such tests (the store, the worker, orchestration, the system tests),
// none of which it imports; the virtual hosts are made by
// internal/brokervhost, which tasker bench uses too.
package brokertest

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/brokervhost"
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
	const base = "amqp://guest:guest@127.0.0.1:5672/" //nolint:gosec // the local test broker's documented guest account
	if err := brokervhost.Reachable(context.Background(), base); err != nil {
		skip(err.Error())
		return ""
	}
	v, err := brokervhost.Create(context.Background(), base, "tasker_systest_")
	if errors.Is(err, brokervhost.ErrNoRabbitmqctl) {
		skip("rabbitmqctl not found")
		return ""
	}
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		require.NoError(t, v.Delete(ctx))
	})
	return v.URL
}
