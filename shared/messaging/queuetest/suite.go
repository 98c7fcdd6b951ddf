// Package queuetest is the conformance suite every messaging.Driver must
// pass: ordering, visibility timeout expiry and redelivery, exclusive
// concurrent claims, delays, batches, receipts, stats, wake-ups and claims
// by route; and the unit-of-work contract of messaging.Work (sends, acks,
// deferrals and claims that take effect only with the commit of the
// PostgreSQL transaction they are part of). It is written against the
// interface only, so every driver runs the same tests.
package queuetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
)

// Harness is one fresh driver for one subtest.
type Harness struct {
	Queue messaging.Driver
	// Pool is the Tasker database the driver's units of work are
	// transactions of (its connections use the Tasker schema).
	Pool *pgxpool.Pool
	// OrderWithinRoute is set by a driver whose claim over several routes
	// takes each route's messages oldest first but does not pick the
	// oldest across routes (a broker keeps one queue per route and cannot
	// compare their heads without taking them). The suite then checks the
	// weaker guarantee where it would check the order across routes: each
	// route in order, n at most, nothing taken twice or lost.
	OrderWithinRoute bool
}

// Run runs the suite. newHarness must return an independent driver (fresh
// schema, fresh broker queues) each time it is called.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"RoundTrip", testRoundTrip},
		{"FIFOOrdering", testOrdering},
		{"VisibilityTimeoutRedelivers", testVisibilityTimeout},
		{"AckRemoves", testAck},
		{"NackRedeliversNow", testNack},
		{"ExtendKeepsHidden", testExtend},
		{"DelayedSend", testDelay},
		{"BatchSendAndClaim", testBatch},
		{"ConcurrentClaimersExclusive", testConcurrentClaimers},
		{"StaleReceiptsDoNothing", testStaleReceipts},
		{"WorkSendCommitsWithTheTransaction", testWorkSend},
		{"WorkAckOnlyAfterCommit", testWorkAck},
		{"WorkDeferOnlyAfterCommit", testWorkDefer},
		{"WorkClaimIsPartOfTheTransaction", testWorkClaim},
		{"WorkClaimRouted", testWorkClaimRouted},
		{"Stats", testStats},
		{"NextVisible", testNextVisible},
		{"SubscribeWakes", testSubscribe},
		{"InvalidNamesRejected", testInvalidNames},
		{"StatsOfMissingQueue", testStatsOfMissingQueue},
		{"RoutedClaim", testRoutedClaim},
		{"RoutedClaimSkipsOtherRoutes", testRoutedClaimDeep},
		{"RoutedClaimersExclusive", testRoutedConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newHarness(t))
		})
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func msg(i int) json.RawMessage { return json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)) }

func num(t *testing.T, m messaging.Message) int {
	var v struct{ N int }
	require.NoError(t, json.Unmarshal(m.Payload, &v))
	return v.N
}

func ensure(t *testing.T, h Harness, q string) {
	require.NoError(t, h.Queue.Ensure(ctxT(t), q))
}

// claimEventually polls until at least want messages were claimed or the
// deadline passes.
func claimEventually(t *testing.T, h Harness, q string, want int, vt time.Duration) []messaging.Message {
	t.Helper()
	ctx := ctxT(t)
	var got []messaging.Message
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		ms, err := h.Queue.Claim(ctx, q, messaging.ClaimOptions{N: want - len(got), Visibility: vt})
		require.NoError(t, err)
		got = append(got, ms...)
		if len(got) < want {
			wait(10 * time.Millisecond)
		}
	}
	require.Len(t, got, want, "claimed messages before the deadline")
	return got
}

// wait is the poll interval of the deadline loops above (never an assertion
// on timing).
func wait(d time.Duration) { <-time.After(d) }

func testRoundTrip(t *testing.T, h Harness) {
	ctx := ctxT(t)
	ensure(t, h, "rt")
	require.NoError(t, h.Queue.Send(ctx, "rt", 0, json.RawMessage(`{"hello":"world","n":7}`)))
	ms := claimEventually(t, h, "rt", 1, time.Minute)
	require.JSONEq(t, `{"hello":"world","n":7}`, string(ms[0].Payload))
	require.Equal(t, 1, ms[0].ReadCount)
	require.Equal(t, "rt", ms[0].Queue)
	require.True(t, ms[0].VisibleAt.After(time.Now().Add(30*time.Second)))
	more, err := h.Queue.Claim(ctx, "rt", messaging.ClaimOptions{N: 10, Visibility: time.Minute})
	require.NoError(t, err)
	require.Empty(t, more, "a claimed message is hidden")
}

