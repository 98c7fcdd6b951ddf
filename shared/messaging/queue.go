// Package messaging defines how Tasker moves work: the queue driver
// interface every backend implements, the message shapes that travel on
// it, and the queue names.
//
// Messages are signals that carry identifiers; PostgreSQL holds the truth.
// Every consumer re-reads state and relies on compare-and-swap transitions,
// so a duplicate or stale message is harmless: it is deleted, never left to
// circulate.
//
// # Drivers
//
// A backend is one Driver. Its standalone methods send, claim, ack, nack,
// extend, report and wake up on their own. Its Work is its part of a unit of
// work: the PostgreSQL transaction in which the store changes state, sends
// the messages that announce the change, acks the messages that caused it
// and, on the hot paths, claims them. The store is the only caller of Work;
// workers and orchestration call the store and the standalone methods, and
// never learn which backend runs.
//
// The PostgreSQL driver (package pgqueue) keeps each queue as a table of the
// Tasker schema, so its Work adds its statements to the store's own
// batches: a claim is embedded in the statement that claims the steps and
// reads what their handlers need, and a state change, its messages and its
// acks travel in one round trip. A broker driver (RabbitMQ) keeps the same
// contract another way: sending inside a unit of work writes an outbox row
// in the transaction, which a relay publishes after the commit; its claims
// are deliveries taken before the transaction and handed to the statement
// as rows; its acks happen after the commit, never before. Work's doc
// states the contract exactly, and the conformance suite (messaging/queuetest)
// checks it for every driver.
package messaging

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
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
// had been delivered when it was claimed. Acking, nacking or extending by
// receipt acts on the message only if it was not delivered again since (its
// claim did not lapse into someone else's), like a receipt handle. A receipt
// with ReadCount 0 names the message whatever its deliveries (for a message
// known by id only, such as one whose claim rolled back).
type Receipt struct {
	ID        int64
	ReadCount int
}

// ReceiptOf is the receipt of a claimed message.
func ReceiptOf(m Message) Receipt { return Receipt{ID: m.ID, ReadCount: m.ReadCount} }

// ReceiptsOf returns the receipts of claimed messages.
func ReceiptsOf(msgs []Message) []Receipt {
	out := make([]Receipt, len(msgs))
	for i, m := range msgs {
		out[i] = ReceiptOf(m)
	}
	return out
}

// RouteKey is the top-level key of a message's JSON that names its route:
// the handler callable of the step it announces (StepMessage.Callable).
// Messages without it have no route: only an unrouted claim takes them (see
// ClaimOptions.Routes).
const RouteKey = "callable"
