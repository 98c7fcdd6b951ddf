package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

func callablesOf(us []store.UnservedSteps) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Callable)
	}
	return out
}

func TestRegisterWorkerRejectsBadInput(t *testing.T) {
	e := newEnv(t)
	for name, w := range map[string]store.WorkerRegistration{
		"no lock":         {WorkerID: "w", Namespaces: []string{"ns"}},
		"no id":           {Lock: 1, Namespaces: []string{"ns"}},
		"no namespace":    {Lock: 1, WorkerID: "w"},
		"empty callable":  {Lock: 1, WorkerID: "w", Namespaces: []string{"ns"}, Callables: []string{""}},
		"NUL in callable": {Lock: 1, WorkerID: "w", Namespaces: []string{"ns"}, Callables: []string{"a\x00b"}},
		"long id":         {Lock: 1, WorkerID: string(make([]byte, 129)), Namespaces: []string{"ns"}},
		"negative max":    {Lock: 1, WorkerID: "w", Namespaces: []string{"ns"}, MaxConcurrent: -1},
		"limit over max":  {Lock: 1, WorkerID: "w", Namespaces: []string{"ns"}, MaxConcurrent: 4, ConcurrencyLimit: 5},
	} {
		err := e.store.RegisterWorker(e.ctx, w)
		require.ErrorIs(t, err, store.ErrInvalidInput, name)
	}
	live, err := e.store.LiveWorkers(e.ctx)
	require.NoError(t, err)
	require.Empty(t, live, "nothing was written")
}

// TestWorkerCapacity: a worker's handler ceiling and limit are recorded
// when it registers, the limit follows UpdateWorkerConcurrency (never above
// the ceiling), and a row written without them reads as 0 (unknown).
func TestWorkerCapacity(t *testing.T) {
	e := newEnv(t)
	key, err := store.NewLivenessKey()
	require.NoError(t, err)
	sess, err := e.store.HoldLiveness(e.ctx, key)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sess.Close(e.ctx)) })
	require.NoError(t, e.store.RegisterWorker(e.ctx, store.WorkerRegistration{Lock: key, WorkerID: "w",
		Namespaces: []string{"ns"}, MaxConcurrent: 8, ConcurrencyLimit: 2}))
	capacity := func() (int, int) {
		live, err := e.store.LiveWorkers(e.ctx)
		require.NoError(t, err)
		require.Len(t, live, 1)
		return live[0].MaxConcurrent, live[0].ConcurrencyLimit
	}
	maxC, limit := capacity()
	require.Equal(t, [2]int{8, 2}, [2]int{maxC, limit})

	require.NoError(t, e.store.UpdateWorkerConcurrency(e.ctx, key, 6))
	maxC, limit = capacity()
	require.Equal(t, [2]int{8, 6}, [2]int{maxC, limit})
	require.NoError(t, e.store.UpdateWorkerConcurrency(e.ctx, key, 9), "above the ceiling: not written")
	_, limit = capacity()
	require.Equal(t, 6, limit)
	require.ErrorIs(t, e.store.UpdateWorkerConcurrency(e.ctx, key, -1), store.ErrInvalidInput)
	require.ErrorIs(t, e.store.UpdateWorkerConcurrency(e.ctx, 0, 1), store.ErrInvalidInput)

	// A row as a worker older than the capacity columns wrote it.
	_, err = e.store.Pool().Exec(e.ctx, `UPDATE workers SET max_concurrent = DEFAULT, concurrency_limit = DEFAULT`)
	require.NoError(t, err)
	maxC, limit = capacity()
	require.Equal(t, [2]int{0, 0}, [2]int{maxC, limit}, "unknown")
}

