package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// hotTables are the tables whose statistics the planner depends on most.
var hotTables = []string{"tasks", "workflow_steps", "workflow_step_edges", "workflow_step_transitions",
	"task_transitions", "workflow_step_result_audit"}

// AnalyzeStale runs ANALYZE on the hot tables (and the queue tables) that
// changed by more than max(minChanges, fraction × rows) since their last
// analyze, and were not analyzed in the last few seconds. It returns the
// tables it analyzed.
func (s *Store) AnalyzeStale(ctx context.Context, minChanges int, fraction float64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT relname FROM pg_stat_user_tables
		WHERE schemaname = current_schema()
		  AND (relname = ANY($1) OR relname LIKE 'mq\_%')
		  AND n_mod_since_analyze > GREATEST($2::float8, $3::float8 * n_live_tup)
		  AND COALESCE(GREATEST(last_analyze, last_autoanalyze), 'epoch') < now() - interval '5 seconds'
		ORDER BY n_mod_since_analyze DESC`, hotTables, minChanges, fraction)
	if err != nil {
		return nil, fmt.Errorf("reading table statistics: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("reading table statistics: %w", err)
	}
	for _, n := range names {
		if _, err := s.pool.Exec(ctx, "ANALYZE "+pgx.Identifier{n}.Sanitize()); err != nil {
			return nil, fmt.Errorf("analyzing %s: %w", n, err)
		}
	}
	return names, nil
}
