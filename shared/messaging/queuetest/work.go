package queuetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
)

// claimSpec is the claim a unit of work makes, if any.
type claimSpec struct {
	queue string
	opts  messaging.ClaimOptions
}

// unit runs one unit of work the way the store does: the Work's claim (when
// c is set) is embedded in the transaction's first statement, build adds
// the Work's statements (it sees what the claim took), the transaction
// commits (or rolls back when commit is false), and Finish ends the Work.
// It returns the messages the claim took.
func unit(t *testing.T, h Harness, commit bool, c *claimSpec,
	build func(ctx context.Context, w messaging.Work, b *pgx.Batch, claimed []messaging.Message)) []messaging.Message {
	t.Helper()
	ctx := ctxT(t)
	w := h.Queue.NewWork()
	var src messaging.ClaimSource
	if c != nil {
		var err error
		src, err = w.Claim(ctx, c.queue, c.opts)
		require.NoError(t, err)
	}
	tx, err := h.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	var claimed []messaging.Message
	if c != nil {
		rows, err := tx.Query(ctx, `WITH m AS (`+src.SQL+`)
			SELECT msg_id, read_ct, enqueued_at, vt, message FROM m ORDER BY msg_id`, src.Args...)
		require.NoError(t, err)
		claimed, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (messaging.Message, error) {
			m := messaging.Message{Queue: c.queue}
			var body []byte
			err := r.Scan(&m.ID, &m.ReadCount, &m.EnqueuedAt, &m.VisibleAt, &body)
			m.Payload = body
			return m, err
		})
		require.NoError(t, err)
	}
	b := &pgx.Batch{}
	if build != nil {
		build(ctx, w, b, claimed)
	}
	if b.Len() > 0 {
		require.NoError(t, tx.SendBatch(ctx, b).Close())
	}
	if commit {
		require.NoError(t, tx.Commit(ctx))
	} else {
		require.NoError(t, tx.Rollback(ctx))
	}
	require.NoError(t, w.Finish(ctx, commit))
	return claimed
}

func depth(t *testing.T, h Harness, q string) int64 {
	t.Helper()
	st, err := h.Queue.Stats(ctxT(t), q)
	require.NoError(t, err)
	return st.Depth
}

// testStaleReceipts: an ack, nack or extend by a receipt whose message was
// delivered again since does nothing.
func testStaleReceipts(t *testing.T, h Harness) {
	ctx := ctxT(t)
	ensure(t, h, "stale")
	require.NoError(t, h.Queue.Send(ctx, "stale", 0, msg(1)))
	first := claimEventually(t, h, "stale", 1, 200*time.Millisecond)
	stale := messaging.ReceiptOf(first[0])
	again := claimEventually(t, h, "stale", 1, time.Hour)
	require.Equal(t, stale.ID, again[0].ID)
	require.Equal(t, stale.ReadCount+1, again[0].ReadCount)
	require.NoError(t, h.Queue.Ack(ctx, "stale", stale))
	require.NoError(t, h.Queue.Nack(ctx, "stale", 0, stale))
	require.NoError(t, h.Queue.Extend(ctx, "stale", time.Hour, stale))
	require.Equal(t, int64(1), depth(t, h, "stale"), "a stale receipt deletes nothing")
	none, err := h.Queue.Claim(ctx, "stale", messaging.ClaimOptions{N: 1, Visibility: time.Minute})
	require.NoError(t, err)
	require.Empty(t, none, "a stale nack does not give the current claim away")
	require.NoError(t, h.Queue.Ack(ctx, "stale", messaging.ReceiptOf(again[0])))
	require.Zero(t, depth(t, h, "stale"))
}

