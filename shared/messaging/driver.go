package messaging

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// Driver is one queue backend: the only way the engine moves messages. The
// PostgreSQL driver (package pgqueue) keeps each queue as a table of the
// Tasker schema; a broker driver (RabbitMQ) keeps them in the broker. Every
// driver passes the conformance suite in messaging/queuetest.
//
// Its methods fall in two groups. The standalone methods (Ensure, Send,
// Claim, Ack, Nack, Extend, Stats, NextVisible, Subscribe) act at once, on
// their own. A Work (from NewWork) is the driver's part of one unit of
// work: a PostgreSQL transaction that the store runs and in which state
// changes, the messages that announce them, the acks of the messages that
// caused them and, where the caller wants it, the claim of those messages
// commit or roll back together. How a driver does that is its own business
// (see Work): callers never learn which path runs.
//
// Messages are handled by receipt (see Receipt): an ack, nack or extend
// names the delivery it is about, and one whose message was delivered again
// since does nothing.
type Driver interface {
	// Ensure creates the queue if it does not exist.
	Ensure(ctx context.Context, queue string) error
	// Send sends payloads (JSON documents), visible after delay, on their
	// own: they exist once Send returns.
	Send(ctx context.Context, queue string, delay time.Duration, payloads ...json.RawMessage) error
	// Claim takes up to o.N visible messages, oldest first, and hides them
	// for o.Visibility (see ClaimOptions for routed claims). A claimed
	// message that is neither acked nor extended becomes visible again when
	// its visibility timeout expires, and is redelivered with a higher
	// ReadCount.
	Claim(ctx context.Context, queue string, o ClaimOptions) ([]Message, error)
	// Ack deletes the messages of current receipts (done with them).
	Ack(ctx context.Context, queue string, receipts ...Receipt) error
	// Nack makes the messages of current receipts visible again after
	// delay (0: at once).
	Nack(ctx context.Context, queue string, delay time.Duration, receipts ...Receipt) error
	// Extend pushes the visibility timeout of the messages of current
	// receipts to now+vt (a heartbeat for long work).
	Extend(ctx context.Context, queue string, vt time.Duration, receipts ...Receipt) error
	// Stats reports the queue's depth and oldest message age (zeros for a
	// queue that does not exist; Stats never creates one).
	Stats(ctx context.Context, queue string) (Stats, error)
	// NextVisible reports when the earliest hidden (delayed or claimed)
	// message becomes visible, so consumers can sleep exactly that long;
	// ok is false when there is none.
	NextVisible(ctx context.Context, queue string) (at time.Time, ok bool, err error)
	// Subscribe returns a channel that receives a value when messages may
	// be waiting in queue (coalesced; may be spurious), and the function
	// that unsubscribes. Notifications can be lost, so the driver covers
	// for them: it also wakes subscribers when its fallback poll finds
	// visible messages, and when a delayed message it knows of becomes
	// visible. A consumer waiting on the channel needs no poll of its own.
	Subscribe(queue string) (<-chan struct{}, func())
	// NewWork begins the driver's part of one unit of work (see Work).
	NewWork() Work
	// Tables returns the driver's queues as tables of the Tasker schema,
	// for the reads the store composes over messages (finding claims in
	// flight, messages still queued for a step), or nil when the driver
	// keeps its messages outside PostgreSQL. The store then finds claims in
	// flight and waiting steps through the open tasks instead, and a
	// stalled step is nudged whether or not its message is still queued.
	Tables() Tables
}

