package pgqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/testdb"
)

func newRoutingQueue(t *testing.T) (*Queue, *pgxpool.Pool) {
	t.Helper()
	db := testdb.New(t)
	pool := db.Pool(t, 4)
	q, err := New(Config{Pool: pool, Schema: db.Schema})
	require.NoError(t, err)
	return q, pool
}

// A queue table made before messages had routes (no callable column, no
// index) is given both by Ensure, and its routed messages are then found.
func TestEnsureUpgradesOldTable(t *testing.T) {
	q, pool := newRoutingQueue(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `CREATE TABLE mq_old (
		msg_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, read_ct integer NOT NULL DEFAULT 0,
		enqueued_at timestamptz NOT NULL DEFAULT now(), vt timestamptz NOT NULL DEFAULT now(), message jsonb NOT NULL)`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO mq_old (message) VALUES ('{"n": 1, "callable": "a"}')`)
	require.NoError(t, err)
	require.NoError(t, q.Ensure(ctx, "old"))
	var index bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT to_regclass('mq_old_callable') IS NOT NULL`).Scan(&index))
	require.True(t, index, "the callable index exists")
	require.NoError(t, q.Send(ctx, "old", 0, json.RawMessage(`{"n": 2, "callable": "a"}`)))
	got, err := q.Claim(ctx, "old", messaging.ClaimOptions{N: 10, Visibility: time.Minute, Routes: []string{"a"}})
	require.NoError(t, err)
	// The message written before the column existed has no route (the
	// schema migration fills it in for the tables it finds).
	require.Len(t, got, 1)
	require.JSONEq(t, `{"n": 2, "callable": "a"}`, string(got[0].Payload))
}

// The routed claim walks the callable index in order, not the whole queue,
// and neither fetches a route's messages to sort them: with few routes, one
// walk per route; with many, the routes present are found first. Both with
// and without table statistics.
func TestRoutedClaimWalksTheCallableIndex(t *testing.T) {
	q, pool := newRoutingQueue(t)
	ctx := context.Background()
	var ps []json.RawMessage
	for i := range 3000 {
		ps = append(ps, json.RawMessage(fmt.Sprintf(`{"n": %d, "callable": "c%d"}`, i, i%3)))
	}
	require.NoError(t, q.Send(ctx, "plan", 0, ps...))
	s, err := q.stmts(ctx, "plan")
	require.NoError(t, err)
	many := []string{"c1", "absent"}
	for i := range manyRoutes {
		many = append(many, fmt.Sprintf("idle%d", i))
	}
	for _, analyzed := range []bool{false, true} {
		if analyzed {
			_, err := pool.Exec(ctx, `ANALYZE mq_plan`)
			require.NoError(t, err)
		}
		for _, tc := range []struct {
			sql    string
			routes []string
		}{{s.routedFew, []string{"c1", "absent"}}, {s.routedMany, many}} {
			var plan string
			require.NoError(t, pool.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+tc.sql, 10, int64(60e6), tc.routes).Scan(&plan))
			require.Contains(t, plan, `"Node Type": "Index Scan"`)
			require.Contains(t, plan, `"Index Name": "mq_plan_callable"`)
			require.Contains(t, plan, `"Index Cond": "((ROW(callable, msg_id) > ROW(r.route, '0'::bigint)) AND (callable <= r.route))"`)
			// No walk fetches a route's messages to sort them, none
			// filters the queue by route.
			require.NotContains(t, plan, `"Sort Key": ["m.callable"`, "analyzed: %v", analyzed)
			require.NotContains(t, plan, `"Recheck Cond": "((ROW(callable`, "analyzed: %v", analyzed)
			require.NotContains(t, plan, `"Filter": "((callable`, "analyzed: %v", analyzed)
			require.NotContains(t, plan, `"Seq Scan"`, "analyzed: %v", analyzed)
		}
	}
	// Nothing was claimed by EXPLAIN; the claims take c1's oldest.
	got, err := q.Claim(ctx, "plan", messaging.ClaimOptions{N: 3, Visibility: time.Minute, Routes: []string{"c1", "absent"}})
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.JSONEq(t, `{"n": 1, "callable": "c1"}`, string(got[0].Payload))
	got, err = q.Claim(ctx, "plan", messaging.ClaimOptions{N: 3, Visibility: time.Minute, Routes: many})
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.JSONEq(t, `{"n": 10, "callable": "c1"}`, string(got[0].Payload))
}
