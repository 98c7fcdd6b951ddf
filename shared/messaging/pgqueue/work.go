package pgqueue

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/messaging"
)

// work is the driver's part of a store unit of work: its queues are tables
// of the same database, so everything is a statement of the store's
// transaction and nothing is left for after the commit.
type work struct{ q *Queue }

// Claim returns the claim statement itself, for the store to embed in its
// first statement: the messages are claimed in the transaction, and a
// rollback gives them back.
func (w work) Claim(ctx context.Context, queue string, o messaging.ClaimOptions) (messaging.ClaimSource, error) {
	if o.N <= 0 || (o.Routes != nil && len(o.Routes) == 0) {
		return messaging.ClaimedSource(nil), nil
	}
	s, err := w.q.stmts(ctx, queue)
	if err != nil {
		return messaging.ClaimSource{}, err
	}
	sql, args := s.claimOf(o)
	return messaging.ClaimSource{SQL: sql, Args: args}, nil
}

// Send adds the insert of payloads and their NOTIFY to b.
func (w work) Send(ctx context.Context, b *pgx.Batch, queue string, delay time.Duration, payloads []json.RawMessage) error {
	if len(payloads) == 0 {
		return nil
	}
	return w.q.queueSend(ctx, b, queue, delay, payloads)
}

// Ack adds to b the deletion of the messages of current receipts.
func (w work) Ack(ctx context.Context, b *pgx.Batch, queue string, receipts []messaging.Receipt) error {
	if len(receipts) == 0 {
		return nil
	}
	s, err := w.q.stmts(ctx, queue)
	if err != nil {
		return err
	}
	ids, reads := receiptArgs(receipts)
	b.Queue(s.ack, ids, reads)
	return nil
}

// Defer adds to b hiding the message of r until the given time.
func (w work) Defer(ctx context.Context, b *pgx.Batch, queue string, r messaging.Receipt, until time.Time) error {
	s, err := w.q.stmts(ctx, queue)
	if err != nil {
		return err
	}
	b.Queue(s.deferUntil, r.ID, r.ReadCount, until)
	return nil
}

// Finish has nothing to do: the transaction did it all.
func (work) Finish(context.Context, bool) error { return nil }