// Work is a driver's part of one unit of work: a PostgreSQL transaction the
// store builds as batches of statements and then commits or rolls back.
// The store calls Claim (at most once, before the first batch is sent),
// Send, Ack and Defer while it builds the batches, and Finish exactly once
// when the transaction is over. A Work used only to send may be left
// unfinished (a send inside a transaction the store does not own, such as
// an operator's fix): Send's statements must be all it takes. A Work is used
// by one goroutine.
//
// The contract, which the conformance suite checks:
//
//   - Send: the messages exist if and only if the transaction commits, and
//     nothing needs to run after the commit for them to be delivered: the
//     statements Send adds are all it takes. The PostgreSQL driver inserts
//     the message rows and a NOTIFY; a broker driver inserts outbox rows
//     (and may NOTIFY its relay), and its relay publishes them after the
//     commit and marks them sent once the broker confirmed them. A relay
//     that crashes in between publishes them again: consumers tolerate
//     duplicates (every transition is a compare-and-swap).
//   - Ack and Defer: they take effect only if the transaction commits. The
//     PostgreSQL driver deletes (or hides) the rows in the transaction; a
//     broker driver remembers the receipts and acks (or requeues with a
//     delay) them in Finish after the commit, never before it.
//   - Claim: the claimed messages are part of the unit. The PostgreSQL
//     driver claims them in the transaction itself (the store embeds the
//     claim in its own first statement, so a claim and the state changes
//     it causes are one statement); a broker driver takes deliveries
//     before the transaction and hands them to the statement as rows.
//     When the transaction does not commit, the messages are visible
//     again at once: rolled back, or given back to the broker in Finish.
//   - Finish(ctx, committed): committed is true only when the COMMIT was
//     confirmed; after an error or an unknown outcome it is false (a broker
//     then gives back what it claimed and acks nothing; the messages come
//     again and are dropped as duplicates if the transaction did commit).
//     Finish reports what it could not do; the store logs it (the messages
//     come again after their visibility timeout). Its ctx is not cancelled
//     with the caller's (a unit whose caller gave up must still give back
//     what it claimed): the driver bounds its own waits.
type Work interface {
	// Claim claims up to o.N messages of queue for this unit of work and
	// returns them as a relation for the store's first statement.
	Claim(ctx context.Context, queue string, o ClaimOptions) (ClaimSource, error)
	// Send adds the sending of payloads, visible after delay, to b.
	Send(ctx context.Context, b *pgx.Batch, queue string, delay time.Duration, payloads []json.RawMessage) error
	// Ack adds the deletion of the messages of receipts to b (or, for a
	// broker, schedules their ack after the commit).
	Ack(ctx context.Context, b *pgx.Batch, queue string, receipts []Receipt) error
	// Defer adds hiding the message of r until the given time to b (or, for
	// a broker, schedules its requeue with that delay after the commit).
	Defer(ctx context.Context, b *pgx.Batch, queue string, r Receipt, until time.Time) error
	// Finish ends the unit of work (see Work).
	Finish(ctx context.Context, committed bool) error
}

// ClaimSource is the relation a Work's claim hands to the store's
// statement, with the columns msg_id bigint, read_ct int, enqueued_at
// timestamptz, vt timestamptz (the claim's deadline) and message jsonb. SQL
// is a query or a data-modifying statement with a RETURNING clause; its
// parameters are $1 to $len(Args), and the store numbers its own after
// them.
type ClaimSource struct {
	SQL  string
	Args []any
}

// ClaimedSource is the ClaimSource of messages claimed before the unit of
// work began (a broker's deliveries): the messages as rows.
func ClaimedSource(msgs []Message) ClaimSource {
	ids := make([]int64, len(msgs))
	reads := make([]int32, len(msgs))
	enqueued := make([]time.Time, len(msgs))
	vts := make([]time.Time, len(msgs))
	payloads := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i], reads[i], enqueued[i], vts[i] = m.ID, int32(m.ReadCount), m.EnqueuedAt, m.VisibleAt //nolint:gosec // delivery counts are small
		payloads[i] = string(m.Payload)
	}
	return ClaimSource{
		SQL: `SELECT * FROM unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::timestamptz[], $5::jsonb[])
			AS m(msg_id, read_ct, enqueued_at, vt, message)`,
		Args: []any{ids, reads, enqueued, vts, payloads},
	}
}

// ClaimOptions say what a claim takes.
type ClaimOptions struct {
	// N is the most messages to take; 0 or less takes none.
	N int
	// Visibility hides the claimed messages this long.
	Visibility time.Duration
	// Routes, when not nil, restricts the claim to messages whose route
	// (see RouteKey) is one of them: a worker then takes only the messages
	// of the callables it can run, and a message no live worker can run
	// waits in the queue instead of being claimed and failed by a worker
	// that lacks its handler. Messages are taken oldest first within each
	// route; with several routes the oldest of each route's candidates
	// win. An empty, non-nil list takes nothing. Nil takes every message,
	// routed or not.
	Routes []string
}

// Tables is implemented by drivers whose queues are tables of the Tasker
// schema (see Driver.Tables).
type Tables interface {
	// Table returns the quoted name of queue's table, creating the queue
	// if needed. Its columns: msg_id, read_ct, enqueued_at, vt, message
	// (jsonb) and callable (the message's route).
	Table(ctx context.Context, queue string) (string, error)
}
