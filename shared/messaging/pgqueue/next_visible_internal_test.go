package pgqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
)

// NextVisible finds the earliest hidden message among a queue's oldest and
// newest messages with two bounded walks of the primary key, whatever the
// table holds: a claim that lapses (oldest) and a delayed send (newest) of
// a queue of several windows' worth of in-flight messages, and never a
// scan of the whole table.
func TestNextVisibleLooksAtBothEndsOnly(t *testing.T) {
	q, pool := newRoutingQueue(t)
	ctx := context.Background()
	var ps []json.RawMessage
	for i := range 3 * nextWindow {
		ps = append(ps, json.RawMessage(fmt.Sprintf(`{"n": %d}`, i)))
	}
	require.NoError(t, q.Send(ctx, "nv", 0, ps...))
	// Every message in flight for an hour, but the oldest for a minute.
	got, err := q.Claim(ctx, "nv", messaging.ClaimOptions{N: 3 * nextWindow, Visibility: time.Hour})
	require.NoError(t, err)
	require.Len(t, got, 3*nextWindow)
	require.NoError(t, q.Nack(ctx, "nv", time.Minute, messaging.Receipt{ID: got[0].ID}))
	at, ok, err := q.NextVisible(ctx, "nv")
	require.NoError(t, err)
	require.True(t, ok)
	require.WithinDuration(t, time.Now().Add(time.Minute), at, 10*time.Second, "the lapse among the oldest")

	// A send delayed by a second is the newest: found before the minute.
	require.NoError(t, q.Send(ctx, "nv", time.Second, json.RawMessage(`{"n": "late"}`)))
	at, ok, err = q.NextVisible(ctx, "nv")
	require.NoError(t, err)
	require.True(t, ok)
	require.WithinDuration(t, time.Now().Add(time.Second), at, 5*time.Second, "the delayed send among the newest")

	// The plan: two index walks, no scan of the table, analyzed or not.
	s, err := q.stmts(ctx, "nv")
	require.NoError(t, err)
	for _, analyzed := range []bool{false, true} {
		if analyzed {
			_, err := pool.Exec(ctx, `ANALYZE mq_nv`)
			require.NoError(t, err)
		}
		var plan string
		require.NoError(t, pool.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+s.next).Scan(&plan))
		require.Contains(t, plan, `"Index Name": "mq_nv_pkey"`, "analyzed: %v", analyzed)
		require.NotContains(t, plan, `"Seq Scan"`, "analyzed: %v", analyzed)
	}
}
