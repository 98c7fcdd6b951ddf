// Package pgqueue is the PostgreSQL queue driver: pgmq semantics in our own
// SQL, with no extension required.
//
// Each queue is a table mq_<name> in the Tasker schema (names are validated
// before they get near SQL, and always quoted). A claim takes visible rows in
// id order with FOR UPDATE SKIP LOCKED and hides them for a visibility
// timeout; ack deletes. Sending inserts the rows and issues NOTIFY on the
// channel "<schema>.mq" with the queue name as payload, so the message and
// its wake-up both exist only if the transaction commits. Every process
// shares one LISTEN connection (pgnotify) for those wake-ups.
//
// Because its queues are tables beside the engine's own, its Work (its part
// of a store unit of work, see messaging.Work) costs nothing extra: sends,
// acks and deferrals are statements added to the store's batch, and a claim
// is a statement the store embeds in its own first statement (claim the
// messages, claim their steps and read what the handlers need in one
// round trip). Finish has nothing to do.
//
// A message's route (its top-level "callable", see messaging.RouteKey) is
// copied into the column callable when it is sent, and a partial index on
// (callable, msg_id) holds the routed messages only. A routed claim walks
// that index once per route it serves (serving many, once per route the
// queue holds), so it reads only messages it can take, however many
// messages of other routes wait ahead of them; queues without routed
// messages (orchestration's) pay nothing for the index.
package pgqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/pgnotify"
)

// Config configures the driver.
type Config struct {
	// Pool is the database pool. Its connections must use Schema as
	// search_path. Required.
	Pool *pgxpool.Pool
	// Schema is the Tasker schema; it names the NOTIFY channel. Required.
	Schema string
	// Listener delivers NOTIFY wake-ups; with nil, Subscribe wakes only
	// on the fallback poll.
	Listener *pgnotify.Listener
	// PollInterval is the fallback poll for lost notifications: how often
	// one statement checks every subscribed queue for visible messages
	// (default DefaultPollInterval). See Subscribe.
	PollInterval time.Duration
}

// Queue is the PostgreSQL messaging.Driver.
type Queue struct {
	pool     *pgxpool.Pool
	channel  string
	listener *pgnotify.Listener

	mu      sync.RWMutex
	ensured map[string]*statements

	watch *watcher
}

var (
	_ messaging.Driver = (*Queue)(nil)
	_ messaging.Tables = (*Queue)(nil)
)

// New creates the driver.
func New(cfg Config) (*Queue, error) {
	if cfg.Pool == nil {
		return nil, errors.New("pgqueue: Pool is required")
	}
	if cfg.Schema == "" {
		return nil, errors.New("pgqueue: Schema is required")
	}
	q := &Queue{
		pool:     cfg.Pool,
		channel:  Channel(cfg.Schema),
		listener: cfg.Listener,
		ensured:  map[string]*statements{},
	}
	q.watch = newWatcher(q, cfg.PollInterval)
	return q, nil
}

// Channel is the NOTIFY channel of a schema's queues.
func Channel(schema string) string { return schema + ".mq" }

// NewWork returns the driver's part of a store unit of work.
func (q *Queue) NewWork() messaging.Work { return work{q: q} }

// Tables returns the driver itself: its queues are tables of the schema.
func (q *Queue) Tables() messaging.Tables { return q }

// Table returns the quoted name of queue's table, creating the queue if
// needed.
func (q *Queue) Table(ctx context.Context, queue string) (string, error) {
	s, err := q.stmts(ctx, queue)
	if err != nil {
		return "", err
	}
	return s.table, nil
}

// Send sends payloads in one round trip: the insert and its NOTIFY run as
// one implicit transaction.
func (q *Queue) Send(ctx context.Context, queue string, delay time.Duration, payloads ...json.RawMessage) error {
	if len(payloads) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	if err := q.queueSend(ctx, b, queue, delay, payloads); err != nil {
		return err
	}
	if err := q.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("sending to %s: %w", queue, err)
	}
	return nil
}

// queueSend adds the insert of payloads and the wake-up to b.
func (q *Queue) queueSend(ctx context.Context, b *pgx.Batch, queue string, delay time.Duration, payloads []json.RawMessage) error {
	s, err := q.stmts(ctx, queue)
	if err != nil {
		return err
	}
	for i, p := range payloads {
		if !json.Valid(p) {
			return fmt.Errorf("sending to %s: message %d is not valid JSON", queue, i)
		}
	}
	b.Queue(s.send, payloadsArg(payloads), max(delay, 0).Microseconds())
	// Delayed messages notify too: an idle consumer wakes, finds nothing
	// visible yet, and sets a timer for the moment the message appears.
	b.Queue(`SELECT pg_notify($1, $2)`, q.channel, queue)
	return nil
}

