// Package messaging defines the queue abstraction Tasker moves work through,
// the message shapes that travel on it, and the queue names.
//
// Messages are signals that carry identifiers; PostgreSQL holds the truth.
// Every consumer re-reads state and relies on compare-and-swap transitions, so
// a duplicate or stale message is harmless: it is deleted, never left to
// circulate.
//
// pgqueue (PostgreSQL tables in the engine's schema) implements Queue, and
// also Batcher and TableQueue, which let the store fold queue statements
// into its own transactions. Any backend must pass the conformance suite in
// messaging/queuetest; a RabbitMQ backend is planned, not written.
package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
)

// Message is one delivered message.
type Message struct {
	// ID identifies the message within its queue for Ack, Nack and Extend.
	ID int64
	// Queue is the queue the message came from.
	Queue string
	// Payload is the message body (JSON).
	Payload json.RawMessage
	// ReadCount is how many times the message has been delivered, this time
	// included.
	ReadCount int
	// EnqueuedAt is when the message was sent.
	EnqueuedAt time.Time
	// VisibleAt is when the message becomes visible to other claimers again
	// unless acked or extended.
	VisibleAt time.Time
}

// Stats describes a queue's backlog.
type Stats struct {
	Queue string `json:"queue"`
	// Depth counts every message in the queue, visible or not.
	Depth int64 `json:"depth"`
	// Visible counts messages that can be claimed now.
	Visible int64 `json:"visible"`
	// OldestAge is the age of the oldest message (0 when empty).
	OldestAge time.Duration `json:"oldest_age"`
}

// Queue is the interface every backend implements.
//
// The *Tx methods take part in the caller's PostgreSQL transaction: that is
// how a state change and the message that announces it commit together (the
// Postgres backend writes the message row in the transaction; a broker backend
// writes an outbox row that a relay publishes after commit).
type Queue interface {
	// Ensure creates the queue if it does not exist.
	Ensure(ctx context.Context, queue string) error
	// Send sends one message, visible after delay.
	Send(ctx context.Context, queue string, payload json.RawMessage, delay time.Duration) error
	// SendBatch sends several messages, visible after delay.
	SendBatch(ctx context.Context, queue string, payloads []json.RawMessage, delay time.Duration) error
	// SendTx sends messages as part of tx; they exist only if tx commits.
	SendTx(ctx context.Context, tx pgx.Tx, queue string, payloads []json.RawMessage, delay time.Duration) error
	// Claim takes up to n visible messages and hides them for vt. A claimed
	// message that is neither acked nor extended becomes visible again when
	// vt expires and is redelivered.
	Claim(ctx context.Context, queue string, n int, vt time.Duration) ([]Message, error)
	// Ack deletes messages (done with them).
	Ack(ctx context.Context, queue string, ids ...int64) error
	// AckTx deletes messages as part of tx. Backends that cannot take part in
	// a PostgreSQL transaction ack after the caller calls Ack post-commit, so
	// callers always call AckTx inside and Committed after the commit.
	AckTx(ctx context.Context, tx pgx.Tx, queue string, ids ...int64) error
	// Committed tells the backend that a transaction that called AckTx for
	// ids committed. The Postgres backend does nothing.
	Committed(ctx context.Context, queue string, ids ...int64) error
	// Nack makes a claimed message visible again after delay.
	Nack(ctx context.Context, queue string, id int64, delay time.Duration) error
	// Extend pushes a claimed message's visibility timeout to now+vt.
	Extend(ctx context.Context, queue string, vt time.Duration, ids ...int64) error
	// Stats reports the queue's depth and oldest message age.
	Stats(ctx context.Context, queue string) (Stats, error)
	// NextVisible reports when the earliest invisible (delayed or claimed)
	// message becomes visible, so consumers can sleep exactly that long.
	NextVisible(ctx context.Context, queue string) (time.Time, bool, error)
	// Subscribe returns a channel that receives a value when messages may be
	// waiting in queue (coalesced; may be spurious). Notifications can be
	// lost, so the backend covers for them: it also wakes subscribers when
	// its fallback poll finds visible messages, and when a delayed message
	// it knows of becomes visible. A consumer waiting on the channel needs
	// no poll of its own.
	Subscribe(queue string) (<-chan struct{}, func())
}

// ErrInvalidQueueName is returned for a queue name that is not a safe
// identifier.
var ErrInvalidQueueName = errors.New("invalid queue name")