func testOrdering(t *testing.T, h Harness) {
	ctx := ctxT(t)
	ensure(t, h, "fifo")
	for i := range 20 {
		require.NoError(t, h.Queue.Send(ctx, "fifo", 0, msg(i)))
	}
	got := claimEventually(t, h, "fifo", 20, time.Minute)
	for i, m := range got {
		require.Equal(t, i, num(t, m), "messages come out in send order")
	}
}

func testVisibilityTimeout(t *testing.T, h Harness) {
	ctx := ctxT(t)
	ensure(t, h, "vt")
	require.NoError(t, h.Queue.Send(ctx, "vt", 0, msg(1)))
	first := claimEventually(t, h, "vt", 1, 300*time.Millisecond)
	again := claimEventually(t, h, "vt", 1, time.Minute)
	require.Equal(t, first[0].ID, again[0].ID, "the same message is redelivered")
	require.Equal(t, 2, again[0].ReadCount)
	require.NoError(t, h.Queue.Ack(ctx, "vt", messaging.ReceiptOf(again[0])))
}

func testAck(t *testing.T, h Harness) {
	ctx := ctxT(t)
	ensure(t, h, "ack")
	require.NoError(t, h.Queue.Send(ctx, "ack", 0, []json.RawMessage{msg(1), msg(2)}...))
	ms := claimEventually(t, h, "ack", 2, 200*time.Millisecond)
	require.NoError(t, h.Queue.Ack(ctx, "ack", messaging.ReceiptOf(ms[0])))
	// The unacked one comes back after its timeout; the acked one never does.
	back := claimEventually(t, h, "ack", 1, time.Minute)
	require.Equal(t, ms[1].ID, back[0].ID)
	require.NoError(t, h.Queue.Ack(ctx, "ack", messaging.ReceiptOf(back[0])))
	st, err := h.Queue.Stats(ctx, "ack")
	require.NoError(t, err)
	require.Zero(t, st.Depth)
}

func testNack(t *testing.T, h Harness) {
	ctx := ctxT(t)
	ensure(t, h, "nack")
	require.NoError(t, h.Queue.Send(ctx, "nack", 0, msg(1)))
	ms := claimEventually(t, h, "nack", 1, time.Hour)
	require.NoError(t, h.Queue.Nack(ctx, "nack", 0, messaging.ReceiptOf(ms[0])))
	back := claimEventually(t, h, "nack", 1, time.Hour)
	require.Equal(t, ms[0].ID, back[0].ID)
}

func testExtend(t *testing.T, h Harness) {
	ctx := ctxT(t)
	ensure(t, h, "ext")
	require.NoError(t, h.Queue.Send(ctx, "ext", 0, msg(1)))
	ms := claimEventually(t, h, "ext", 1, 300*time.Millisecond)
	require.NoError(t, h.Queue.Extend(ctx, "ext", time.Hour, messaging.ReceiptOf(ms[0])))
	// Well past the original timeout the message is still hidden.
	next, ok, err := h.Queue.NextVisible(ctx, "ext")
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, next.After(time.Now().Add(30*time.Minute)), "extended timeout is in effect")
	got, err := h.Queue.Claim(ctx, "ext", messaging.ClaimOptions{N: 1, Visibility: time.Minute})
	require.NoError(t, err)
	require.Empty(t, got)
}

func testDelay(t *testing.T, h Harness) {
	ctx := ctxT(t)
	ensure(t, h, "delay")
	sent := time.Now()
	require.NoError(t, h.Queue.Send(ctx, "delay", 400*time.Millisecond, msg(1)))
	require.NoError(t, h.Queue.Send(ctx, "delay", 0, msg(2)))
	first := claimEventually(t, h, "delay", 1, time.Minute)
	require.Equal(t, 2, num(t, first[0]), "the undelayed message is delivered first")
	later := claimEventually(t, h, "delay", 1, time.Minute)
	require.Equal(t, 1, num(t, later[0]))
	require.GreaterOrEqual(t, time.Since(sent), 400*time.Millisecond, "a delayed message is not delivered early")
}

