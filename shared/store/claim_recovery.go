package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/messaging"
)

// With the PostgreSQL queue, claims in flight are found through their
// messages: a claimed step's message stays hidden in its worker queue until
// the claim ends (hidden until the claim deadline, deleted with the
// result). Worker queues are small, so this needs no index on
// workflow_steps (where one on a column that claims change would cost the
// table its HOT updates). A driver without queue tables (a broker) has them
// found through the open tasks instead (claim_recovery_open.go).

// ClaimerLocks is what ClaimsInFlight saw.
type ClaimerLocks struct {
	// Claimers are the liveness locks steps are claimed under right now.
	Claimers []ClaimerLock
	// Now is the database's clock when it looked.
	Now time.Time
	// PostgresStarted is when the server started: every liveness lock was
	// lost then, and live workers take theirs again within moments.
	PostgresStarted time.Time
}

// ClaimerLock is one liveness lock and the steps claimed under it.
type ClaimerLock struct {
	// Lock is the key; 0 gathers the claims made without one.
	Lock int64 `db:"lock"`
	// Steps counts the steps in progress under it.
	Steps int `db:"steps"`
	// Held says a session holds the lock: the claimer's process lives.
	Held bool `db:"held"`
}

// InProgress counts the steps in progress under every lock.
func (c ClaimerLocks) InProgress() int {
	n := 0
	for _, cl := range c.Claimers {
		n += cl.Steps
	}
	return n
}

// ClaimsInFlight reports, for every liveness lock that steps in progress are
// claimed under, how many there are and whether a session holds the lock.
// It is one read (worker queues, pg_locks, the claimed rows by primary key,
// and the list of worker queues, which checks the one it read): when a
// worker queue was created since the last look (a worker creates its
// namespaces' queues one by one as it starts), it reads again with the new
// list, so no namespace's claims go unseen. With a driver that has no
// queue tables it reads the steps in progress of the open tasks instead.
func (s *Store) ClaimsInFlight(ctx context.Context) (ClaimerLocks, error) {
	if s.tables == nil {
		return s.claimsInFlightOfOpenTasks(ctx)
	}
	tables, err := s.workerQueueTables(ctx)
	if err != nil {
		return ClaimerLocks{}, fmt.Errorf("finding claims in flight: %w", err)
	}
	out, current, err := s.claimsInFlight(ctx, tables)
	if err == nil && !slices.Equal(tables, current) {
		s.workerTables.set(current)
		out, _, err = s.claimsInFlight(ctx, current)
	}
	if err != nil {
		s.workerTables.forget() // a queue dropped meanwhile: list them again
		return ClaimerLocks{}, fmt.Errorf("finding claims in flight: %w", err)
	}
	return out, nil
}

// claimsInFlight is one ClaimsInFlight read through tables; it also returns
// the worker queue tables that exist now.
func (s *Store) claimsInFlight(ctx context.Context, tables []workerQueueTable) (ClaimerLocks, []workerQueueTable, error) {
	var out ClaimerLocks
	var current []workerQueueTable
	b := &pgx.Batch{}
	if len(tables) > 0 {
		b.Queue(`WITH m AS (` + hiddenMessagesSQL(tables) + `),
			held AS (
				SELECT DISTINCT (l.classid::int8 << 32) | l.objid::int8 AS lock FROM pg_locks l
				WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
				  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			)
			SELECT COALESCE(s.claimer_lock, 0) AS lock, count(*)::int AS steps, bool_or(h.lock IS NOT NULL) AS held
			FROM (SELECT DISTINCT ` + messageStepSQL + ` AS id FROM m) ids
			JOIN workflow_steps s ON s.workflow_step_uuid = ids.id
			LEFT JOIN held h ON h.lock = s.claimer_lock
			WHERE s.state = 'in_progress'
			GROUP BY 1 ORDER BY 1`).Query(func(rows pgx.Rows) error {
			var err error
			out.Claimers, err = pgx.CollectRows(rows, pgx.RowToStructByName[ClaimerLock])
			return err
		})
	}
	b.Queue(workerQueueTablesSQL).Query(func(rows pgx.Rows) error {
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		current = workerQueueTablesOf(names)
		return err
	})
	queueClocks(b, &out)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return ClaimerLocks{}, nil, err
	}
	return out, current, nil
}

