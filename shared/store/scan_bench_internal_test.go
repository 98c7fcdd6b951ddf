package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/testdb"
)

// BenchmarkScanSteps compares reading rows of stepColumns by column name
// (scanStep, what the task and readiness reads use) with reading them by
// position (stepDest, what the claim and result statements use), for
// 1 and 40 rows. The rows are generated in the statement, so only the
// round trip and the scan are measured.
func BenchmarkScanSteps(b *testing.B) {
	ctx := context.Background()
	db := testdb.New(b)
	pool := db.Pool(b, 2)
	for _, n := range []int{1, 40} {
		q := `SELECT ` + stepColumns + ` FROM (SELECT gen_random_uuid() AS workflow_step_uuid, gen_random_uuid() AS task_uuid,
				gen_random_uuid() AS named_step_uuid, 'step_' || i AS name, 'step' AS template_step_name,
				'standard' AS step_type, 'pending' AS state, 'h' AS handler_callable, 'call' AS handler_method,
				true AS retryable, 3 AS max_attempts, 'exponential' AS backoff, 1000 AS backoff_base_ms,
				30000 AS max_backoff_ms, false AS backoff_jitter, 30 AS timeout_seconds, 0 AS attempts,
				false AS in_process, false AS processed, NULL::timestamptz AS processed_at,
				NULL::timestamptz AS last_attempted_at, NULL::int AS backoff_request_seconds,
				NULL::timestamptz AS next_retry_at, NULL::text AS claimed_by, NULL::timestamptz AS claim_deadline,
				'{"a":1}'::jsonb AS inputs, NULL::jsonb AS results, NULL::jsonb AS checkpoint, 0 AS priority,
				now() AS state_changed_at, now() AS created_at, now() AS updated_at
			FROM generate_series(1, $1) i) s`
		b.Run(fmt.Sprintf("rows=%d/by_name", n), func(b *testing.B) {
			for range b.N {
				rows, err := pool.Query(ctx, q, n)
				require.NoError(b, err)
				steps, err := pgx.CollectRows(rows, scanStep)
				require.NoError(b, err)
				require.Len(b, steps, n)
			}
		})
		b.Run(fmt.Sprintf("rows=%d/by_position", n), func(b *testing.B) {
			for range b.N {
				rows, err := pool.Query(ctx, q, n)
				require.NoError(b, err)
				steps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Step, error) {
					var st Step
					return st, r.Scan(stepDest(&st)...)
				})
				require.NoError(b, err)
				require.Len(b, steps, n)
			}
		})
	}
}
