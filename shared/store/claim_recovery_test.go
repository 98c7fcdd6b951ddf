package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/store"
)

// claimerOf finds the in-flight claims of lock (zero value when none).
func claimerOf(scan store.ClaimerLocks, lock int64) store.ClaimerLock {
	for _, c := range scan.Claimers {
		if c.Lock == lock {
			return c
		}
	}
	return store.ClaimerLock{}
}

// TestDeadClaimerIsExpired: steps claimed under a liveness lock stay with
// their claimer while the lock is held; once the session holding it is gone,
// ExpireDeadClaims ends those claims at once (claims made after the given
// time excepted), replaces their hidden messages with visible ones, and the
// next claim reclaims the steps with the attempt counted.
func TestDeadClaimerIsExpired(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "a", retryable: true}, {name: "b", retryable: true}}
	e.register("ns", "dead", specs)
	e.createTask(specs, `{}`)
	q := messaging.WorkerQueue("ns")

	key, err := store.NewLivenessKey()
	require.NoError(t, err)
	sess, err := e.store.HoldLiveness(e.ctx, key)
	require.NoError(t, err)
	_, err = e.store.HoldLiveness(e.ctx, key)
	require.ErrorIs(t, err, store.ErrConflict, "one session per key")

	out, err := e.store.ClaimNext(e.ctx, store.Claimer{ID: "victim", Lock: key}, q, 10, 30*time.Second)
	require.NoError(t, err)
	require.Len(t, out.Claimed, 2)

	scan, err := e.store.ClaimsInFlight(e.ctx)
	require.NoError(t, err)
	require.Equal(t, store.ClaimerLock{Lock: key, Steps: 2, Held: true}, claimerOf(scan, key))
	require.Equal(t, 2, scan.InProgress())
	require.False(t, scan.PostgresStarted.IsZero())
	released, err := e.store.ExpireDeadClaims(e.ctx, key, scan.Now.Add(time.Hour))
	require.NoError(t, err)
	require.Empty(t, released, "a held lock keeps its claims")

	require.NoError(t, sess.Close(e.ctx))
	require.Eventually(t, func() bool {
		scan, err = e.store.ClaimsInFlight(e.ctx)
		return err == nil && !claimerOf(scan, key).Held
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, 2, claimerOf(scan, key).Steps)

	released, err = e.store.ExpireDeadClaims(e.ctx, key, out.Claimed[0].Step.LastAttemptedAt.Add(-time.Second))
	require.NoError(t, err)
	require.Empty(t, released, "claims newer than the first sight of the free lock are kept")

	released, err = e.store.ExpireDeadClaims(e.ctx, key, scan.Now)
	require.NoError(t, err)
	require.ElementsMatch(t, []uuid.UUID{e.ids["a"], e.ids["b"]}, released)

	again, err := e.store.ClaimNext(e.ctx, store.Claimer{ID: "rescuer"}, q, 10, 30*time.Second)
	require.NoError(t, err)
	require.Len(t, again.Claimed, 2, "the messages are visible at once")
	for _, cs := range again.Claimed {
		require.True(t, cs.Reclaimed)
		require.Equal(t, 2, cs.Step.Attempts, "the lost run counts")
		require.Equal(t, "rescuer", cs.Step.ClaimedBy)
	}
	var msgs int
	require.NoError(t, e.store.Pool().QueryRow(e.ctx, `SELECT count(*) FROM mq_worker_ns_queue`).Scan(&msgs))
	require.Equal(t, 2, msgs, "the old messages were replaced, not duplicated")

	scan, err = e.store.ClaimsInFlight(e.ctx)
	require.NoError(t, err)
	require.Zero(t, claimerOf(scan, key).Steps)
	require.Equal(t, 2, claimerOf(scan, 0).Steps, "claims made without a lock are counted under 0")
}