func testBatch(t *testing.T, h Harness) {
	ctx := ctxT(t)
	ensure(t, h, "batch")
	var ps []json.RawMessage
	for i := range 50 {
		ps = append(ps, msg(i))
	}
	require.NoError(t, h.Queue.Send(ctx, "batch", 0, ps...))
	a := claimEventually(t, h, "batch", 20, time.Minute)
	b := claimEventually(t, h, "batch", 20, time.Minute)
	c := claimEventually(t, h, "batch", 10, time.Minute)
	seen := map[int]bool{}
	for _, m := range append(append(a, b...), c...) {
		seen[num(t, m)] = true
	}
	require.Len(t, seen, 50)
	none, err := h.Queue.Claim(ctx, "batch", messaging.ClaimOptions{N: 10, Visibility: time.Minute})
	require.NoError(t, err)
	require.Empty(t, none)
}

func testConcurrentClaimers(t *testing.T, h Harness) {
	ctx := ctxT(t)
	ensure(t, h, "conc")
	const total = 400
	var ps []json.RawMessage
	for i := range total {
		ps = append(ps, msg(i))
	}
	require.NoError(t, h.Queue.Send(ctx, "conc", 0, ps...))
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			idle := 0
			for idle < 20 {
				ms, err := h.Queue.Claim(ctx, "conc", messaging.ClaimOptions{N: 7, Visibility: time.Hour})
				if err != nil {
					t.Error(err)
					return
				}
				if len(ms) == 0 {
					idle++
					wait(5 * time.Millisecond)
					continue
				}
				idle = 0
				mu.Lock()
				for _, m := range ms {
					counts[num(t, m)]++
				}
				mu.Unlock()
				if err := h.Queue.Ack(ctx, "conc", messaging.ReceiptsOf(ms)...); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.Len(t, counts, total, "every message delivered")
	for n, c := range counts {
		require.Equal(t, 1, c, "message %d delivered %d times", n, c)
	}
}

func testStats(t *testing.T, h Harness) {
	ctx := ctxT(t)
	ensure(t, h, "stats")
	st, err := h.Queue.Stats(ctx, "stats")
	require.NoError(t, err)
	require.Zero(t, st.Depth)
	require.Zero(t, st.OldestAge)
	require.NoError(t, h.Queue.Send(ctx, "stats", 0, []json.RawMessage{msg(1), msg(2), msg(3)}...))
	_ = claimEventually(t, h, "stats", 1, time.Hour)
	st, err = h.Queue.Stats(ctx, "stats")
	require.NoError(t, err)
	require.Equal(t, int64(3), st.Depth)
	require.Equal(t, int64(2), st.Visible)
	require.GreaterOrEqual(t, st.OldestAge, time.Duration(0))
}

func testNextVisible(t *testing.T, h Harness) {
	ctx := ctxT(t)
	ensure(t, h, "nextvis")
	_, ok, err := h.Queue.NextVisible(ctx, "nextvis")
	require.NoError(t, err)
	require.False(t, ok)
	require.NoError(t, h.Queue.Send(ctx, "nextvis", time.Hour, msg(1)))
	at, ok, err := h.Queue.NextVisible(ctx, "nextvis")
	require.NoError(t, err)
	require.True(t, ok)
	require.WithinDuration(t, time.Now().Add(time.Hour), at, 5*time.Minute)
}

func testSubscribe(t *testing.T, h Harness) {
	ctx := ctxT(t)
	ensure(t, h, "wake")
	ch, cancel := h.Queue.Subscribe("wake")
	defer cancel()
	// Drain a possible initial (connect) wake-up, then send and expect one.
	deadline := time.After(10 * time.Second)
	sent := false
	for {
		if !sent {
			require.NoError(t, h.Queue.Send(ctx, "wake", 0, msg(1)))
			sent = true
		}
		select {
		case <-ch:
			ms, err := h.Queue.Claim(ctx, "wake", messaging.ClaimOptions{N: 1, Visibility: time.Minute})
			require.NoError(t, err)
			if len(ms) == 1 {
				return
			}
		case <-deadline:
			t.Fatal("no wake-up after a send")
		}
	}
}

func testInvalidNames(t *testing.T, h Harness) {
	ctx := ctxT(t)
	for _, bad := range []string{"", "a-b", `x"; DROP TABLE tasks; --`, "1abc", "with space",
		"a23456789012345678901234567890123456789012345678"} {
		require.ErrorIs(t, h.Queue.Ensure(ctx, bad), messaging.ErrInvalidQueueName, bad)
		require.ErrorIs(t, h.Queue.Send(ctx, bad, 0, msg(1)), messaging.ErrInvalidQueueName, bad)
	}
	require.NoError(t, h.Queue.Ensure(ctx, "Worker_Mixed_Case_queue"))
}

func testStatsOfMissingQueue(t *testing.T, h Harness) {
	ctx := ctxT(t)
	st, err := h.Queue.Stats(ctx, "never_created")
	require.NoError(t, err)
	require.Zero(t, st.Depth)
	_, ok, err := h.Queue.NextVisible(ctx, "never_created")
	require.NoError(t, err)
	require.False(t, ok)
}

// routedMsg is a message of route (no route when empty).
func routedMsg(i int, route string) json.RawMessage {
	if route == "" {
		return msg(i)
	}
	return json.RawMessage(fmt.Sprintf(`{"n":%d,%q:%q}`, i, messaging.RouteKey, route))
}

func nums(t *testing.T, ms []messaging.Message) []int {
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = num(t, m)
	}
	return out
}