// TestRoutedClaimTakesOnlyServedCallables: a claim with callables takes only
// the messages of steps with those callables; the others stay enqueued and
// are reported as unserved until a live worker registers for them.
func TestRoutedClaimTakesOnlyServedCallables(t *testing.T) {
	e := newEnv(t)
	e.register("route_ns", "route", []stepSpec{{name: "a"}, {name: "b"}})
	ct := e.createTask([]stepSpec{{name: "a"}, {name: "b"}}, `{}`)
	q := messaging.WorkerQueue("route_ns")

	none, err := e.store.ClaimNext(e.ctx, store.Claimer{ID: "w", Callables: []string{}}, q, 10, 30*time.Second)
	require.NoError(t, err)
	require.Empty(t, none.Claimed, "an empty callable list claims nothing")
	out, err := e.store.ClaimNext(e.ctx, store.Claimer{ID: "w", Callables: []string{"h.a", "h.zzz"}}, q, 10, 30*time.Second)
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, names(out.Claimed))
	require.Equal(t, 1, out.Messages, "b's message was not even looked at")
	require.Equal(t, state.StepEnqueued, e.stepState(ct.Task.UUID, "b").State)

	// No live worker is registered (claimer w is not): both callables are
	// unserved, a's message (claimed, hidden) included.
	unserved, err := e.store.UnservedSteps(e.ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"h.a", "h.b"}, callablesOf(unserved))
	require.Equal(t, store.UnservedSteps{Namespace: "route_ns", Callable: "h.b", Steps: 1, OldestAge: unserved[1].OldestAge}, unserved[1])
	require.Positive(t, unserved[1].OldestAge)
	e.complete("w", out.Claimed[0], true, true) // its message is gone

	// A registered worker whose process holds no liveness lock serves
	// nothing; once it holds it, h.b is served.
	key, err := store.NewLivenessKey()
	require.NoError(t, err)
	reg := store.WorkerRegistration{Lock: key, WorkerID: "w-b", Namespaces: []string{"route_ns"}, Callables: []string{"h.b", "h.b"}}
	require.NoError(t, e.store.RegisterWorker(e.ctx, reg))
	unserved, err = e.store.UnservedSteps(e.ctx)
	require.NoError(t, err)
	require.Len(t, unserved, 1)
	sess, err := e.store.HoldLiveness(e.ctx, key)
	require.NoError(t, err)
	defer func() { require.NoError(t, sess.Close(e.ctx)) }()
	unserved, err = e.store.UnservedSteps(e.ctx)
	require.NoError(t, err)
	require.Empty(t, unserved)
	live, err := e.store.LiveWorkers(e.ctx)
	require.NoError(t, err)
	require.Len(t, live, 1)
	require.Equal(t, []string{"h.b"}, live[0].Callables, "sorted and unique")

	// A worker of another namespace does not serve route_ns; an unrouted
	// worker (nil callables) of route_ns serves every callable.
	require.NoError(t, e.store.DeregisterWorker(e.ctx, key))
	require.NoError(t, e.store.RegisterWorker(e.ctx, store.WorkerRegistration{Lock: key, WorkerID: "w-other",
		Namespaces: []string{"other_ns"}, Callables: []string{"h.b"}}))
	unserved, err = e.store.UnservedSteps(e.ctx)
	require.NoError(t, err)
	require.Len(t, unserved, 1)
	require.NoError(t, e.store.RegisterWorker(e.ctx, store.WorkerRegistration{Lock: key, WorkerID: "w-any",
		Namespaces: []string{"route_ns"}}))
	unserved, err = e.store.UnservedSteps(e.ctx)
	require.NoError(t, err)
	require.Empty(t, unserved)
	live, err = e.store.LiveWorkers(e.ctx)
	require.NoError(t, err)
	require.Nil(t, live[0].Callables)

	out, err = e.store.ClaimNext(e.ctx, store.Claimer{ID: "w2", Callables: []string{"h.b"}}, q, 10, 30*time.Second)
	require.NoError(t, err)
	require.Equal(t, []string{"b"}, names(out.Claimed))
}
