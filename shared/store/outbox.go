package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/messaging"
)

// outbox collects a unit of work's statements in one pgx.Batch, with the
// messages it sends and acks. With a Batcher queue everything travels in the
// batch (one round trip, one transaction); with any other queue the
// messages go through SendTx/AckTx in the surrounding transaction.
type outbox struct {
	s   *Store
	ctx context.Context
	tx  pgx.Tx  // nil when the batch runs as its own implicit transaction
	p   *pipeTx // set when the batches make up a pipelined transaction
	b   *pgx.Batch
	// captures are the statements of b queued by capture.
	captures map[*pgx.QueuedQuery]bool
}

// capture queues sql with a result callback that only copies the raw bytes
// of each row's first column to *dst. Copying bytes cannot fail on the Go
// side (only the server or the connection can fail it, and then nothing
// commits), so a batch whose only callbacks are captures keeps its COMMIT
// (see pipeTx). The caller decodes *dst once the batch returned.
func (o *outbox) capture(dst *[][]byte, sql string, args ...any) {
	q := o.b.Queue(sql, args...)
	q.Query(func(rows pgx.Rows) error {
		for rows.Next() {
			*dst = append(*dst, bytes.Clone(rows.RawValues()[0]))
		}
		return rows.Err()
	})
	if o.captures == nil {
		o.captures = map[*pgx.QueuedQuery]bool{}
	}
	o.captures[q] = true
}

func (o *outbox) send(queue string, payloads []json.RawMessage, delay time.Duration) error {
	if len(payloads) == 0 {
		return nil
	}
	if o.s.batcher != nil {
		return o.s.batcher.QueueSend(o.ctx, o.b, queue, payloads, delay)
	}
	return o.s.queue.SendTx(o.ctx, o.tx, queue, payloads, delay)
}

func (o *outbox) ack(queue string, receipts []messaging.Receipt) error {
	if len(receipts) == 0 {
		return nil
	}
	if o.s.batcher != nil {
		return o.s.batcher.QueueAck(o.ctx, o.b, queue, receipts)
	}
	ids := make([]int64, len(receipts))
	for i, r := range receipts {
		ids[i] = r.ID
	}
	return o.s.queue.AckTx(o.ctx, o.tx, queue, ids...)
}

// notify queues the task events announcement.
func (o *outbox) notify(tasks []string) {
	if o.s.eventsChannel == "" || len(tasks) == 0 {
		return
	}
	for len(tasks) > 0 {
		n := min(len(tasks), notifyChunk)
		payload := ""
		for i, t := range tasks[:n] {
			if i > 0 {
				payload += ","
			}
			payload += t
		}
		o.b.Queue(`SELECT pg_notify($1, $2)`, o.s.eventsChannel, payload)
		tasks = tasks[n:]
	}
}

// flush sends the batch.
func (o *outbox) flush() error {
	if o.b.Len() == 0 {
		return nil
	}
	var err error
	switch {
	case o.p != nil:
		err = o.p.send(o.b)
	case o.tx != nil:
		err = o.tx.SendBatch(o.ctx, o.b).Close()
	default:
		err = o.s.pool.SendBatch(o.ctx, o.b).Close()
	}
	o.b, o.captures = &pgx.Batch{}, nil
	return err
}

// atomically runs fn's statements as one transaction: with a Batcher queue
// a single implicit transaction batch (one round trip) when no statement has
// a result callback but captures, else a pipelined transaction whose COMMIT
// waits for the callbacks (see pipeTx); with any other queue an explicit
// transaction.
func (s *Store) atomically(ctx context.Context, fn func(o *outbox) error) error {
	if s.batcher != nil {
		o := &outbox{s: s, ctx: ctx, b: &pgx.Batch{}}
		if err := fn(o); err != nil {
			return err
		}
		if !hasCallbacks(o.b, o.captures) {
			return o.flush()
		}
		p, err := s.pipe(ctx)
		if err != nil {
			return err
		}
		defer p.close()
		return p.run(o.b, true, o.captures)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		o := &outbox{s: s, ctx: ctx, tx: tx, b: &pgx.Batch{}}
		if err := fn(o); err != nil {
			return err
		}
		return o.flush()
	})
}

// inTxOutbox runs fn in one transaction with an outbox whose batch fn may
// flush several times. With a Batcher queue the transaction is pipelined:
// BEGIN travels with the first batch and COMMIT with the last, so a unit of
// k batches costs k round trips; otherwise it is an explicit transaction.
func (s *Store) inTxOutbox(ctx context.Context, fn func(o *outbox) error) error {
	if s.batcher != nil {
		p, err := s.pipe(ctx)
		if err != nil {
			return err
		}
		defer p.close()
		o := &outbox{s: s, ctx: ctx, p: p, b: &pgx.Batch{}}
		if err := fn(o); err != nil {
			return err
		}
		if err := p.run(o.b, true, o.captures); err != nil {
			return fmt.Errorf("committing batch: %w", err)
		}
		return nil
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		o := &outbox{s: s, ctx: ctx, tx: tx, b: &pgx.Batch{}}
		if err := fn(o); err != nil {
			return err
		}
		if err := o.flush(); err != nil {
			return fmt.Errorf("committing batch: %w", err)
		}
		return nil
	})
}