// queueClocks adds to b the read of the database's clock and start time
// into out.
func queueClocks(b *pgx.Batch, out *ClaimerLocks) {
	type clocks struct {
		Now             time.Time `db:"now"`
		PostgresStarted time.Time `db:"postgres_started"`
	}
	b.Queue(`SELECT now() AS now, pg_postmaster_start_time() AS postgres_started`).Query(func(rows pgx.Rows) error {
		c, err := pgx.CollectOneRow(rows, pgx.RowToStructByName[clocks])
		out.Now, out.PostgresStarted = c.Now, c.PostgresStarted
		return err
	})
}

// ExpireDeadClaims ends the claims held under a liveness lock that no
// session holds (the claimer's process is gone) and that were made before
// claimedBefore: each step's claim deadline becomes now, and its hidden
// message is replaced by a visible one (with a wake-up), so the next claim
// of any worker reclaims the step as it would after the deadline (the lost
// run counts as an attempt; with none left the step fails as worker_lost).
// The lock is checked again in the same statement: a claimer that took its
// lock back meanwhile keeps its claims. It returns the steps released. With
// a driver that has no queue tables the steps are found through the open
// tasks, and each gets a new message (sent in the same unit of work) since
// the old delivery cannot be reached.
func (s *Store) ExpireDeadClaims(ctx context.Context, lock int64, claimedBefore time.Time) ([]uuid.UUID, error) {
	if s.tables == nil {
		return s.expireDeadClaimsOfOpenTasks(ctx, lock, claimedBefore)
	}
	tables, err := s.workerQueueTables(ctx)
	if err != nil || len(tables) == 0 {
		return nil, err
	}
	type expired struct {
		reenqueued
		Queue     string `db:"queue"`
		MessageID int64  `db:"msg_id"`
		ReadCount int    `db:"read_ct"`
	}
	var rows []expired
	var fresh []reenqueued
	err = s.inTxOutbox(ctx, func(o *outbox) error {
		o.b.Queue(`WITH m AS (`+hiddenMessagesSQL(tables)+`),
			exp AS (
				UPDATE workflow_steps s SET claim_deadline = now(), updated_at = now()
				WHERE s.workflow_step_uuid IN (SELECT `+messageStepSQL+` FROM m)
				  AND s.state = 'in_progress' AND s.claimer_lock = $1 AND s.last_attempted_at < $2
				  AND s.claim_deadline > now() AND NOT `+fmt.Sprintf(heldLockSQL, "$1::bigint")+`
				RETURNING s.workflow_step_uuid, s.task_uuid, s.handler_callable
			)
			SELECT e.workflow_step_uuid, e.task_uuid, t.namespace, t.correlation_id, m.queue, m.msg_id, m.read_ct,
				e.handler_callable
			FROM exp e JOIN tasks t USING (task_uuid) JOIN m ON m.step = e.workflow_step_uuid::text
			ORDER BY m.msg_id`, lock, claimedBefore).Query(func(r pgx.Rows) error {
			var err error
			rows, err = pgx.CollectRows(r, pgx.RowToStructByName[expired])
			return err
		})
		if err := o.flush(); err != nil {
			return err
		}
		acks := map[string][]messaging.Receipt{}
		seen := map[uuid.UUID]bool{}
		fresh = fresh[:0]
		for _, r := range rows {
			acks[r.Queue] = append(acks[r.Queue], messaging.Receipt{ID: r.MessageID, ReadCount: r.ReadCount})
			if seen[r.Step] {
				continue
			}
			seen[r.Step] = true
			fresh = append(fresh, r.reenqueued)
		}
		if err := o.ackAll(acks); err != nil {
			return err
		}
		return sendStepMessages(o, fresh)
	})
	if err != nil {
		s.workerTables.forget()
		return nil, fmt.Errorf("expiring dead claims: %w", err)
	}
	var out []uuid.UUID
	for _, r := range fresh {
		out = append(out, r.Step)
	}
	return out, nil
}

