// Package pgqueue is the PostgreSQL queue backend: pgmq semantics in our own
// SQL, with no extension required.
//
// Each queue is a table mq_<name> in the Tasker schema (names are validated
// before they get near SQL, and always quoted). A claim takes visible rows in
// id order with FOR UPDATE SKIP LOCKED and hides them for a visibility
// timeout; ack deletes. Sending in a transaction inserts the row and issues
// NOTIFY on the channel "<schema>.mq" with the queue name as payload, so the
// message and its wake-up both exist only if the transaction commits. Every
// process shares one LISTEN connection (pgnotify) for those wake-ups.
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
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/pgnotify"
)

// Config configures the queue.
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

// Queue is the PostgreSQL backend of messaging.Queue.
type Queue struct {
	pool     *pgxpool.Pool
	channel  string
	listener *pgnotify.Listener

	mu      sync.RWMutex
	ensured map[string]*statements

	watch *watcher
}

var (
	_ messaging.Queue       = (*Queue)(nil)
	_ messaging.TableQueue  = (*Queue)(nil)
	_ messaging.RoutedQueue = (*Queue)(nil)
)

// ClaimSQL returns the claim statement to embed (parameters $1 = how many,
// $2 = visibility in microseconds).
func (q *Queue) ClaimSQL(ctx context.Context, queue string) (string, error) {
	s, err := q.stmts(ctx, queue)
	if err != nil {
		return "", err
	}
	return s.claim, nil
}

// RoutedClaimSQL returns the routed claim statement to embed (parameters
// $1 = how many, $2 = visibility in microseconds, routesParam = the routes
// as text[]); routes is how many routes the claims will pass.
func (q *Queue) RoutedClaimSQL(ctx context.Context, queue, routesParam string, routes int) (string, error) {
	s, err := q.stmts(ctx, queue)
	if err != nil {
		return "", err
	}
	return s.routedClaim(routesParam, routes > manyRoutes), nil
}

// Table returns the quoted name of queue's table.
func (q *Queue) Table(ctx context.Context, queue string) (string, error) {
	s, err := q.stmts(ctx, queue)
	if err != nil {
		return "", err
	}
	return s.table, nil
}

// QueueNack adds to b hiding message id until the given time.
func (q *Queue) QueueNack(ctx context.Context, b *pgx.Batch, queue string, id int64, until time.Time) error {
	s, err := q.stmts(ctx, queue)
	if err != nil {
		return err
	}
	b.Queue(s.nackAt, id, until)
	return nil
}

// New creates the backend.
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

// statements are the SQL texts of one queue, built once from the validated
// name.
type statements struct {
	table, index, send, claim, del, delReceipts, nack, nackAt, extend, stats, next string
	// routedFew and routedMany are the statements of ClaimRouted (routes
	// in $3).
	routedFew, routedMany string
}

// manyRoutes is the number of routes above which a routed claim first
// lists the routes that have messages (one index probe per distinct route
// in the queue) instead of probing every route it serves: a worker with
// dozens of handlers whose queue holds messages of a few.
const manyRoutes = 8

// routedClaim is the claim of the messages whose route is in the text[]
// parameter routes. Each route's oldest visible messages are found by a
// walk of the (callable, msg_id) index of their own, the oldest 2*$1 of
// all candidates are kept, and of those the first $1 that no other claim
// holds are locked and claimed (so a claim racing another one still fills
// its batch, and rows are locked only to be taken: a walk per route that
// locked as it went would lock $1 rows per route and take $1 in all).
//
// A walk is written as a row comparison on the index's columns on purpose:
// with an equality on callable the planner may take the primary key's id
// order as good enough and walk the whole queue past other routes'
// messages, or fetch all of a route's messages and sort them; the row
// comparison leaves only an ordered walk of the callable index that stops
// after 2*$1 rows.
//
// With many routes (see manyRoutes) the routes that have messages are found
// first by skipping through the index from one distinct callable to the
// next, and only those the claim serves are walked.
func (s *statements) routedClaim(routes string, many bool) string {
	source := `unnest(` + routes + `::text[]) AS r(route)`
	with, where := "", ""
	if many {
		with = `WITH RECURSIVE present(route) AS (
					(SELECT callable FROM ` + s.table + ` WHERE callable IS NOT NULL ORDER BY callable LIMIT 1)
					UNION ALL
					SELECT (SELECT m.callable FROM ` + s.table + ` m WHERE m.callable > p.route ORDER BY m.callable LIMIT 1)
					FROM present p WHERE p.route IS NOT NULL)
				`
		source = `present r`
		where = ` WHERE r.route = ANY(` + routes + `::text[])`
	}
	return `UPDATE ` + s.table + `
			SET vt = clock_timestamp() + $2 * interval '1 microsecond', read_ct = read_ct + 1
			WHERE msg_id = ANY(ARRAY(
				SELECT msg_id FROM ` + s.table + `
				WHERE msg_id = ANY(ARRAY(
					` + with + `SELECT c.msg_id FROM ` + source + `
					CROSS JOIN LATERAL (
						SELECT msg_id FROM ` + s.table + ` m
						WHERE (m.callable, m.msg_id) > (r.route, 0::bigint) AND m.callable <= r.route
						  AND m.vt <= clock_timestamp()
						ORDER BY m.callable, m.msg_id LIMIT 2 * $1) c` + where + `
					ORDER BY c.msg_id LIMIT 2 * $1))
				  AND vt <= clock_timestamp()
				ORDER BY msg_id LIMIT $1 FOR UPDATE SKIP LOCKED))
			RETURNING msg_id, read_ct, enqueued_at, vt, message`
}

