package rabbitnode_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/internal/rabbitnode"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestStopStartKeepsDurableMessages: a private node accepts AMQP on its own
// port; after Stop the port is closed and the process gone; after Start, on
// the same port, a durable quorum queue still holds the persistent message
// published before the stop.
func TestStopStartKeepsDurableMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a RabbitMQ node twice")
	}
	n := rabbitnode.StartForTest(t, "tasker-nodetest")
	require.True(t, n.Running())
	require.NotEqual(t, 5672, n.Port, "a port of its own")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	require.Error(t, n.Start(ctx), "a running node cannot be started twice")

	conn, err := amqp.Dial(n.URL())
	require.NoError(t, err)
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclare("survivor", true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
	require.NoError(t, err)
	require.NoError(t, ch.Confirm(false))
	conf, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", "survivor", true, false,
		amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte("kept")})
	require.NoError(t, err)
	ok, err := conf.WaitContext(ctx)
	require.NoError(t, err)
	require.True(t, ok, "the broker confirmed the message")
	require.NoError(t, conn.Close())

	require.NoError(t, n.Stop(ctx))
	require.False(t, n.Running())
	_, err = net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(n.Port), time.Second)
	require.Error(t, err, "the stopped node's port is closed")
	require.NoError(t, n.Stop(ctx), "stopping a stopped node does nothing")

	require.NoError(t, n.Start(ctx))
	conn, err = amqp.Dial(n.URL())
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	ch, err = conn.Channel()
	require.NoError(t, err)
	var msg amqp.Delivery
	require.Eventually(t, func() bool {
		var ok bool
		msg, ok, err = ch.Get("survivor", true)
		return err == nil && ok
	}, time.Minute, 100*time.Millisecond, "the durable message did not survive the restart (last error %v)", err)
	require.Equal(t, "kept", string(msg.Body))
}

// TestNewRefusesBadNames: a node name that is not a plain word is refused
// before anything is written.
func TestNewRefusesBadNames(t *testing.T) {
	for _, name := range []string{"", "a@b", "two words", "dots.not.allowed"} {
		_, err := rabbitnode.New(t.TempDir(), name)
		require.Error(t, err, name)
		require.Contains(t, err.Error(), "node name")
	}
}