func testRoutedClaim(t *testing.T, h Harness) {
	ctx := ctxT(t)
	ensure(t, h, "route")
	// 0:a 1:b 2:- 3:a 4:c 5:b
	for i, r := range []string{"a", "b", "", "a", "c", "b"} {
		require.NoError(t, h.Queue.Send(ctx, "route", 0, routedMsg(i, r)))
	}
	none, err := h.Queue.Claim(ctx, "route", messaging.ClaimOptions{N: 10, Visibility: time.Minute, Routes: []string{"zzz"}})
	require.NoError(t, err)
	require.Empty(t, none, "no message has route zzz")
	none, err = h.Queue.Claim(ctx, "route", messaging.ClaimOptions{N: 10, Visibility: time.Minute, Routes: []string{}})
	require.NoError(t, err)
	require.Empty(t, none, "no routes, no messages")

	got, err := h.Queue.Claim(ctx, "route", messaging.ClaimOptions{N: 10, Visibility: time.Minute, Routes: []string{"a"}})
	require.NoError(t, err)
	require.Equal(t, []int{0, 3}, nums(t, got), "only route a, oldest first")
	// Several routes: the oldest of their messages, n at most.
	got, err = h.Queue.Claim(ctx, "route", messaging.ClaimOptions{N: 2, Visibility: time.Minute, Routes: []string{"c", "b"}})
	require.NoError(t, err)
	require.Equal(t, []int{1, 4}, nums(t, got))
	require.Equal(t, 1, got[0].ReadCount)
	require.True(t, got[0].VisibleAt.After(time.Now().Add(30*time.Second)))
	// An unrouted claim takes what is left, routed or not.
	got, err = h.Queue.Claim(ctx, "route", messaging.ClaimOptions{N: 10, Visibility: time.Minute})
	require.NoError(t, err)
	require.Equal(t, []int{2, 5}, nums(t, got))

	// A routed message's claim lapses and it comes back to its route.
	require.NoError(t, h.Queue.Send(ctx, "route", 0, routedMsg(6, "a")))
	first, err := h.Queue.Claim(ctx, "route", messaging.ClaimOptions{N: 1, Visibility: 100 * time.Millisecond, Routes: []string{"a"}})
	require.NoError(t, err)
	require.Equal(t, []int{6}, nums(t, first))
	var again []messaging.Message
	deadline := time.Now().Add(10 * time.Second)
	for len(again) == 0 && time.Now().Before(deadline) {
		again, err = h.Queue.Claim(ctx, "route", messaging.ClaimOptions{N: 1, Visibility: time.Minute, Routes: []string{"a"}})
		require.NoError(t, err)
		if len(again) == 0 {
			wait(10 * time.Millisecond)
		}
	}
	require.Len(t, again, 1, "redelivered to its route after the visibility timeout")
	require.Equal(t, 2, again[0].ReadCount)
}

