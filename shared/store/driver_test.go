package store_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// plainQueue hides the PostgreSQL driver's tables: the store then does
// without the reads it composes over queue tables, as with a broker.
type plainQueue struct{ messaging.Driver }

func (plainQueue) Tables() messaging.Tables { return nil }

// TestClaimNextWithoutQueueTables: with a driver whose queues the store
// cannot read as tables, claims, completion and result processing go the
// one path they always go (through the driver's Work), with the same
// verdicts applied in the claim's unit of work.
func TestClaimNextWithoutQueueTables(t *testing.T) {
	e := newEnv(t)
	st, err := store.New(store.Config{Pool: e.store.Pool(), Queue: plainQueue{e.queue}, ProcessorID: "test", Schema: e.db.Schema})
	require.NoError(t, err)
	specs := []stepSpec{{name: "one", retryable: true}}
	e.register("plain", "plain", specs)
	ct := e.createTask(specs, `{}`)
	q := messaging.WorkerQueue("plain")
	out, err := st.ClaimNext(e.ctx, store.Claimer{ID: "w1"}, q, 10, 30*time.Second)
	require.NoError(t, err)
	require.Equal(t, []string{"one"}, names(out.Claimed))
	require.Equal(t, ct.Task.UUID, out.Claimed[0].Task.UUID)
	first := out.Claimed[0]
	require.NotNil(t, first.Step.LastAttemptedAt, "the claim time its result will be matched on")
	// A duplicate while w1 holds the claim is deferred to the claim's
	// deadline, and a malformed message is dropped, in the claim's unit.
	b, _ := json.Marshal(messaging.StepMessage{TaskUUID: ct.Task.UUID, StepUUID: out.Claimed[0].Step.UUID})
	require.NoError(t, e.queue.Send(e.ctx, q, 0, b))
	require.NoError(t, e.queue.Send(e.ctx, q, 0, []byte(`{"step_uuid":"nope"}`)))
	out, err = st.ClaimNext(e.ctx, store.Claimer{ID: "w2"}, q, 10, 30*time.Second)
	require.NoError(t, err)
	require.Empty(t, out.Claimed)
	require.Len(t, out.Defer, 1)
	require.Len(t, out.Drop, 1)
	require.Equal(t, 2, out.Messages)
	qs, err := e.queue.Stats(e.ctx, q)
	require.NoError(t, err)
	require.Equal(t, int64(2), qs.Depth, "the claimed step's message and the deferred duplicate; the malformed one is gone")
	require.Zero(t, qs.Visible, "the duplicate is hidden until the claim's deadline")
	next, ok, err := e.queue.NextVisible(e.ctx, q)
	require.NoError(t, err)
	require.True(t, ok)
	require.WithinDuration(t, first.Deadline, next, time.Second)

	e.store = st
	e.complete("w1", first, true, false)
	require.Equal(t, 1, e.process().Steps[state.StepComplete])
	require.Equal(t, state.TaskComplete, e.task(ct.Task.UUID).State)
	rs, err := e.queue.Stats(e.ctx, messaging.StepResultsQueue)
	require.NoError(t, err)
	require.Zero(t, rs.Depth, "the result message was acked in the processing transaction")
}

// finishRecorder is the PostgreSQL driver with its units of work watched:
// it records how each Work the store finished ended.
type finishRecorder struct {
	messaging.Driver
	mu       sync.Mutex
	finished []bool
}

func (r *finishRecorder) NewWork() messaging.Work {
	return &recordedWork{Work: r.Driver.NewWork(), r: r}
}

func (r *finishRecorder) take() []bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.finished
	r.finished = nil
	return out
}

type recordedWork struct {
	messaging.Work
	r *finishRecorder
}

func (w *recordedWork) Finish(ctx context.Context, committed bool) error {
	w.r.mu.Lock()
	w.r.finished = append(w.r.finished, committed)
	w.r.mu.Unlock()
	return w.Work.Finish(ctx, committed)
}

// TestUnitsOfWorkFinishTheirWork: the store finishes the driver's Work of
// every unit of work that acks, defers or claims through it, once the
// transaction is over, and says whether it committed: a broker driver acks
// its deliveries only then, and gives them back after a failure.
func TestUnitsOfWorkFinishTheirWork(t *testing.T) {
	e := newEnv(t)
	rec := &finishRecorder{Driver: e.queue}
	st, err := store.New(store.Config{Pool: e.store.Pool(), Queue: rec, ProcessorID: "test", Schema: e.db.Schema})
	require.NoError(t, err)
	e.store = st
	specs := []stepSpec{{name: "a", maxAttempts: 1}, {name: "b", deps: []string{"a"}, maxAttempts: 1}}
	e.register("finish", "finish", specs)
	e.createTask(specs, `{}`)
	require.Equal(t, []bool{true}, rec.take(), "task creation (its sends)")
	claimed := e.claimAll("w").Claimed
	require.Len(t, claimed, 1)
	require.Equal(t, []bool{true}, rec.take(), "the claim")
	require.Len(t, e.complete("w", claimed[0], true, false).Recorded, 1)
	require.Equal(t, []bool{true}, rec.take(), "the completion (its ack of the step message)")

	bad := func(store.Step, store.ReportedTask) store.Decision { return store.Decision{To: state.StepPending} }
	_, ids, err := st.ProcessNextResults(e.ctx, 10, time.Minute, bad, nil)
	require.ErrorIs(t, err, store.ErrInvalidState)
	require.Len(t, ids, 1)
	require.Equal(t, []bool{false}, rec.take(), "a failed processing unit finishes uncommitted")
	out, _, err := st.ProcessNextResults(e.ctx, 10, time.Minute, decide, nil)
	require.NoError(t, err)
	require.Equal(t, 1, out.Steps[state.StepComplete])
	require.Equal(t, []bool{true}, rec.take(), "the processing unit (its claim, acks and the child's send)")
}