// ReleaseOrphanedClaims gives back the steps claimed by c through queue that
// the caller is not running (running lists those it is): a claim whose
// outcome the worker never learned (the connection died around its COMMIT)
// may have claimed steps no handler runs. Each goes back to enqueued without
// the attempt counting (it never ran), with the reason
// claim_outcome_unknown in its history, and its message becomes visible at
// once. It returns how many steps it released. With the PostgreSQL queue it
// finds the claims through their hidden messages; with a driver that has no
// queue tables, through the open tasks of queue's namespace, and each step
// released gets a new message in the same unit of work.
func (s *Store) ReleaseOrphanedClaims(ctx context.Context, c Claimer, queue string, running []uuid.UUID) (int, error) {
	if s.tables == nil {
		return s.releaseOrphanedClaimsOfOpenTasks(ctx, c, queue, running)
	}
	table, err := s.queueTable(ctx, queue)
	if err != nil {
		return 0, err
	}
	p := s.pipe(ctx)
	defer p.close()
	b := &pgx.Batch{}
	var n int
	b.Queue(`WITH m AS (
			SELECT message->>'step_uuid' AS step FROM `+table+` WHERE vt > now()
		), upd AS (
			UPDATE workflow_steps SET `+unclaimSet+`
			WHERE workflow_step_uuid IN (SELECT `+messageStepSQL+` FROM m)
			  AND workflow_step_uuid <> ALL(COALESCE($3::uuid[], '{}'))
			  AND state = 'in_progress' AND claimed_by = $1 AND claimer_lock IS NOT DISTINCT FROM NULLIF($2::bigint, 0)
			RETURNING workflow_step_uuid, task_uuid
		), hist AS (`+unclaimedHistory("claim_outcome_unknown", "$1")+`), vis AS (
			UPDATE `+table+` q SET vt = now() FROM upd
			WHERE q.message->>'step_uuid' = upd.workflow_step_uuid::text AND q.vt > now()
		)
		SELECT count(*) FROM upd`, c.ID, c.Lock, running).QueryRow(func(row pgx.Row) error {
		return row.Scan(&n)
	})
	if err := p.commit(b); err != nil {
		return 0, fmt.Errorf("releasing orphaned claims: %w", err)
	}
	return n, nil
}

// messageStepSQL is the step a message of m names, as a uuid (NULL when the
// payload's step_uuid is not one).
const messageStepSQL = `CASE WHEN step ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' THEN step::uuid END`

// workerQueueTable is one worker queue and its quoted table name.
type workerQueueTable struct {
	queue, table string
}

// hiddenMessagesSQL reads the hidden messages (queue, msg_id, read_ct,
// step) of every worker queue.
func hiddenMessagesSQL(tables []workerQueueTable) string {
	parts := make([]string, len(tables))
	for i, t := range tables {
		// The queue name was validated (letters, digits, underscores).
		parts[i] = `SELECT '` + t.queue + `'::text AS queue, msg_id, read_ct, message->>'step_uuid' AS step
			FROM ` + t.table + ` WHERE vt > now()`
	}
	return strings.Join(parts, "\n\t\t\tUNION ALL ")
}

// queueTableCache remembers the worker queue tables of the schema as the
// last look found them (ClaimsInFlight checks the list with every look).
type queueTableCache struct {
	mu     sync.Mutex
	tables []workerQueueTable
	loaded bool
}

// forget makes the next look read the list from the catalog.
func (c *queueTableCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tables, c.loaded = nil, false
}

func (c *queueTableCache) set(tables []workerQueueTable) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tables, c.loaded = tables, true
}

// workerQueueTables lists the worker queues that exist in the schema as the
// last look found them (reading the catalog before the first).
func (s *Store) workerQueueTables(ctx context.Context) ([]workerQueueTable, error) {
	c := &s.workerTables
	c.mu.Lock()
	tables, loaded := c.tables, c.loaded
	c.mu.Unlock()
	if loaded {
		return tables, nil
	}
	out, err := s.listWorkerQueueTables(ctx)
	if err != nil {
		return nil, err
	}
	c.set(out)
	return out, nil
}

// workerQueueTablesSQL lists the worker queue tables of the schema.
const workerQueueTablesSQL = `SELECT relname FROM pg_class
	WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p')
	  AND relname LIKE 'mq\_worker\_%\_queue' ORDER BY relname`

// listWorkerQueueTables reads the worker queue tables of the schema from
// the catalog (no cache).
func (s *Store) listWorkerQueueTables(ctx context.Context) ([]workerQueueTable, error) {
	rows, err := s.pool.Query(ctx, workerQueueTablesSQL)
	if err != nil {
		return nil, fmt.Errorf("listing worker queues: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("listing worker queues: %w", err)
	}
	return workerQueueTablesOf(names), nil
}

// workerQueueTablesOf turns worker queue table names into their queues.
func workerQueueTablesOf(names []string) []workerQueueTable {
	var out []workerQueueTable
	for _, n := range names {
		q := strings.TrimPrefix(n, "mq_")
		if messaging.ValidateQueueName(q) != nil {
			continue
		}
		out = append(out, workerQueueTable{queue: q, table: pgx.Identifier{n}.Sanitize()})
	}
	return out
}
