package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/messaging"
)

// OutboxMessage is one message waiting in the message outbox for a relay to
// publish it to a broker.
type OutboxMessage struct {
	// ID is the row's id; relays publish it as the message id, so the copies
	// of a message published twice (after a relay crash) carry the same id.
	ID int64
	// Queue is the queue the message goes to.
	Queue string
	// Payload is the message body (JSON).
	Payload json.RawMessage
	// DeliverAt is when the message is due: a relay publishes no earlier.
	DeliverAt time.Time
	// CreatedAt is when the row was written.
	CreatedAt time.Time
}

// BrokerWakeChannel is the NOTIFY channel on which outbox relays announce
// the broker queues they published to (see RelayOutboxAnnouncing).
func BrokerWakeChannel(schema string) string { return schema + ".broker_wake" }

// OutboxChannel is the NOTIFY channel on which WriteOutboxTx announces new
// rows, so relays wake without polling.
func OutboxChannel(schema string) string { return schema + ".message_outbox" }

// OutboxWrite is one message for WriteOutboxTx.
type OutboxWrite struct {
	Queue   string
	Payload json.RawMessage
	// Delay holds the message back: it is due at the transaction's time plus
	// Delay. Zero or negative: due at once.
	Delay time.Duration
}

// WriteOutboxTx writes messages to the message outbox inside the caller's
// transaction: they exist (and a relay publishes them) only if tx commits.
// Queue names and payloads are checked first; a bad one fails the call
// before anything is written.
func (s *Store) WriteOutboxTx(ctx context.Context, tx pgx.Tx, msgs ...OutboxWrite) error {
	if len(msgs) == 0 {
		return nil
	}
	if tx == nil {
		return fmt.Errorf("writing outbox: %w: no transaction", ErrInvalidInput)
	}
	b := &pgx.Batch{}
	if err := QueueOutboxWrites(b, s.OutboxChannel(), msgs...); err != nil {
		return err
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("writing outbox: %w", Classify(err))
	}
	return nil
}

// QueueOutboxWrites adds to b the statements that write msgs to the message
// outbox (and, when channel is not empty, announce them on it), for a
// caller that runs b in its own transaction: the rows exist only if that
// transaction commits. Queue names and payloads are checked first; a bad
// one fails the call before anything is queued.
func QueueOutboxWrites(b *pgx.Batch, channel string, msgs ...OutboxWrite) error {
	if len(msgs) == 0 {
		return nil
	}
	queues := make([]string, len(msgs))
	payloads := make([]string, len(msgs))
	delays := make([]int64, len(msgs))
	for i, m := range msgs {
		if err := messaging.ValidateQueueName(m.Queue); err != nil {
			return fmt.Errorf("writing outbox message %d: %w: %w", i, ErrInvalidInput, err)
		}
		if !json.Valid(m.Payload) {
			return fmt.Errorf("writing outbox message %d to %s: %w: payload is not valid JSON", i, m.Queue, ErrInvalidInput)
		}
		queues[i], payloads[i], delays[i] = m.Queue, string(m.Payload), max(m.Delay, 0).Microseconds()
	}
	b.Queue(`INSERT INTO message_outbox (queue, payload, deliver_at)
SELECT q, p::jsonb, now() + make_interval(secs => d / 1e6)
FROM unnest($1::text[], $2::text[], $3::bigint[]) AS m(q, p, d)`, queues, payloads, delays)
	if channel != "" {
		b.Queue(`SELECT pg_notify($1, '')`, channel)
	}
	return nil
}

// OutboxChannel is the channel this store's WriteOutboxTx notifies ("" when
// the store was built without a schema and sends no notifications).
func (s *Store) OutboxChannel() string {
	if s.eventsChannel == "" {
		return ""
	}
	return OutboxChannel(strings.TrimSuffix(s.eventsChannel, ".task_events"))
}

// RelayOutbox takes up to limit due outbox rows (oldest first) that no other
// relay holds, passes them to publish, and deletes them once publish
// returned nil, all in one transaction: the rows stay locked (other relays
// skip them) while publish runs. When publish fails, or the process dies
// before the delete commits, the rows stay and are published again later,
// so a message can be published more than once, never lost. It returns how
// many rows were published.
func (s *Store) RelayOutbox(ctx context.Context, limit int, publish func(ctx context.Context, msgs []OutboxMessage) error) (int, error) {
	return s.RelayOutboxAnnouncing(ctx, limit, "", func(ctx context.Context, msgs []OutboxMessage) ([]string, error) {
		return nil, publish(ctx, msgs)
	})
}

