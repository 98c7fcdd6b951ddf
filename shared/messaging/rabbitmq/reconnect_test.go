package rabbitmq_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging/rabbitmq"
)

// survivesReconnect publishes and holds a delivery, runs breakConn, and
// checks that the client reconnects by itself, the held delivery's ack is
// refused as stale and the message comes again, a confirmed message that
// was waiting is delivered, and publishing works again.
func survivesReconnect(t *testing.T, c *rabbitmq.Client, breakConn func()) {
	t.Helper()
	ctx := testCtx(t)
	q := newQueue(t, c)
	p := newPublisher(t, c)
	co := startConsumer(t, c, rabbitmq.ConsumerConfig{Queue: q, Prefetch: 1})
	pub := func(id int64) {
		require.NoError(t, p.Publish(ctx, q, rabbitmq.Message{ID: id, Payload: json.RawMessage(`{}`)}))
	}
	pub(1)
	held := next(t, co)
	require.Equal(t, int64(1), held.ID)
	pub(2) // confirmed, waiting behind the held one (prefetch 1)
	require.Equal(t, int64(1), c.Status().Connects)

	breakConn()
	eventually(t, "reconnected", func() bool { st := c.Status(); return st.Connected && st.Connects == 2 })
	st := c.Status()
	require.NotEmpty(t, st.LastError)
	require.False(t, st.LastErrorAt.IsZero())

	require.ErrorIs(t, held.Ack(), rabbitmq.ErrStaleDelivery)
	pub(3) // the publisher opens a channel on the new connection
	seen := map[int64]int{}
	for len(seen) < 3 {
		d := next(t, co)
		seen[d.ID] = d.ReadCount
		require.NoError(t, d.Ack())
	}
	require.Equal(t, 2, seen[1], "the unacked message is redelivered, counted")
	require.Contains(t, seen, int64(2), "the confirmed message is not lost")
	require.Contains(t, seen, int64(3))
}

// TestReconnectAfterDroppedConnection: the TCP connection is cut under the
// client, as a network failure does.
func TestReconnectAfterDroppedConnection(t *testing.T) {
	t.Parallel()
	var d cutDialer
	c := newClient(t, func(cfg *rabbitmq.Config) { cfg.Dial = d.Dial })
	survivesReconnect(t, c, d.cut)
}

// TestReconnectAfterBrokerClosesConnection: the broker closes the
// connection (an operator, or a broker shutting down).
func TestReconnectAfterBrokerClosesConnection(t *testing.T) {
	t.Parallel()
	name := randomName("tasker-test-")
	c := newClient(t, func(cfg *rabbitmq.Config) { cfg.ConnectionName = name })
	survivesReconnect(t, c, func() {
		var pid string
		for _, line := range strings.Split(rabbitmqctl(t, "list_connections", "-s", "pid", "client_properties"), "\n") {
			if strings.Contains(line, name) {
				pid = strings.Fields(line)[0]
			}
		}
		require.NotEmpty(t, pid, "connection %s not listed", name)
		rabbitmqctl(t, "close_connection", pid, "closed by a test")
	})
	require.Contains(t, c.Status().LastError, "closed by a test")
}
