package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Dead rows are what every update and delete leaves behind in PostgreSQL;
// only VACUUM makes their space reusable. The engine's hot tables (steps,
// queues) churn fast, so when autovacuum is off or falls behind, their
// indexes and heaps bloat and every statement on them slows down. The
// statements below read what PostgreSQL's statistics say, so operators
// learn about it from the engine rather than from its latency.

// TableVacuum is PostgreSQL's view of one of the engine's tables.
type TableVacuum struct {
	// Table is the table's name (in the Tasker schema).
	Table string `db:"relname"`
	// LiveRows and DeadRows are the statistics' estimates.
	LiveRows int64 `db:"n_live_tup"`
	DeadRows int64 `db:"n_dead_tup"`
	// LastVacuum is the latest manual or automatic vacuum (nil: never,
	// since the statistics were last reset).
	LastVacuum *time.Time `db:"last_vacuum"`
	// AutovacuumEnabled is false when the table's storage parameter
	// autovacuum_enabled turns autovacuum off for it.
	AutovacuumEnabled bool `db:"autovacuum_enabled"`
}

// VacuumStatus is the server's autovacuum setting and the engine's tables,
// most dead rows first.
type VacuumStatus struct {
	// Autovacuum is the server's autovacuum setting.
	Autovacuum bool
	// TrackCounts is the server's track_counts setting: without it there
	// are no statistics and autovacuum cannot run either.
	TrackCounts bool
	Tables      []TableVacuum
}

// engineTablesSQL selects the statistics of the engine's own tables in the
// current schema: the task and step tables and the queue tables (mq_*).
const engineTablesSQL = `SELECT s.relname::text AS relname, s.n_live_tup, s.n_dead_tup,
		CASE WHEN s.last_vacuum IS NULL THEN s.last_autovacuum
			WHEN s.last_autovacuum IS NULL THEN s.last_vacuum
			ELSE greatest(s.last_vacuum, s.last_autovacuum) END AS last_vacuum,
		NOT COALESCE('autovacuum_enabled=false' = ANY(c.reloptions), false) AS autovacuum_enabled
	FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
	WHERE s.schemaname = current_schema()
		AND (s.relname IN ('tasks', 'workflow_steps', 'workflow_step_edges', 'task_transitions',
			'workflow_step_transitions', 'workflow_step_result_audit', 'tasks_dlq')
			OR s.relname LIKE 'mq\_%')
	ORDER BY s.n_dead_tup DESC, s.relname`

// VacuumStatus reads the server's autovacuum settings and the dead-row
// statistics of the engine's tables (two cheap catalog reads; statistics
// lag the writes by up to about a second).
func (s *Store) VacuumStatus(ctx context.Context) (VacuumStatus, error) {
	var st VacuumStatus
	type settings struct {
		Autovacuum  bool `db:"autovacuum"`
		TrackCounts bool `db:"track_counts"`
	}
	rows, err := s.pool.Query(ctx, `SELECT current_setting('autovacuum')::bool AS autovacuum,
		current_setting('track_counts')::bool AS track_counts`)
	if err != nil {
		return st, fmt.Errorf("reading the autovacuum settings: %w", err)
	}
	set, err := pgx.CollectOneRow(rows, pgx.RowToStructByName[settings])
	if err != nil {
		return st, fmt.Errorf("reading the autovacuum settings: %w", err)
	}
	st.Autovacuum, st.TrackCounts = set.Autovacuum, set.TrackCounts
	rows, err = s.pool.Query(ctx, engineTablesSQL)
	if err != nil {
		return st, fmt.Errorf("reading table statistics: %w", err)
	}
	st.Tables, err = pgx.CollectRows(rows, pgx.RowToStructByName[TableVacuum])
	if err != nil {
		return st, fmt.Errorf("reading table statistics: %w", err)
	}
	return st, nil
}