// RelayOutboxAnnouncing is RelayOutbox whose publish also returns payloads
// to NOTIFY on channel in the same transaction: the notifications are
// delivered when the rows' delete commits, after the broker confirmed the
// messages, so a consumer woken by one finds its messages in the broker.
func (s *Store) RelayOutboxAnnouncing(ctx context.Context, limit int, channel string,
	publish func(ctx context.Context, msgs []OutboxMessage) ([]string, error),
) (int, error) {
	if limit < 1 {
		return 0, fmt.Errorf("relaying outbox: %w: limit %d, want at least 1", ErrInvalidInput, limit)
	}
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, queue, payload, deliver_at, created_at
FROM message_outbox WHERE deliver_at <= now()
ORDER BY deliver_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`, limit)
		if err != nil {
			return err
		}
		msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxMessage, error) {
			var m OutboxMessage
			var payload []byte
			err := r.Scan(&m.ID, &m.Queue, &payload, &m.DeliverAt, &m.CreatedAt)
			m.Payload = payload
			return m, err
		})
		if err != nil || len(msgs) == 0 {
			return err
		}
		announce, err := publish(ctx, msgs)
		if err != nil {
			return &publishError{err}
		}
		ids := make([]int64, len(msgs))
		for i, m := range msgs {
			ids[i] = m.ID
		}
		if _, err := tx.Exec(ctx, `DELETE FROM message_outbox WHERE id = ANY($1)`, ids); err != nil {
			return err
		}
		if channel != "" && len(announce) > 0 {
			if _, err := tx.Exec(ctx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, channel, announce); err != nil {
				return err
			}
		}
		n = len(msgs)
		return nil
	})
	if pe := (*publishError)(nil); errors.As(err, &pe) {
		return 0, fmt.Errorf("relaying outbox: %w", pe.err)
	}
	if err != nil {
		return 0, fmt.Errorf("relaying outbox: %w", err)
	}
	return n, nil
}

// publishError carries the publish callback's error through inTx without
// being classified as a database error.
type publishError struct{ err error }

func (e *publishError) Error() string { return e.err.Error() }
func (e *publishError) Unwrap() error { return e.err }

// NextOutboxDue reports when the earliest outbox row is due (it may be in
// the past), and false when the outbox is empty.
func (s *Store) NextOutboxDue(ctx context.Context) (time.Time, bool, error) {
	var at *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT min(deliver_at) FROM message_outbox`).Scan(&at); err != nil {
		return time.Time{}, false, fmt.Errorf("reading next outbox row: %w", Classify(err))
	}
	if at == nil {
		return time.Time{}, false, nil
	}
	return *at, true, nil
}

// NextOutboxDueOf reports when the earliest outbox row of queue that is not
// due yet becomes due, read through db (a pool or a transaction of the
// Tasker schema); false when there is none.
func NextOutboxDueOf(ctx context.Context, db interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, queue string,
) (time.Time, bool, error) {
	var at *time.Time
	if err := db.QueryRow(ctx, `SELECT min(deliver_at) FROM message_outbox WHERE queue = $1 AND deliver_at > now()`,
		queue).Scan(&at); err != nil {
		return time.Time{}, false, fmt.Errorf("reading next outbox row of %s: %w", queue, Classify(err))
	}
	if at == nil {
		return time.Time{}, false, nil
	}
	return *at, true, nil
}

// OutboxStatsOf counts queue's outbox rows (committed messages the relay
// has not published yet, due or not) and reports how long the oldest has
// waited since its transaction wrote it (0 when there is none), read
// through db (a pool or a transaction of the Tasker schema). The age is
// the database's clock, as the rows' created_at.
func OutboxStatsOf(ctx context.Context, db interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, queue string,
) (rows int64, oldest time.Duration, err error) {
	var secs float64
	if err := db.QueryRow(ctx, `SELECT count(*), COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - min(created_at)), 0)::float8
		FROM message_outbox WHERE queue = $1`, queue).Scan(&rows, &secs); err != nil {
		return 0, 0, fmt.Errorf("reading the outbox rows of %s: %w", queue, Classify(err))
	}
	return rows, time.Duration(max(secs, 0) * float64(time.Second)), nil
}

// OutboxDepth counts the rows waiting in the outbox, due or not.
func (s *Store) OutboxDepth(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM message_outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting outbox rows: %w", Classify(err))
	}
	return n, nil
}