// testRoutedClaimDeep: a route's message behind a deep backlog of another
// route is claimed at once, and the backlog's own order is kept.
func testRoutedClaimDeep(t *testing.T, h Harness) {
	ctx := ctxT(t)
	ensure(t, h, "deep")
	backlog := make([]json.RawMessage, 500)
	for i := range backlog {
		backlog[i] = routedMsg(i, "busy")
	}
	require.NoError(t, h.Queue.Send(ctx, "deep", 0, backlog...))
	require.NoError(t, h.Queue.Send(ctx, "deep", 0, routedMsg(1000, "rare")))
	got, err := h.Queue.Claim(ctx, "deep", messaging.ClaimOptions{N: 5, Visibility: time.Minute, Routes: []string{"rare"}})
	require.NoError(t, err)
	require.Equal(t, []int{1000}, nums(t, got))
	got, err = h.Queue.Claim(ctx, "deep", messaging.ClaimOptions{N: 3, Visibility: time.Minute, Routes: []string{"rare", "busy"}})
	require.NoError(t, err)
	require.Equal(t, []int{0, 1, 2}, nums(t, got))
	// A claimer serving many routes, most without messages.
	require.NoError(t, h.Queue.Send(ctx, "deep", 0, routedMsg(1001, "rare")))
	many := []string{"busy"}
	for i := range 30 {
		many = append(many, fmt.Sprintf("idle_%d", i))
	}
	got, err = h.Queue.Claim(ctx, "deep", messaging.ClaimOptions{N: 4, Visibility: time.Minute, Routes: append(many, "rare")})
	require.NoError(t, err)
	if !h.OrderWithinRoute {
		require.Equal(t, []int{3, 4, 5, 6}, nums(t, got))
		got, err = h.Queue.Claim(ctx, "deep", messaging.ClaimOptions{N: 4, Visibility: time.Minute, Routes: append(many[1:], "rare")})
		require.NoError(t, err)
		require.Equal(t, []int{1001}, nums(t, got))
		return
	}
	// Each route oldest first, n at most; the rare message is taken by
	// this claim or the next, once.
	require.Len(t, got, 4)
	rest, err := h.Queue.Claim(ctx, "deep", messaging.ClaimOptions{N: 4, Visibility: time.Minute, Routes: append(many[1:], "rare")})
	require.NoError(t, err)
	var busy, rare []int
	for _, n := range append(nums(t, got), nums(t, rest)...) {
		if n >= 1000 {
			rare = append(rare, n)
		} else {
			busy = append(busy, n)
		}
	}
	require.Equal(t, []int{1001}, rare, "the rare message, once")
	for i, n := range busy {
		require.Equal(t, 3+i, n, "the busy route oldest first")
	}
}

// testRoutedConcurrent: routed claimers racing over one queue never take a
// message twice, and each takes only its routes.
func testRoutedConcurrent(t *testing.T, h Harness) {
	ctx := ctxT(t)
	ensure(t, h, "rconc")
	const perRoute = 100
	var ps []json.RawMessage
	for i := range perRoute {
		ps = append(ps, routedMsg(2*i, "even"), routedMsg(2*i+1, "odd"))
	}
	require.NoError(t, h.Queue.Send(ctx, "rconc", 0, ps...))
	var mu sync.Mutex
	seen := map[int]string{}
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for w := range 6 {
		routes := [][]string{{"even"}, {"odd"}, {"even", "odd"}}[w%3]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ms, err := h.Queue.Claim(ctx, "rconc", messaging.ClaimOptions{N: 7, Visibility: time.Minute, Routes: routes})
				if err != nil {
					errs <- err
					return
				}
				if len(ms) == 0 {
					return
				}
				mu.Lock()
				for _, m := range ms {
					var v struct{ N int }
					if err := json.Unmarshal(m.Payload, &v); err != nil {
						errs <- err
					}
					if prev, dup := seen[v.N]; dup {
						errs <- fmt.Errorf("message %d claimed twice (%s and %v)", v.N, prev, routes)
					}
					seen[v.N] = fmt.Sprint(routes)
					if len(routes) == 1 && (v.N%2 == 0) != (routes[0] == "even") {
						errs <- fmt.Errorf("message %d claimed by a claimer of %v", v.N, routes)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, seen, 2*perRoute, "every message claimed once")
}
