package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/shared/domainevent"
	"github.com/tasker-go/tasker/shared/messaging/pgqueue"
	"github.com/tasker-go/tasker/shared/testdb"
)

// TestDomainEventsExactlyOnceAcrossWorkerKill runs tasker-core's
// domain_event_publishing workflow on a tasker server and native workers as
// processes, SIGKILLs the first worker while tasks are in flight, and lets
// a second one finish. Every task completes; every committed step published
// its events exactly once: four per task in the task's domain events (two
// fast, inventory.updated always, payment.processed durable) and exactly one
// payment.processed per task through the durable queue, read by the
// durable consumer. A declined payment publishes payment.failed instead.
func TestDomainEventsExactlyOnceAcrossWorkerKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tplDir := t.TempDir()
	src, err := os.ReadFile(testdb.Fixture(t, "task_templates/rust/domain_event_publishing.yaml"))
	require.NoError(t, err)
	// Without its test-environment overrides (one attempt per step), so
	// that a step whose worker was killed runs again.
	if i := bytes.Index(src, []byte("\nenvironments:")); i >= 0 {
		src = src[:i+1]
	}
	require.NoError(t, os.WriteFile(filepath.Join(tplDir, "domain_event_publishing.yaml"), src, 0o600))
	db, env := schemaEnv(t, "TASKER__WORKER__CLAIMS__VISIBILITY_TIMEOUT=2s",
		"TASKER__WORKER__CLAIMS__HEARTBEAT_INTERVAL=500ms")
	env = append(env, "TASKER_TEMPLATE_PATH="+tplDir)
	c := startServer(t, env)
	victim := start(t, append(env, "TASKER__WORKER__WORKER_ID=victim"), "tasker-worker")
	victim.waitLine(t, workerStarted)

	// The durable consumer reads what the server publishes.
	pool := db.Pool(t, 4)
	q, err := pgqueue.New(pgqueue.Config{Pool: pool, Schema: db.Schema, PollInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	var mu sync.Mutex
	delivered := map[uuid.UUID]int{}    // event id -> deliveries
	perTask := map[uuid.UUID][]string{} // task -> durable event names
	consumer, err := domainevent.NewConsumer(domainevent.ConsumerConfig{
		Namespace: "domain_events_rust", Queue: q,
		Handler: func(_ context.Context, e domainevent.Event) error {
			mu.Lock()
			defer mu.Unlock()
			delivered[e.EventID]++
			perTask[e.Metadata.TaskUUID] = append(perTask[e.Metadata.TaskUUID], e.EventName)
			return nil
		},
	})
	require.NoError(t, err)
	require.NoError(t, consumer.Start(ctx))
	defer func() { require.NoError(t, consumer.Stop(ctx)) }()

	create := func(i int, fail bool, delayMs int) uuid.UUID {
		body := fmt.Sprintf(`{"order_id": %q, "customer_id": "CUST-%d", "amount": %d.5, "simulate_failure": %v,
			"payment_delay_ms": %d}`, uuid.NewString(), i, 10+i, fail, delayMs)
		task, err := c.CreateTask(ctx, client.TaskRequest{Namespace: "domain_events_rust", Name: "domain_event_publishing",
			Version: "1.0.0", Context: json.RawMessage(body)})
		require.NoError(t, err)
		return task.TaskUUID
	}
	// The first task's payment takes seconds: the worker is killed while it
	// runs (its order.validated committed), with the other tasks queued or
	// in flight.
	const n = 16
	tasks := []uuid.UUID{create(0, false, 3000)}
	for i := 1; i < n; i++ {
		tasks = append(tasks, create(i, false, 0))
	}
	declined := create(n, true, 0)
	require.Eventually(t, func() bool {
		steps, err := c.Steps(ctx, tasks[0])
		if err != nil {
			return false
		}
		for _, st := range steps {
			if st.Name == "domain_events_process_payment" && st.CurrentState == "in_progress" {
				return true
			}
		}
		return false
	}, 60*time.Second, 5*time.Millisecond)
	require.NoError(t, victim.cmd.Process.Signal(syscall.SIGKILL))
	<-victim.exited
	rescuer := start(t, append(env, "TASKER__WORKER__WORKER_ID=rescuer"), "tasker-worker")
	rescuer.waitLine(t, workerStarted)

	rerun := 0
	for _, id := range tasks {
		final, err := c.Wait(ctx, id, nil)
		require.NoError(t, err)
		require.Equal(t, "complete", final.Status, "task %s", id)
		for _, st := range final.Steps {
			if st.Attempts > 1 {
				rerun++
			}
		}
		evs, err := c.DomainEvents(ctx, id, 0)
		require.NoError(t, err)
		var names []string
		ids := map[uuid.UUID]bool{}
		for _, e := range evs {
			names = append(names, e.EventName+"/"+e.Metadata.DeliveryMode)
			require.False(t, ids[e.EventID], "event %s listed twice", e.EventID)
			ids[e.EventID] = true
			require.Equal(t, id, e.Metadata.TaskUUID)
			require.Equal(t, "domain_events_rust", e.Metadata.Namespace)
		}
		require.Equal(t, []string{"order.validated/fast", "payment.processed/durable", "inventory.updated/fast",
			"notification.sent/fast"}, names, "task %s: one event per committed step", id)
	}
	t.Logf("%d steps ran again after the kill", rerun)
	require.Positive(t, rerun, "the payment the worker was killed in ran again")
	final, err := c.Wait(ctx, declined, nil)
	require.NoError(t, err)
	require.Equal(t, "error", final.Status)
	evs, err := c.DomainEvents(ctx, declined, 0)
	require.NoError(t, err)
	require.Len(t, evs, 2)
	require.Equal(t, "payment.failed", evs[1].EventName)

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(perTask) == n+1
	}, 30*time.Second, 10*time.Millisecond, "every task's durable event was consumed")
	mu.Lock()
	defer mu.Unlock()
	for _, id := range tasks {
		require.Equal(t, []string{"payment.processed"}, perTask[id], "task %s", id)
	}
	require.Equal(t, []string{"payment.failed"}, perTask[declined])
	for id, k := range delivered {
		require.Equal(t, 1, k, "event %s delivered %d times", id, k)
	}
}
