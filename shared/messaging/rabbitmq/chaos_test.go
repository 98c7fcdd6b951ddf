package rabbitmq_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging/rabbitmq"
	"github.com/tasker-go/tasker/shared/store"
)

// TestChaosBrokerStopped runs messages through outbox → relay → broker →
// consumer while the broker's application is stopped for about ten seconds
// and started again: every message is delivered at least once.
//
// It stops the local broker for everyone using it, so it is not parallel
// (no other test of this package runs meanwhile), holds the broker lock
// exclusively (other processes running these tests wait), keeps the outage
// short, and always starts the broker again, also when it fails. Set
// TASKER_SKIP_RABBITMQ_CHAOS to skip it; -short skips it too.
func TestChaosBrokerStopped(t *testing.T) {
	if testing.Short() || os.Getenv("TASKER_SKIP_RABBITMQ_CHAOS") != "" {
		t.Skip("broker chaos test skipped (-short or TASKER_SKIP_RABBITMQ_CHAOS)")
	}
	requireBroker(t)
	ownBroker(t)
	rabbitmqctl(t, "await_startup")

	e := newOutboxEnv(t)
	q := newQueue(t, e.c)
	r := e.relay(rabbitmq.RelayConfig{BatchSize: 20, PollInterval: 500 * time.Millisecond})
	startRelay(t, r)
	co := startConsumer(t, e.c, rabbitmq.ConsumerConfig{Queue: q, Prefetch: 20})

	const total = 300
	var mu sync.Mutex
	seen := map[int]int{}
	deliveries, stale := 0, 0
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for d := range co.Deliveries() {
			var body struct{ N int }
			if err := json.Unmarshal(d.Payload, &body); err != nil {
				t.Errorf("payload %s: %v", d.Payload, err)
			}
			err := d.Ack()
			mu.Lock()
			seen[body.N]++
			deliveries++
			if err != nil {
				stale++
			}
			mu.Unlock()
		}
	}()
	distinct := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }

	write := func(from, to int) {
		for i := from; i < to; i += 10 {
			var msgs []store.OutboxWrite
			for n := i; n < min(i+10, to); n++ {
				msgs = append(msgs, store.OutboxWrite{Queue: q, Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n))})
			}
			e.write(true, msgs...)
			r.Wake()
		}
	}
	write(0, total/3)
	eventually(t, "first messages flow", func() bool { return distinct() > 0 })

	// Registered last so that it runs first: the other clean-ups need the
	// broker.
	t.Cleanup(func() { rabbitmqctl(t, "start_app") })
	rabbitmqctl(t, "stop_app")
	stopped := time.Now()
	write(total/3, 2*total/3) // the outbox takes rows while the broker is away
	eventually(t, "client notices the outage", func() bool { return !e.c.Status().Connected })
	time.Sleep(time.Until(stopped.Add(10 * time.Second))) // the outage itself
	rabbitmqctl(t, "start_app")
	rabbitmqctl(t, "await_startup")
	write(2*total/3, total)

	deadline := time.Now().Add(2 * time.Minute)
	for distinct() < total && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	for n := range total {
		require.Positive(t, seen[n], "message %d never delivered", n)
	}
	t.Logf("%d messages, %d deliveries (%d duplicates, %d acks refused as stale), %d reconnects",
		total, deliveries, deliveries-total, stale, e.c.Status().Connects-1)
	mu.Unlock()
	eventually(t, "outbox emptied", func() bool { return e.depth() == 0 })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, co.Stop(ctx))
	<-consumed
}
