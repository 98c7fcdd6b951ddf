package systest

import (
	"testing"

	"github.com/tasker-go/tasker/internal/brokertest"
)

// BrokerVHost creates a private virtual host on the local RabbitMQ for one
// test, deleted when the test ends, and returns its AMQP URL: a system on
// it shares no queue with other tests. The test is skipped when the broker
// or rabbitmqctl is not available, unless TASKER_REQUIRE_RABBITMQ is set;
// then it fails (see brokertest.VHost).
func BrokerVHost(t testing.TB) string {
	t.Helper()
	return brokertest.VHost(t)
}