// payloadsArg encodes payloads as a text array of JSON documents so pgx does
// not re-marshal them.
func payloadsArg(payloads []json.RawMessage) []string {
	out := make([]string, len(payloads))
	for i, p := range payloads {
		out[i] = string(p)
	}
	return out
}

// Claim takes up to o.N visible messages (of o.Routes, when set) and hides
// them for o.Visibility.
func (q *Queue) Claim(ctx context.Context, queue string, o messaging.ClaimOptions) ([]messaging.Message, error) {
	if o.N <= 0 || (o.Routes != nil && len(o.Routes) == 0) {
		return nil, nil
	}
	s, err := q.stmts(ctx, queue)
	if err != nil {
		return nil, err
	}
	sql, args := s.claimOf(o)
	rows, err := q.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("claiming from %s: %w", queue, err)
	}
	// Scanned in place (the statement's RETURNING list is fixed: msg_id,
	// read_ct, enqueued_at, vt, message): a claim is on every worker's and
	// consumer's hot path.
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (messaging.Message, error) {
		m := messaging.Message{Queue: queue}
		var body []byte
		err := r.Scan(&m.ID, &m.ReadCount, &m.EnqueuedAt, &m.VisibleAt, &body)
		m.Payload = body
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("claiming from %s: %w", queue, err)
	}
	slices.SortFunc(msgs, func(a, b messaging.Message) int { return int(a.ID - b.ID) })
	return msgs, nil
}

// Ack deletes the messages of current receipts.
func (q *Queue) Ack(ctx context.Context, queue string, receipts ...messaging.Receipt) error {
	if len(receipts) == 0 {
		return nil
	}
	s, err := q.stmts(ctx, queue)
	if err != nil {
		return err
	}
	ids, reads := receiptArgs(receipts)
	if _, err := q.pool.Exec(ctx, s.ack, ids, reads); err != nil {
		return fmt.Errorf("acking in %s: %w", queue, err)
	}
	return nil
}

// Nack makes the messages of current receipts visible again after delay.
func (q *Queue) Nack(ctx context.Context, queue string, delay time.Duration, receipts ...messaging.Receipt) error {
	return q.hide(ctx, "nacking", queue, max(delay, 0), receipts)
}

// Extend pushes the visibility timeout of the messages of current receipts
// to now+vt.
func (q *Queue) Extend(ctx context.Context, queue string, vt time.Duration, receipts ...messaging.Receipt) error {
	return q.hide(ctx, "extending", queue, vt, receipts)
}

func (q *Queue) hide(ctx context.Context, what, queue string, d time.Duration, receipts []messaging.Receipt) error {
	if len(receipts) == 0 {
		return nil
	}
	s, err := q.stmts(ctx, queue)
	if err != nil {
		return err
	}
	ids, reads := receiptArgs(receipts)
	if _, err := q.pool.Exec(ctx, s.nack, ids, reads, d.Microseconds()); err != nil {
		return fmt.Errorf("%s in %s: %w", what, queue, err)
	}
	return nil
}

// Stats reports depth, visible count and oldest message age (zeros for a
// queue that does not exist).
func (q *Queue) Stats(ctx context.Context, queue string) (messaging.Stats, error) {
	st := messaging.Stats{Queue: queue}
	s, err := q.existing(ctx, queue)
	if err != nil || s == nil {
		return st, err
	}
	var age float64
	if err := q.pool.QueryRow(ctx, s.stats).Scan(&st.Depth, &st.Visible, &age); err != nil {
		return st, fmt.Errorf("stats of %s: %w", queue, err)
	}
	st.OldestAge = time.Duration(age * float64(time.Second))
	return st, nil
}

// NextVisible reports when the earliest hidden message becomes visible.
func (q *Queue) NextVisible(ctx context.Context, queue string) (time.Time, bool, error) {
	s, err := q.existing(ctx, queue)
	if err != nil || s == nil {
		return time.Time{}, false, err
	}
	var t *time.Time
	if err := q.pool.QueryRow(ctx, s.next).Scan(&t); err != nil {
		return time.Time{}, false, fmt.Errorf("next visible in %s: %w", queue, err)
	}
	if t == nil {
		return time.Time{}, false, nil
	}
	return *t, true, nil
}

// Subscribe returns wake-ups for queue: on every NOTIFY for it (when the
// driver has a listener), after the listener reconnects, and from the
// fallback poll that one goroutine runs for every subscribed queue of the
// driver together (see watcher): when the poll finds visible messages, and
// when a hidden message it saw becomes visible before the next poll. A
// consumer that waits on this channel needs no poll of its own. The
// returned function unsubscribes; the poll stops with the last subscriber.
func (q *Queue) Subscribe(queue string) (<-chan struct{}, func()) {
	return q.watch.subscribe(queue, q.listener, q.channel)
}
