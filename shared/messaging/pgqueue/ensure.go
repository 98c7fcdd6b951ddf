package pgqueue

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/messaging"
)

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
