package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tasker-go/tasker/shared/messaging"
)

// outbox is one unit of work: its statements collect in a pgx.Batch, and
// the messages it sends, acks and defers go through the queue driver's Work,
// which adds its own statements to the same batch (or, for a broker, writes
// outbox rows there and acks after the commit). Every unit of work the
// store runs is one of two shapes: atomically (one batch) or inTxOutbox
// (several dependent batches in one pipelined transaction). Both finish
// the Work once the transaction is over.
type outbox struct {
	s   *Store
	ctx context.Context
	tx  pgx.Tx  // set when the batches run inside a caller's transaction
	p   *pipeTx // set when the batches make up a pipelined transaction
	b   *pgx.Batch
	w   messaging.Work
	// finished says the owner of the outbox finishes its Work after the
	// transaction: only then can it ack, defer or claim (an outbox made
	// inside another transaction, see txOutbox, only sends).
	finished bool
	// captures are the statements of b queued by capture.
	captures map[*pgx.QueuedQuery]bool
}

// txOutbox is an outbox inside tx, a transaction the caller commits. It
// only sends: the driver's sends need nothing after the commit, while its
// acks, deferrals and claims do (see messaging.Work).
func (s *Store) txOutbox(ctx context.Context, tx pgx.Tx) *outbox {
	return &outbox{s: s, ctx: ctx, tx: tx, b: &pgx.Batch{}}
}

// errNotFinished is a programming error: a unit of work whose Work is not
// finished after its transaction cannot ack, defer or claim.
var errNotFinished = errors.New("acks, deferrals and claims need a unit of work the store finishes (atomically or inTxOutbox)")

func (o *outbox) work() messaging.Work {
	if o.w == nil {
		o.w = o.s.queue.NewWork()
	}
	return o.w
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

// capturedRows are a statement's rows as they arrived (every column's raw
// bytes), to be decoded once the batch returned (see captureRows).
type capturedRows struct {
	fields []pgconn.FieldDescription
	rows   [][][]byte
}

// captureRows is capture for every column: it copies the rows' raw values
// and their field descriptions, which cannot fail on the Go side, so the
// batch keeps its COMMIT. each decodes them afterwards.
func (o *outbox) captureRows(dst *capturedRows, sql string, args ...any) {
	q := o.b.Queue(sql, args...)
	q.Query(func(rows pgx.Rows) error {
		dst.fields = slices.Clone(rows.FieldDescriptions())
		for rows.Next() {
			raw := rows.RawValues()
			row := make([][]byte, len(raw))
			for i, v := range raw {
				if v != nil {
					row[i] = bytes.Clone(v)
				}
			}
			dst.rows = append(dst.rows, row)
		}
		return rows.Err()
	})
	if o.captures == nil {
		o.captures = map[*pgx.QueuedQuery]bool{}
	}
	o.captures[q] = true
}

// decodeMaps are type maps for decoding captured rows away from their
// connection (a map is not safe for concurrent use).
var decodeMaps = sync.Pool{New: func() any {
	m := pgtype.NewMap()
	registerUUID(m)
	return m
}}

// each calls fn once per captured row with the function that decodes that
// row into its destinations.
func (c *capturedRows) each(fn func(scan func(dest ...any) error) error) error {
	m := decodeMaps.Get().(*pgtype.Map) //nolint:forcetypeassert // the pool holds maps only
	defer decodeMaps.Put(m)
	for _, row := range c.rows {
		if err := fn(func(dest ...any) error { return pgx.ScanRow(m, c.fields, row, dest...) }); err != nil {
			return err
		}
	}
	return nil
}

// claim claims messages of queue for this unit of work (before its first
// batch is sent) and returns them as the relation its first statement
// reads (see messaging.ClaimSource).
func (o *outbox) claim(queue string, opts messaging.ClaimOptions) (messaging.ClaimSource, error) {
	if !o.finished {
		return messaging.ClaimSource{}, errNotFinished
	}
	return o.work().Claim(o.ctx, queue, opts)
}

func (o *outbox) send(queue string, payloads []json.RawMessage, delay time.Duration) error {
	if len(payloads) == 0 {
		return nil
	}
	return o.work().Send(o.ctx, o.b, queue, delay, payloads)
}

func (o *outbox) ack(queue string, receipts []messaging.Receipt) error {
	if len(receipts) == 0 {
		return nil
	}
	if !o.finished {
		return errNotFinished
	}
	return o.work().Ack(o.ctx, o.b, queue, receipts)
}

// ackAll acks receipts grouped by queue, the queues in name order.
func (o *outbox) ackAll(receipts map[string][]messaging.Receipt) error {
	for _, q := range slices.Sorted(maps.Keys(receipts)) {
		if err := o.ack(q, receipts[q]); err != nil {
			return err
		}
	}
	return nil
}

// deferMessage hides the message of r until the given time, if the unit
// commits.
func (o *outbox) deferMessage(queue string, r messaging.Receipt, until time.Time) error {
	if !o.finished {
		return errNotFinished
	}
	return o.work().Defer(o.ctx, o.b, queue, r, until)
}

// notify queues the task events announcement.
func (o *outbox) notify(tasks []string) {
	if o.s.eventsChannel == "" || len(tasks) == 0 {
		return
	}
	for len(tasks) > 0 {
		n := min(len(tasks), notifyChunk)
		o.b.Queue(`SELECT pg_notify($1, $2)`, o.s.eventsChannel, strings.Join(tasks[:n], ","))
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

// finish ends the unit's Work once its transaction is over (committed only
// when the COMMIT was confirmed). It runs even when the caller's context is
// done: a broker driver must still give back or ack what the unit claimed.
// What it cannot do is logged: those messages come again after their
// visibility timeout, and are dropped as duplicates.
func (o *outbox) finish(committed bool) {
	if o.w == nil {
		return
	}
	if err := o.w.Finish(context.WithoutCancel(o.ctx), committed); err != nil {
		o.s.log.Warn("finishing a unit of work's messages failed; they come again after their visibility timeout",
			"committed", committed, "err", err)
	}
}

// atomically runs fn's statements as one transaction: a single implicit
// transaction batch (one round trip) when no statement has a result
// callback but captures, else a pipelined transaction whose COMMIT waits
// for the callbacks (see pipeTx). The driver's Work is finished after it.
func (s *Store) atomically(ctx context.Context, fn func(o *outbox) error) error {
	o := &outbox{s: s, ctx: ctx, b: &pgx.Batch{}, finished: true}
	err := s.runAtomically(o, fn)
	o.finish(err == nil)
	return err
}

func (s *Store) runAtomically(o *outbox, fn func(o *outbox) error) error {
	if err := fn(o); err != nil {
		return err
	}
	if !hasCallbacks(o.b, o.captures) {
		return o.flush()
	}
	p := s.pipe(o.ctx)
	defer p.close()
	return p.run(o.b, true, o.captures)
}

// inTxOutbox runs fn in one pipelined transaction with an outbox whose
// batch fn may flush several times: BEGIN travels with the first batch and
// COMMIT with the last, so a unit of k batches costs k round trips. The
// driver's Work is finished after it.
func (s *Store) inTxOutbox(ctx context.Context, fn func(o *outbox) error) error {
	p := s.pipe(ctx)
	o := &outbox{s: s, ctx: ctx, p: p, b: &pgx.Batch{}, finished: true}
	err := func() error {
		defer p.close()
		if err := fn(o); err != nil {
			return err
		}
		if err := p.run(o.b, true, o.captures); err != nil {
			return fmt.Errorf("committing batch: %w", err)
		}
		return nil
	}()
	o.finish(err == nil)
	return err
}