func newStatements(queue string) *statements {
	t := pgx.Identifier{"mq_" + queue}.Sanitize()
	s := &statements{
		table: t,
		index: pgx.Identifier{"mq_" + queue + "_callable"}.Sanitize(),
		// The route is copied from the message as it is written (once per
		// message; claims and acks never recompute it).
		send: `INSERT INTO ` + t + ` (vt, message, callable)
			SELECT now() + $2 * interval '1 microsecond', m, m->>'` + messaging.RouteKey + `' FROM unnest($1::jsonb[]) AS m`,
		// The ids are picked first (an InitPlan) and the rows are then
		// updated by primary key: the plan stays index-driven whatever the
		// statistics say about a table full of dead tuples.
		claim: `UPDATE ` + t + `
			SET vt = clock_timestamp() + $2 * interval '1 microsecond', read_ct = read_ct + 1
			WHERE msg_id = ANY(ARRAY(
				SELECT msg_id FROM ` + t + `
				WHERE vt <= clock_timestamp()
				ORDER BY msg_id LIMIT $1 FOR UPDATE SKIP LOCKED))
			RETURNING msg_id, read_ct, enqueued_at, vt, message`,
		del: `DELETE FROM ` + t + ` WHERE msg_id = ANY($1)`,
		delReceipts: `DELETE FROM ` + t + ` AS m USING unnest($1::bigint[], $2::int[]) AS r(id, rc)
			WHERE m.msg_id = r.id AND m.msg_id = ANY($1) AND (r.rc <= 0 OR m.read_ct = r.rc)`,
		nack:   `UPDATE ` + t + ` SET vt = clock_timestamp() + $2 * interval '1 microsecond' WHERE msg_id = $1`,
		nackAt: `UPDATE ` + t + ` SET vt = $2 WHERE msg_id = $1`,
		extend: `UPDATE ` + t + ` SET vt = clock_timestamp() + $2 * interval '1 microsecond' WHERE msg_id = ANY($1)`,
		stats: `SELECT count(*), count(*) FILTER (WHERE vt <= clock_timestamp()),
			COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - min(enqueued_at)), 0)::float8 FROM ` + t,
		next: `SELECT min(vt) FROM ` + t + ` WHERE vt > clock_timestamp()`,
	}
	s.routedFew, s.routedMany = s.routedClaim("$3", false), s.routedClaim("$3", true)
	return s
}

// ensureLockKey serialises queue creation across processes (CREATE TABLE IF
// NOT EXISTS races on the catalog otherwise).
const ensureLockKey = 0x7461736b6d71 // "taskmq"

// Ensure creates the queue table if needed.
func (q *Queue) Ensure(ctx context.Context, queue string) error {
	_, err := q.stmts(ctx, queue)
	return err
}