// testWorkSend: messages sent in a unit of work exist only if it commits.
func testWorkSend(t *testing.T, h Harness) {
	ensure(t, h, "wsend")
	unit(t, h, false, nil, func(ctx context.Context, w messaging.Work, b *pgx.Batch, _ []messaging.Message) {
		require.NoError(t, w.Send(ctx, b, "wsend", 0, []json.RawMessage{msg(1)}))
	})
	unit(t, h, true, nil, func(ctx context.Context, w messaging.Work, b *pgx.Batch, _ []messaging.Message) {
		require.NoError(t, w.Send(ctx, b, "wsend", 0, []json.RawMessage{msg(2), msg(3)}))
		require.NoError(t, w.Send(ctx, b, "wsend", time.Hour, []json.RawMessage{msg(4)}))
	})
	got := claimEventually(t, h, "wsend", 2, time.Minute)
	require.Equal(t, []int{2, 3}, nums(t, got), "the rolled-back message never appears; the delayed one waits")
	_, ok, err := h.Queue.NextVisible(ctxT(t), "wsend")
	require.NoError(t, err)
	require.True(t, ok)
	require.ErrorIs(t, h.Queue.NewWork().Send(ctxT(t), &pgx.Batch{}, "bad-name", 0, []json.RawMessage{msg(1)}),
		messaging.ErrInvalidQueueName)

	// A send-only Work needs no Finish: the transaction's statements are
	// all it takes.
	ctx := ctxT(t)
	require.NoError(t, pgx.BeginFunc(ctx, h.Pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		if err := h.Queue.NewWork().Send(ctx, b, "wsend", 0, []json.RawMessage{msg(5)}); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	}))
	got = claimEventually(t, h, "wsend", 1, time.Minute)
	require.Equal(t, []int{5}, nums(t, got), "sent without Finish")
}

// testWorkAck: an ack in a unit of work deletes the message only if the
// unit commits, and only by a current receipt.
func testWorkAck(t *testing.T, h Harness) {
	ctx := ctxT(t)
	ensure(t, h, "wack")
	require.NoError(t, h.Queue.Send(ctx, "wack", 0, msg(1)))
	ms := claimEventually(t, h, "wack", 1, 300*time.Millisecond)
	unit(t, h, false, nil, func(ctx context.Context, w messaging.Work, b *pgx.Batch, _ []messaging.Message) {
		require.NoError(t, w.Ack(ctx, b, "wack", messaging.ReceiptsOf(ms)))
	})
	back := claimEventually(t, h, "wack", 1, time.Minute)
	require.Equal(t, ms[0].ID, back[0].ID, "a rolled-back ack leaves the message")
	unit(t, h, true, nil, func(ctx context.Context, w messaging.Work, b *pgx.Batch, _ []messaging.Message) {
		require.NoError(t, w.Ack(ctx, b, "wack", messaging.ReceiptsOf(ms)))
	})
	require.Equal(t, int64(1), depth(t, h, "wack"), "a committed ack by a stale receipt deletes nothing")
	unit(t, h, true, nil, func(ctx context.Context, w messaging.Work, b *pgx.Batch, _ []messaging.Message) {
		require.NoError(t, w.Ack(ctx, b, "wack", messaging.ReceiptsOf(back)))
	})
	require.Zero(t, depth(t, h, "wack"))
}

// testWorkDefer: a deferral in a unit of work takes effect only if the
// unit commits.
func testWorkDefer(t *testing.T, h Harness) {
	ctx := ctxT(t)
	ensure(t, h, "wdefer")
	require.NoError(t, h.Queue.Send(ctx, "wdefer", 0, msg(1)))
	// Claimed for an hour, deferred to a moment from now: it comes back.
	ms := claimEventually(t, h, "wdefer", 1, time.Hour)
	unit(t, h, true, nil, func(ctx context.Context, w messaging.Work, b *pgx.Batch, _ []messaging.Message) {
		require.NoError(t, w.Defer(ctx, b, "wdefer", messaging.ReceiptOf(ms[0]), time.Now().Add(200*time.Millisecond)))
	})
	back := claimEventually(t, h, "wdefer", 1, 300*time.Millisecond)
	require.Equal(t, ms[0].ID, back[0].ID, "a committed deferral shortens the claim")
	// Claimed briefly, deferred for an hour in a unit that rolls back: it
	// comes back when the claim lapses.
	unit(t, h, false, nil, func(ctx context.Context, w messaging.Work, b *pgx.Batch, _ []messaging.Message) {
		require.NoError(t, w.Defer(ctx, b, "wdefer", messaging.ReceiptOf(back[0]), time.Now().Add(time.Hour)))
	})
	again := claimEventually(t, h, "wdefer", 1, time.Minute)
	require.Equal(t, ms[0].ID, again[0].ID, "a rolled-back deferral changes nothing")
}