// TestReleaseOrphanedClaims: after a claim whose outcome the worker never
// learned, the steps claimed under its identity that it does not run go
// back to enqueued without spending an attempt, and their messages are
// visible at once; the steps it runs, and other claimers' steps, are left
// alone.
func TestReleaseOrphanedClaims(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "a", retryable: true}, {name: "b", retryable: true}, {name: "c", retryable: true}}
	e.register("ns", "orphans", specs)
	e.createTask(specs, `{}`)
	q := messaging.WorkerQueue("ns")
	me := store.Claimer{ID: "w", Lock: 42}

	out, err := e.store.ClaimNext(e.ctx, me, q, 2, 30*time.Second)
	require.NoError(t, err)
	require.Len(t, out.Claimed, 2)
	other, err := e.store.ClaimNext(e.ctx, store.Claimer{ID: "w", Lock: 43}, q, 1, 30*time.Second)
	require.NoError(t, err)
	require.Len(t, other.Claimed, 1, "same worker id, another process")
	running := out.Claimed[0].Step.UUID
	orphan := out.Claimed[1].Step.UUID

	n, err := e.store.ReleaseOrphanedClaims(e.ctx, me, q, []uuid.UUID{running})
	require.NoError(t, err)
	require.Equal(t, 1, n)

	st, err := e.store.GetStep(e.ctx, out.Claimed[1].Task.UUID, orphan)
	require.NoError(t, err)
	require.Equal(t, "enqueued", string(st.Step.State))
	require.Zero(t, st.Step.Attempts, "the orphaned attempt never ran: it does not count")
	hist, err := e.store.StepTransitions(e.ctx, out.Claimed[1].Task.UUID, orphan)
	require.NoError(t, err)
	var reasons []string
	for _, h := range hist {
		reasons = append(reasons, string(h.Metadata))
	}
	require.Contains(t, fmt.Sprint(reasons), `"reason": "claim_outcome_unknown"`)

	again, err := e.store.ClaimNext(e.ctx, store.Claimer{ID: "w2"}, q, 10, 30*time.Second)
	require.NoError(t, err)
	require.Len(t, again.Claimed, 1, "only the orphan is claimable")
	require.Equal(t, orphan, again.Claimed[0].Step.UUID)
	require.Equal(t, 1, again.Claimed[0].Step.Attempts)

	n, err = e.store.ReleaseOrphanedClaims(e.ctx, me, q, nil)
	require.NoError(t, err)
	require.Equal(t, 1, n, "with nothing running, the remaining claim of this process is released")
}

func TestOutcomeUnknown(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{fmt.Errorf("claiming steps: %w", &pgconn.PgError{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: "40P01"}), false},
		{fmt.Errorf("claiming steps: %w", &pgconn.PgError{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "57P01"}), true},
		{fmt.Errorf("claiming steps: %w", io.ErrUnexpectedEOF), true},
		{context.DeadlineExceeded, true},
		{errors.New("decoding a row"), true},
	} {
		require.Equal(t, c.want, store.OutcomeUnknown(c.err), "%v", c.err)
	}
}

// TestClaimOfManyTasksAnnouncesThemAll: a claim of steps from more tasks
// than fit in one NOTIFY payload (8000 bytes, about 215 task ids) succeeds;
// it used to fail the whole claim ("payload string too long"), so a worker
// with a batch size above that could not claim from a deep queue.
func TestClaimOfManyTasksAnnouncesThemAll(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "only", retryable: true}}
	e.register("many", "many", specs)
	named, err := e.store.NamedStepIDs(e.ctx, []string{"only"})
	require.NoError(t, err)
	errs := make(chan error, 250)
	var wg sync.WaitGroup
	for range 5 { // concurrently: commits share their flushes
		wg.Go(func() {
			for range 50 {
				_, err := e.store.CreateTask(e.ctx, store.NewTask{UUID: uuid.Must(uuid.NewV7()), NamedTaskUUID: e.nt.UUID,
					Namespace: "many", Context: json.RawMessage(`{}`), IdentityHash: uuid.NewString(),
					Steps: []store.NewStep{{UUID: uuid.Must(uuid.NewV7()), NamedStepUUID: named["only"], Name: "only",
						HandlerCallable: "h", Retryable: true, MaxAttempts: 3, Backoff: "none"}}})
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	out, err := e.store.ClaimNext(e.ctx, store.Claimer{ID: "w"}, messaging.WorkerQueue("many"), 250, 30*time.Second)
	require.NoError(t, err)
	require.Len(t, out.Claimed, 250)
}

// TestClaimsInFlightSeesQueuesCreatedLater: a namespace whose worker queue
// is created after a first look (a worker creating its queues one by one
// while the leader looks) has its claims seen by the next look, and a dead
// claimer's steps there are expired, not left to their claim deadline.
func TestClaimsInFlightSeesQueuesCreatedLater(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "a", retryable: true}}
	e.register("early", "first", specs)
	scan, err := e.store.ClaimsInFlight(e.ctx)
	require.NoError(t, err)
	require.Zero(t, scan.InProgress())

	e.register("late", "second", specs)
	e.createTask(specs, `{}`)
	key, err := store.NewLivenessKey()
	require.NoError(t, err)
	out, err := e.store.ClaimNext(e.ctx, store.Claimer{ID: "victim", Lock: key}, messaging.WorkerQueue("late"), 10, 30*time.Second)
	require.NoError(t, err)
	require.Len(t, out.Claimed, 1)

	scan, err = e.store.ClaimsInFlight(e.ctx)
	require.NoError(t, err)
	require.Equal(t, store.ClaimerLock{Lock: key, Steps: 1}, claimerOf(scan, key), "the late queue's claim is seen")
	released, err := e.store.ExpireDeadClaims(e.ctx, key, scan.Now)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{e.ids["a"]}, released)
}
