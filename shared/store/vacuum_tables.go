package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Queue tables churn: every message is inserted, hidden by its claim and
// deleted by its ack. The delete leaves a dead row whose index entries stay
// until VACUUM removes them, and a claim walks the queue's indexes in id
// order from the oldest entry: past every message acked since the last
// vacuum. Without one, a queue that moved 100,000 messages reads about 600
// buffers per claim instead of 7 (500,000: about 5,000 buffers, 145 ms),
// and the engine slows in proportion to the work it has done. The broker
// backend's outbox churns the same way, and so does the index of open
// tasks: a task's finishing update takes it out of that index, and its old
// entry stays until a vacuum (100,000 finished tasks: 276 buffers per look
// at the open tasks instead of a few). Task and step updates are otherwise
// HOT, whose old versions PostgreSQL prunes without vacuum.
// VacuumHotTables keeps those tables small whatever autovacuum does.

// hotTablesSQL selects the queue tables, the outbox and tasks in the current
// schema whose dead rows exceed max($1, $2 × live rows), skipping those
// vacuumed in the last few seconds (the statistics lag the vacuum that
// cleared them).
const hotTablesSQL = `SELECT relname::text FROM pg_stat_user_tables
	WHERE schemaname = current_schema()
	  AND (relname LIKE 'mq\_%' OR relname IN ('message_outbox', 'tasks'))
	  AND n_dead_tup > GREATEST($1::float8, $2::float8 * n_live_tup)
	  AND COALESCE(GREATEST(last_vacuum, last_autovacuum), 'epoch') < now() - interval '5 seconds'
	ORDER BY n_dead_tup DESC, relname`

// VacuumHotTables vacuums the queue tables, the outbox and tasks when their
// dead rows exceed both minDead and fraction × their live rows, and returns
// the tables it vacuumed. VACUUM takes no lock that blocks sends, claims,
// acks or task updates (it waits for another vacuum or analyze of the same
// table, and an autovacuum worker gives way to it); it cannot remove rows
// that a transaction older than their deletion may still see, so a
// long-running transaction holds it back as it holds back autovacuum.
func (s *Store) VacuumHotTables(ctx context.Context, minDead int, fraction float64) ([]string, error) {
	rows, err := s.pool.Query(ctx, hotTablesSQL, minDead, fraction)
	if err != nil {
		return nil, fmt.Errorf("reading table statistics: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("reading table statistics: %w", err)
	}
	if len(names) == 0 {
		return nil, nil
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("vacuuming: %w", err)
	}
	defer conn.Release()
	// The vacuum of a large tasks table can outlast the statement timeout
	// of the pool's connections (and would then be cancelled and retried
	// on every pass, never finishing): this connection runs without one
	// while it vacuums, and gets the pool's back after (RESET restores the
	// connection's start-up value). One that cannot be reset is closed.
	if _, err := conn.Exec(ctx, "SET statement_timeout = 0"); err != nil {
		return nil, fmt.Errorf("vacuuming: %w", err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(rctx, "RESET statement_timeout"); err != nil {
			_ = conn.Conn().Close(rctx)
		}
	}()
	var done []string
	for _, n := range names {
		if _, err := conn.Exec(ctx, "VACUUM "+pgx.Identifier{n}.Sanitize()); err != nil {
			return done, fmt.Errorf("vacuuming %s: %w", n, err)
		}
		done = append(done, n)
	}
	return done, nil
}