// testWorkClaim: messages claimed in a unit of work are part of it: a unit
// that rolls back gives them back at once; one that commits keeps them
// hidden, and can ack them in the same unit.
func testWorkClaim(t *testing.T, h Harness) {
	ctx := ctxT(t)
	ensure(t, h, "wclaim")
	require.NoError(t, h.Queue.Send(ctx, "wclaim", 0, msg(0), msg(1), msg(2)))
	spec := &claimSpec{queue: "wclaim", opts: messaging.ClaimOptions{N: 2, Visibility: time.Hour}}
	var claimed []messaging.Message
	require.Eventually(t, func() bool {
		claimed = unit(t, h, false, spec, nil)
		return len(claimed) == 2
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, []int{0, 1}, nums(t, claimed), "oldest first")
	require.Equal(t, 1, claimed[0].ReadCount)
	require.True(t, claimed[0].VisibleAt.After(time.Now().Add(30*time.Minute)), "the deadline is the visibility timeout")
	back := claimEventually(t, h, "wclaim", 3, time.Minute)
	require.Equal(t, []int{0, 1, 2}, nums(t, back), "a rolled-back claim gives its messages back at once")
	require.NoError(t, h.Queue.Ack(ctx, "wclaim", messaging.ReceiptsOf(back)...))

	require.NoError(t, h.Queue.Send(ctx, "wclaim", 0, msg(3), msg(4), msg(5)))
	spec.opts.N = 10
	require.Eventually(t, func() bool {
		claimed = append(claimed[:0], unit(t, h, true, spec, nil)...)
		return len(claimed) > 0
	}, 10*time.Second, 10*time.Millisecond)
	for len(claimed) < 3 {
		claimed = append(claimed, unit(t, h, true, spec, nil)...)
	}
	require.Equal(t, []int{3, 4, 5}, nums(t, claimed))
	none, err := h.Queue.Claim(ctx, "wclaim", messaging.ClaimOptions{N: 10, Visibility: time.Minute})
	require.NoError(t, err)
	require.Empty(t, none, "a committed claim keeps its messages hidden")
	require.Equal(t, int64(3), depth(t, h, "wclaim"))
	require.NoError(t, h.Queue.Ack(ctx, "wclaim", messaging.ReceiptsOf(claimed)...))

	// Claim and ack in one unit (the result processor's shape).
	require.NoError(t, h.Queue.Send(ctx, "wclaim", 0, msg(6)))
	var took []messaging.Message
	require.Eventually(t, func() bool {
		took = unit(t, h, true, spec, func(ctx context.Context, w messaging.Work, b *pgx.Batch, claimed []messaging.Message) {
			require.NoError(t, w.Ack(ctx, b, "wclaim", messaging.ReceiptsOf(claimed)))
		})
		return len(took) > 0
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, []int{6}, nums(t, took))
	require.Zero(t, depth(t, h, "wclaim"))
}

// testWorkClaimRouted: a unit of work's claim honours routes.
func testWorkClaimRouted(t *testing.T, h Harness) {
	ctx := ctxT(t)
	ensure(t, h, "wroute")
	require.NoError(t, h.Queue.Send(ctx, "wroute", 0, routedMsg(0, "a"), routedMsg(1, "b"), routedMsg(2, ""), routedMsg(3, "b")))
	none := unit(t, h, true, &claimSpec{queue: "wroute", opts: messaging.ClaimOptions{N: 10, Visibility: time.Hour, Routes: []string{}}}, nil)
	require.Empty(t, none, "no routes, no messages")
	spec := &claimSpec{queue: "wroute", opts: messaging.ClaimOptions{N: 10, Visibility: time.Hour, Routes: []string{"b", "zzz"}}}
	var got []messaging.Message
	require.Eventually(t, func() bool {
		got = append(got, unit(t, h, true, spec, nil)...)
		return len(got) >= 2
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, []int{1, 3}, nums(t, got))
	rest, err := h.Queue.Claim(ctx, "wroute", messaging.ClaimOptions{N: 10, Visibility: time.Minute})
	require.NoError(t, err)
	require.Equal(t, []int{0, 2}, nums(t, rest))
}
