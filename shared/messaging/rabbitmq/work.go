package rabbitmq

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/store"
)

// work is the driver's part of a store unit of work. Sends are outbox rows
// written in the store's transaction (the relay publishes them after the
// commit, delays included: a row is held back until it is due); claims
// are deliveries taken before the transaction and handed to its first
// statement as rows; acks and deferrals are remembered and carried out in
// Finish once the commit is confirmed. A unit that does not commit gives
// back what it claimed (requeued at once) and acks nothing.
type work struct {
	d       *Driver
	claimed []claimedBy
	acks    []claimedBy
	defers  []deferral
	sent    bool
}

type claimedBy struct {
	queue    string
	receipts []messaging.Receipt
}

type deferral struct {
	queue string
	r     messaging.Receipt
	until time.Time
}

// Claim takes the messages now (see Driver.Claim) and returns them as rows.
func (w *work) Claim(ctx context.Context, queue string, o messaging.ClaimOptions) (messaging.ClaimSource, error) {
	msgs, err := w.d.Claim(ctx, queue, o)
	if err != nil {
		return messaging.ClaimSource{}, err
	}
	if len(msgs) > 0 {
		w.claimed = append(w.claimed, claimedBy{queue, messaging.ReceiptsOf(msgs)})
	}
	return messaging.ClaimedSource(msgs), nil
}

// Send adds the outbox rows of payloads to b.
func (w *work) Send(_ context.Context, b *pgx.Batch, queue string, delay time.Duration, payloads []json.RawMessage) error {
	if err := messaging.ValidateQueueName(queue); err != nil {
		return err
	}
	if len(payloads) == 0 {
		return nil
	}
	writes := make([]store.OutboxWrite, len(payloads))
	for i, p := range payloads {
		writes[i] = store.OutboxWrite{Queue: queue, Payload: p, Delay: delay}
	}
	channel := ""
	if w.d.cfg.Schema != "" {
		channel = store.OutboxChannel(w.d.cfg.Schema)
	}
	if err := store.QueueOutboxWrites(b, channel, writes...); err != nil {
		return err
	}
	w.sent = true
	return nil
}

// Ack remembers receipts to ack after the commit.
func (w *work) Ack(_ context.Context, _ *pgx.Batch, queue string, receipts []messaging.Receipt) error {
	if err := messaging.ValidateQueueName(queue); err != nil {
		return err
	}
	if len(receipts) > 0 {
		w.acks = append(w.acks, claimedBy{queue, receipts})
	}
	return nil
}

// Defer remembers a requeue with delay to make after the commit.
func (w *work) Defer(_ context.Context, _ *pgx.Batch, queue string, r messaging.Receipt, until time.Time) error {
	if err := messaging.ValidateQueueName(queue); err != nil {
		return err
	}
	w.defers = append(w.defers, deferral{queue, r, until})
	return nil
}

// Finish acks and defers after a confirmed commit, and wakes the relay of
// the process when the unit sent messages; otherwise it gives back what
// the unit claimed. Messages it could not settle come again when their
// lease ends or their channel closes.
func (w *work) Finish(ctx context.Context, committed bool) error {
	d := w.d
	var errs []error
	if !committed {
		for _, c := range w.claimed {
			errs = append(errs, d.Nack(ctx, c.queue, 0, c.receipts...))
		}
		return errors.Join(errs...)
	}
	for _, a := range w.acks {
		errs = append(errs, d.Ack(ctx, a.queue, a.receipts...))
	}
	for _, df := range w.defers {
		errs = append(errs, d.Nack(ctx, df.queue, max(time.Until(df.until), 0), df.r))
	}
	if r := d.relay.Load(); w.sent && r != nil {
		r.Wake()
	}
	return errors.Join(errs...)
}
