package rabbitmq_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
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

// BenchmarkDriverClaim: a queue holding b.N messages is drained by
// concurrent claimers of one driver, each claiming up to 10 messages and
// acking them, as workers and orchestration do; ns/op is per message and
// msgs/s the drain rate.
func BenchmarkDriverClaim(b *testing.B) {
	for _, claimers := range []int{1, 4} {
		b.Run(fmt.Sprintf("claimers=%d", claimers), func(b *testing.B) {
			env := newDriverEnv(b)
			q := randomName("q_")
			ctx := testCtx(b)
			require.NoError(b, env.d.Ensure(ctx, q))
			b.Cleanup(func() { _ = env.c.DeleteQueue(context.Background(), q) })
			payload := json.RawMessage(`{"task_uuid":"0192f0c6-3e1a-7d4e-9a51-6c1f0f3b8e21","step_uuid":"0192f0c6-3e1a-7d4e-9a51-6c1f0f3b8e22"}`)
			for sent := 0; sent < b.N; {
				batch := make([]json.RawMessage, min(500, b.N-sent))
				for i := range batch {
					batch[i] = payload
				}
				require.NoError(b, env.d.Send(ctx, q, 0, batch...))
				sent += len(batch)
			}
			var taken atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range claimers {
				wg.Go(func() {
					wake, stop := env.d.Subscribe(q)
					defer stop()
					for taken.Load() < int64(b.N) {
						ms, err := env.d.Claim(ctx, q, messaging.ClaimOptions{N: 10, Visibility: time.Minute})
						if err != nil {
							b.Error(err)
							return
						}
						if len(ms) == 0 {
							select {
							case <-wake:
							case <-time.After(50 * time.Millisecond):
							}
							continue
						}
						if err := env.d.Ack(ctx, q, messaging.ReceiptsOf(ms)...); err != nil {
							b.Error(err)
							return
						}
						taken.Add(int64(len(ms)))
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}
