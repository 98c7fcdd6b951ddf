package pgqueue_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/messaging/pgqueue"
	"github.com/tasker-go/tasker/shared/messaging/queuetest"
	"github.com/tasker-go/tasker/shared/pgnotify"
	"github.com/tasker-go/tasker/shared/testdb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newHarness(t testing.TB) queuetest.Harness {
	db := testdb.New(t)
	pool := db.Pool(t, 12)
	connCfg, err := pgx.ParseConfig(db.URL)
	require.NoError(t, err)
	l, err := pgnotify.New(pgnotify.Config{ConnConfig: connCfg})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, l.Start(ctx))
	t.Cleanup(l.Stop)
	q, err := pgqueue.New(pgqueue.Config{Pool: pool, Schema: db.Schema, Listener: l})
	require.NoError(t, err)
	return queuetest.Harness{Queue: q, Pool: pool}
}

func TestConformance(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queuetest.Harness { return newHarness(t) })
}

func TestNotifyOnlyAfterCommit(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	require.NoError(t, h.Queue.Ensure(ctx, "late"))
	ch, cancel := h.Queue.Subscribe("late")
	defer cancel()
	// Drain the connect wake-up.
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
	}
	tx, err := h.Pool.Begin(ctx)
	require.NoError(t, err)
	w := h.Queue.NewWork()
	b := &pgx.Batch{}
	require.NoError(t, w.Send(ctx, b, "late", 0, []json.RawMessage{json.RawMessage(`{}`)}))
	require.NoError(t, tx.SendBatch(ctx, b).Close())
	select {
	case <-ch:
		t.Fatal("woken before commit")
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, w.Finish(ctx, true))
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up after commit")
	}
}

func BenchmarkSend(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	require.NoError(b, h.Queue.Ensure(ctx, "bench"))
	p := json.RawMessage(`{"task_uuid":"0190f1a2-0000-7000-8000-000000000000","step_uuid":"0190f1a2-0000-7000-8000-000000000001"}`)
	b.ResetTimer()
	for b.Loop() {
		if err := h.Queue.Send(ctx, "bench", 0, p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSendBatch100(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	require.NoError(b, h.Queue.Ensure(ctx, "bench"))
	ps := make([]json.RawMessage, 100)
	for i := range ps {
		ps[i] = json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))
	}
	b.ResetTimer()
	for b.Loop() {
		if err := h.Queue.Send(ctx, "bench", 0, ps...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkClaimAck measures claim+ack of batches of 10 (the worker's shape).
func BenchmarkClaimAck10(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	require.NoError(b, h.Queue.Ensure(ctx, "bench"))
	ps := make([]json.RawMessage, 1000)
	for i := range ps {
		ps[i] = json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))
	}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		st, err := h.Queue.Stats(ctx, "bench")
		require.NoError(b, err)
		if st.Visible < 10 {
			require.NoError(b, h.Queue.Send(ctx, "bench", 0, ps...))
		}
		b.StartTimer()
		ms, err := h.Queue.Claim(ctx, "bench", messaging.ClaimOptions{N: 10, Visibility: time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		if err := h.Queue.Ack(ctx, "bench", messaging.ReceiptsOf(ms)...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*10)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkClaimRoutedAck10 measures claim+ack of batches of 10 on step
// messages of 3 callables, three ways over the same messages: an unrouted
// claim (a worker that does not route), a routed claim serving the 3
// callables, and one serving 63 more that have no messages (the native
// example worker has 66 callables). The difference is the cost of routing.
func BenchmarkClaimRoutedAck10(b *testing.B) {
	for _, bc := range []struct {
		name  string
		extra int // served callables without messages; -1: unrouted
	}{{"unrouted", -1}, {"routes=3", 0}, {"routes=66", 63}} {
		b.Run(bc.name, func(b *testing.B) { benchClaimRouted(b, bc.extra) })
	}
}

func benchClaimRouted(b *testing.B, extra int) {
	h := newHarness(b)
	q := h.Queue.(*pgqueue.Queue)
	ctx := context.Background()
	require.NoError(b, q.Ensure(ctx, "bench"))
	ps := make([]json.RawMessage, 1000)
	for i := range ps {
		ps[i] = json.RawMessage(fmt.Sprintf(`{"task_uuid":"0190f1a2-0000-7000-8000-000000000000",`+
			`"step_uuid":"0190f1a2-0000-7000-8000-%012d","callable":"bench.handler_%d"}`, i, i%3))
	}
	routes := []string{"bench.handler_0", "bench.handler_1", "bench.handler_2"}
	for i := range extra {
		routes = append(routes, fmt.Sprintf("bench.idle_%d", i))
	}
	waiting := 0
	b.ResetTimer()
	for b.Loop() {
		if waiting < 10 {
			b.StopTimer()
			require.NoError(b, q.Send(ctx, "bench", 0, ps...))
			waiting += len(ps)
			b.StartTimer()
		}
		o := messaging.ClaimOptions{N: 10, Visibility: time.Minute, Routes: routes}
		if extra < 0 {
			o.Routes = nil
		}
		ms, err := q.Claim(ctx, "bench", o)
		if err != nil {
			b.Fatal(err)
		}
		waiting -= len(ms)
		if err := q.Ack(ctx, "bench", messaging.ReceiptsOf(ms)...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*10)/b.Elapsed().Seconds(), "msgs/s")
}
