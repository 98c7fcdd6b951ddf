package rabbitmq_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging/rabbitmq"
	"github.com/tasker-go/tasker/shared/store"
)

// BenchmarkPublish: persistent messages published with confirms, one
// confirm round per batch; ns/op is per message.
func BenchmarkPublish(b *testing.B) {
	for _, batch := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			c := newClient(b, nil)
			q := newQueue(b, c)
			p := newPublisher(b, c)
			ctx := testCtx(b)
			msgs := make([]rabbitmq.Message, batch)
			for i := range msgs {
				msgs[i] = rabbitmq.Message{Payload: json.RawMessage(`{"task_uuid":"0192f0c6-3e1a-7d4e-9a51-6c1f0f3b8e21","step_uuid":"0192f0c6-3e1a-7d4e-9a51-6c1f0f3b8e22"}`)}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i += batch {
				require.NoError(b, p.Publish(ctx, q, msgs...))
			}
		})
	}
}

// BenchmarkOutboxToAck: one message at a time through the whole path: a
// transaction writes the outbox row and commits, the relay (woken at once)
// publishes it with a confirm and deletes the row, the consumer receives and
// acks it. ns/op is the latency of one message.
func BenchmarkOutboxToAck(b *testing.B) {
	e := newOutboxEnv(b)
	q := newQueue(b, e.c)
	r := e.relay(rabbitmq.RelayConfig{PollInterval: time.Hour})
	startRelay(b, r)
	co := startConsumer(b, e.c, rabbitmq.ConsumerConfig{Queue: q, Prefetch: 10})
	b.ResetTimer()
	for range b.N {
		e.write(true, store.OutboxWrite{Queue: q, Payload: json.RawMessage(`{}`)})
		r.Wake()
		require.NoError(b, next(b, co).Ack())
	}
}