// MaxQueueNameLen is the longest queue name (as tasker-core: 47).
const MaxQueueNameLen = 47

var queueNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidateQueueName checks that name is 1–47 characters of letters, digits
// and underscores starting with a letter or underscore. Queue names become
// table and channel names, so nothing else is ever accepted.
func ValidateQueueName(name string) error {
	if len(name) == 0 || len(name) > MaxQueueNameLen || !queueNameRE.MatchString(name) {
		return fmt.Errorf("%w %q: use 1-%d letters, digits or underscores, starting with a letter or underscore",
			ErrInvalidQueueName, name, MaxQueueNameLen)
	}
	return nil
}

// Queue names, as tasker-core.
const (
	StepResultsQueue  = "orchestration_step_results"
	TaskRequestsQueue = "orchestration_task_requests"
)

// WorkerQueue returns the step queue of a namespace: worker_{namespace}_queue.
func WorkerQueue(namespace string) string { return "worker_" + namespace + "_queue" }

// Receipt identifies one delivery of a message: its id and how many times it
// had been delivered when it was claimed. Acking by receipt deletes the
// message only if it was not delivered again since (its claim did not lapse
// into someone else's), like a receipt handle.
type Receipt struct {
	ID        int64
	ReadCount int
}

// ReceiptOf is the receipt of a claimed message.
func ReceiptOf(m Message) Receipt { return Receipt{ID: m.ID, ReadCount: m.ReadCount} }

// Batcher is implemented by backends whose messages live in PostgreSQL. They
// add their statements to a caller's pgx.Batch, so a state change, the
// messages that announce it and the acks of the messages that caused it
// travel in one round trip and commit together. Callers use it when the
// backend offers it and fall back to the Queue methods otherwise.
type Batcher interface {
	// QueueSend adds the sending of payloads (visible after delay) and a
	// wake-up to b.
	QueueSend(ctx context.Context, b *pgx.Batch, queue string, payloads []json.RawMessage, delay time.Duration) error
	// QueueAck adds to b the deletion of messages whose receipts are still
	// current (a receipt with ReadCount 0 deletes its message regardless).
	QueueAck(ctx context.Context, b *pgx.Batch, queue string, receipts []Receipt) error
}

// RouteKey is the top-level key of a message's JSON that names its route:
// the handler callable of the step it announces (StepMessage.Callable).
// Messages without it have no route: only an unrouted Claim takes them.
const RouteKey = "callable"

// RoutedQueue is implemented by backends that can claim by route: a worker
// then takes only the messages of the callables it can run, and a message
// no live worker can run waits in the queue instead of being claimed and
// failed by a worker that lacks its handler.
type RoutedQueue interface {
	// ClaimRouted is Claim restricted to messages whose route (see RouteKey)
	// is one of routes. Messages are taken oldest first within each route;
	// with several routes the oldest of each route's candidates win.
	ClaimRouted(ctx context.Context, queue string, routes []string, n int, vt time.Duration) ([]Message, error)
}

// TableQueue is implemented by backends whose queues are tables in the
// store's PostgreSQL schema. The store then composes queue operations into
// its own statements: claim messages and their steps in one statement, or
// check which steps still have a message. The queue still owns its SQL: it
// hands out statements to embed as CTEs.
type TableQueue interface {
	Batcher
	RoutedQueue
	// ClaimSQL returns a data-modifying statement that claims up to $1
	// visible messages of queue, hiding them for $2 microseconds, RETURNING
	// msg_id, read_ct, vt, message.
	ClaimSQL(ctx context.Context, queue string) (string, error)
	// RoutedClaimSQL is ClaimSQL restricted to the messages whose route is
	// in the text[] parameter routesParam (e.g. "$5"; see RoutedQueue);
	// routes is how many routes the claims pass (the statement may walk
	// the queue differently for many).
	RoutedClaimSQL(ctx context.Context, queue, routesParam string, routes int) (string, error)
	// Table returns the quoted name of queue's table, for reads the store
	// composes itself (columns msg_id, read_ct, enqueued_at, vt and the
	// jsonb message), creating the queue if needed.
	Table(ctx context.Context, queue string) (string, error)
	// QueueNack adds to b making message id visible again at until.
	QueueNack(ctx context.Context, b *pgx.Batch, queue string, id int64, until time.Time) error
}