func (q *Queue) stmts(ctx context.Context, queue string) (*statements, error) {
	q.mu.RLock()
	s, ok := q.ensured[queue]
	q.mu.RUnlock()
	if ok {
		return s, nil
	}
	if err := messaging.ValidateQueueName(queue); err != nil {
		return nil, err
	}
	s = newStatements(queue)
	err := pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(ensureLockKey)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.table+` (
			msg_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			read_ct     integer     NOT NULL DEFAULT 0,
			enqueued_at timestamptz NOT NULL DEFAULT now(),
			vt          timestamptz NOT NULL DEFAULT now(),
			message     jsonb       NOT NULL,
			callable    text
		) WITH (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 200,
		        autovacuum_analyze_scale_factor = 0.02)`)
		// No index on vt: claims walk the primary key (or the callable
		// index) in id order and skip hidden rows.
		if err != nil {
			return err
		}
		return ensureRouting(ctx, tx, s)
	})
	if err != nil {
		return nil, fmt.Errorf("ensuring queue %s: %w", queue, err)
	}
	q.mu.Lock()
	q.ensured[queue] = s
	q.mu.Unlock()
	return s, nil
}

// ensureRouting gives a queue table created before messages had routes its
// callable column (a migration adds it to the tables that exist when it
// runs; this covers one created later by an older process) and creates the
// callable index. Both are looked up first, so a queue that has them takes
// no lock stronger than the lookup's.
func ensureRouting(ctx context.Context, tx pgx.Tx, s *statements) error {
	var hasColumn, hasIndex bool
	err := tx.QueryRow(ctx, `SELECT
			EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'callable' AND NOT attisdropped),
			to_regclass($2) IS NOT NULL`, s.table, s.index).Scan(&hasColumn, &hasIndex)
	if err != nil {
		return err
	}
	if !hasColumn {
		if _, err := tx.Exec(ctx, `ALTER TABLE `+s.table+` ADD COLUMN IF NOT EXISTS callable text`); err != nil {
			return err
		}
	}
	if !hasIndex {
		// Partial: messages without a route (orchestration's queues) cost
		// no index work.
		if _, err := tx.Exec(ctx, `CREATE INDEX IF NOT EXISTS `+s.index+` ON `+s.table+
			` (callable, msg_id) WHERE callable IS NOT NULL`); err != nil {
			return err
		}
	}
	return nil
}

// Send sends one message.
func (q *Queue) Send(ctx context.Context, queue string, payload json.RawMessage, delay time.Duration) error {
	return q.SendBatch(ctx, queue, []json.RawMessage{payload}, delay)
}

// SendBatch sends several messages in one statement.
func (q *Queue) SendBatch(ctx context.Context, queue string, payloads []json.RawMessage, delay time.Duration) error {
	return pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		return q.SendTx(ctx, tx, queue, payloads, delay)
	})
}

// SendTx inserts the messages and their NOTIFY in tx.
func (q *Queue) SendTx(ctx context.Context, tx pgx.Tx, queue string, payloads []json.RawMessage, delay time.Duration) error {
	if len(payloads) == 0 {
		return nil
	}
	s, err := q.stmts(ctx, queue)
	if err != nil {
		return err
	}
	for i, p := range payloads {
		if !json.Valid(p) {
			return fmt.Errorf("sending to %s: message %d is not valid JSON", queue, i)
		}
	}
	b := &pgx.Batch{}
	b.Queue(s.send, payloadsArg(payloads), max(delay, 0).Microseconds())
	// Delayed messages notify too: an idle consumer wakes, finds nothing
	// visible yet, and sets a timer for the moment the message appears.
	b.Queue(`SELECT pg_notify($1, $2)`, q.channel, queue)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("sending to %s: %w", queue, err)
	}
	return nil
}

// QueueSend adds the insert of payloads and the wake-up to b.
func (q *Queue) QueueSend(ctx context.Context, b *pgx.Batch, queue string, payloads []json.RawMessage, delay time.Duration) error {
	if len(payloads) == 0 {
		return nil
	}
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
	b.Queue(`SELECT pg_notify($1, $2)`, q.channel, queue)
	return nil
}

// QueueAck adds to b the deletion of messages whose receipts are current.
func (q *Queue) QueueAck(ctx context.Context, b *pgx.Batch, queue string, receipts []messaging.Receipt) error {
	if len(receipts) == 0 {
		return nil
	}
	s, err := q.stmts(ctx, queue)
	if err != nil {
		return err
	}
	ids := make([]int64, len(receipts))
	reads := make([]int32, len(receipts))
	for i, r := range receipts {
		ids[i], reads[i] = r.ID, int32(r.ReadCount) //nolint:gosec // read_ct is an int4 column: the value came from it
	}
	b.Queue(s.delReceipts, ids, reads)
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

// Claim takes up to n visible messages and hides them for vt.
func (q *Queue) Claim(ctx context.Context, queue string, n int, vt time.Duration) ([]messaging.Message, error) {
	if n <= 0 {
		return nil, nil
	}
	s, err := q.stmts(ctx, queue)
	if err != nil {
		return nil, err
	}
	return q.claimWith(ctx, queue, s.claim, n, vt.Microseconds())
}

func (q *Queue) claimWith(ctx context.Context, queue, sql string, args ...any) ([]messaging.Message, error) {
	rows, err := q.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("claiming from %s: %w", queue, err)
	}
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

// ClaimRouted takes up to n visible messages whose route is one of routes
// and hides them for vt.
func (q *Queue) ClaimRouted(ctx context.Context, queue string, routes []string, n int, vt time.Duration) ([]messaging.Message, error) {
	if n <= 0 || len(routes) == 0 {
		return nil, nil
	}
	s, err := q.stmts(ctx, queue)
	if err != nil {
		return nil, err
	}
	sql := s.routedFew
	if len(routes) > manyRoutes {
		sql = s.routedMany
	}
	return q.claimWith(ctx, queue, sql, n, vt.Microseconds(), routes)
}

// Ack deletes messages.
func (q *Queue) Ack(ctx context.Context, queue string, ids ...int64) error {
	return q.exec(ctx, q.pool, queue, func(s *statements) (string, []any) { return s.del, []any{ids} }, len(ids))
}

// AckTx deletes messages in tx.
func (q *Queue) AckTx(ctx context.Context, tx pgx.Tx, queue string, ids ...int64) error {
	return q.exec(ctx, tx, queue, func(s *statements) (string, []any) { return s.del, []any{ids} }, len(ids))
}

// Committed does nothing: AckTx already deleted the rows in the transaction.
func (q *Queue) Committed(context.Context, string, ...int64) error { return nil }

// Nack makes a message visible again after delay.
func (q *Queue) Nack(ctx context.Context, queue string, id int64, delay time.Duration) error {
	return q.exec(ctx, q.pool, queue, func(s *statements) (string, []any) {
		return s.nack, []any{id, max(delay, 0).Microseconds()}
	}, 1)
}

// Extend pushes the visibility timeout of claimed messages to now+vt.
func (q *Queue) Extend(ctx context.Context, queue string, vt time.Duration, ids ...int64) error {
	return q.exec(ctx, q.pool, queue, func(s *statements) (string, []any) {
		return s.extend, []any{ids, vt.Microseconds()}
	}, len(ids))
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func (q *Queue) exec(ctx context.Context, db execer, queue string, build func(*statements) (string, []any), n int) error {
	if n == 0 {
		return nil
	}
	s, err := q.stmts(ctx, queue)
	if err != nil {
		return err
	}
	sql, args := build(s)
	if _, err := db.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("queue %s: %w", queue, err)
	}
	return nil
}

// existing returns the statements of a queue that exists, or nil when it
// does not (read-only calls never create queues).
func (q *Queue) existing(ctx context.Context, queue string) (*statements, error) {
	q.mu.RLock()
	s, ok := q.ensured[queue]
	q.mu.RUnlock()
	if ok {
		return s, nil
	}
	if err := messaging.ValidateQueueName(queue); err != nil {
		return nil, err
	}
	var exists bool
	if err := q.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, pgx.Identifier{"mq_" + queue}.Sanitize()).Scan(&exists); err != nil {
		return nil, fmt.Errorf("looking up queue %s: %w", queue, err)
	}
	if !exists {
		return nil, nil
	}
	s = newStatements(queue)
	q.mu.Lock()
	q.ensured[queue] = s
	q.mu.Unlock()
	return s, nil
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
// Queue has a listener), after the listener reconnects, and from the
// fallback poll that one goroutine runs for every subscribed queue of the
// Queue together (see watcher): when the poll finds visible messages, and
// when a hidden message it saw becomes visible before the next poll. A
// consumer that waits on this channel needs no poll of its own. The
// returned function unsubscribes; the poll stops with the last subscriber.
func (q *Queue) Subscribe(queue string) (<-chan struct{}, func()) {
	return q.watch.subscribe(queue, q.listener, q.channel)
}
