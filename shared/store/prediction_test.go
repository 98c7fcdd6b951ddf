package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// TestPredictionThatDoesNotHoldCompletesTheLongWay changes the task behind
// the worker's back between two completions (a later step resolved by
// hand): the predicted completion is rolled back whole and the same result
// completes on the graph as it is, writing its history once.
func TestPredictionThatDoesNotHoldCompletesTheLongWay(t *testing.T) {
	e := newEnv(t)
	e.register("lin", "linear", linear)
	ct := e.createTask(linear, `{}`)
	require.False(t, e.completeAndProcess(e.result("w1", e.claimAll("w1").Claimed[0], true, false)).Predicted)
	s2 := e.claimAll("w1").Claimed[0]
	_, err := e.db.Pool(t, 1).Exec(e.ctx, `UPDATE workflow_steps SET state = 'resolved_manually' WHERE task_uuid = $1 AND name = 's4'`,
		ct.Task.UUID)
	require.NoError(t, err)

	out := e.completeAndProcess(e.result("w1", s2, true, false))
	require.False(t, out.Predicted, "s4 is not pending as predicted")
	require.Equal(t, []uuid.UUID{s2.Step.UUID}, out.Processed)
	require.Equal(t, state.StepComplete, e.stepState(ct.Task.UUID, "s2").State)
	require.Equal(t, state.StepEnqueued, e.stepState(ct.Task.UUID, "s3").State)
	require.Equal(t, []string{"s1:pending>enqueued:enqueue", "s1:enqueued>in_progress:start",
		"s1:in_progress>enqueued_for_orchestration:enqueue_for_orchestration", "s1:enqueued_for_orchestration>complete:complete",
		"s2:pending>enqueued:enqueue", "s2:enqueued>in_progress:start",
		"s2:in_progress>enqueued_for_orchestration:enqueue_for_orchestration", "s2:enqueued_for_orchestration>complete:complete",
		"s3:pending>enqueued:enqueue"},
		e.stepHistory(ct.Task.UUID), "the rolled-back attempt left nothing")

	out = e.completeAndProcess(e.result("w1", e.claimAll("w1").Claimed[0], true, false))
	require.False(t, out.Predicted, "a step resolved by hand is not a state a prediction assumes")
	require.Equal(t, state.TaskComplete, e.task(ct.Task.UUID).State)
}

// TestPredictionOfABusyTask: another transaction holds the task's lock, so
// the completion cannot process the step: the prediction fails, and the
// result goes to orchestration as a result message, as without one.
func TestPredictionOfABusyTask(t *testing.T) {
	e := newEnv(t)
	e.register("lin", "linear", linear)
	ct := e.createTask(linear, `{}`)
	e.completeAndProcess(e.result("w1", e.claimAll("w1").Claimed[0], true, false))
	s2 := e.claimAll("w1").Claimed[0]

	tx, err := e.db.Pool(t, 1).Begin(e.ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(e.ctx) }()
	_, err = tx.Exec(e.ctx, `SELECT 1 FROM tasks WHERE task_uuid = $1 FOR UPDATE`, ct.Task.UUID)
	require.NoError(t, err)

	out := e.completeAndProcess(e.result("w1", s2, true, false))
	require.False(t, out.Predicted)
	require.Equal(t, []uuid.UUID{s2.Step.UUID}, out.Recorded)
	require.Empty(t, out.Processed)
	require.EqualValues(t, 1, e.resultDepth(), "the result waits for orchestration")
	require.Equal(t, state.StepEnqueuedForOrchestration, e.stepState(ct.Task.UUID, "s2").State)
	require.NoError(t, tx.Rollback(e.ctx))

	e.process()
	require.Equal(t, state.StepEnqueued, e.stepState(ct.Task.UUID, "s3").State)
	out = e.completeAndProcess(e.result("w1", e.claimAll("w1").Claimed[0], true, false))
	require.False(t, out.Predicted, "orchestration moved the task: the worker's graph is gone")
	require.Equal(t, []uuid.UUID{e.ids["s3"]}, out.Processed)
}

// TestPredictionIsNotUsedWithOtherStepsInFlight: with a branch of a
// diamond still running, the other branch's completion cannot know what
// it will find, and takes two round trips.
func TestPredictionIsNotUsedWithOtherStepsInFlight(t *testing.T) {
	e := newEnv(t)
	e.register("dia", "diamond", diamond)
	ct := e.createTask(diamond, `{}`)
	e.completeAndProcess(e.result("w", e.claimAll("w").Claimed[0], true, false))
	branches := e.claimAll("w").Claimed
	require.Len(t, branches, 2)
	require.False(t, e.completeAndProcess(e.result("w", branches[0], true, false)).Predicted)
	out := e.completeAndProcess(e.result("w", branches[1], true, false))
	require.True(t, out.Predicted, "the first branch's completion left nothing else in flight")
	require.Equal(t, state.StepEnqueued, e.stepState(ct.Task.UUID, "end").State)
	out = e.completeAndProcess(e.result("w", e.claimAll("w").Claimed[0], true, false))
	require.True(t, out.Predicted)
	require.Equal(t, state.TaskComplete, e.task(ct.Task.UUID).State)
}

// BenchmarkCompletionPrediction runs linear tasks as a worker with
// continuations does (each completion claims the next step), predictions
// on for one task and off for the next, so both see the same load; it
// reports the median duration of the completions of steps 2-4 (the ones a
// prediction serves) each way:
//
//	go test -run '^$' -bench CompletionPrediction -benchtime 300x ./shared/store/
func BenchmarkCompletionPrediction(b *testing.B) {
	e := newEnv(b)
	e.register("lin", "linear", linear)
	queue := messaging.WorkerQueue("lin")
	next := &store.Continuation{Claimer: store.Claimer{ID: "w1"}, Queues: []string{queue}, Max: 1, Visibility: 30 * time.Second}
	var predicted, read []time.Duration
	b.ResetTimer()
	for i := range b.N {
		on := i%2 == 0
		store.SetPredictions(e.store, on)
		e.createTask(linear, `{}`)
		cs := e.claimAll("w1").Claimed[0]
		for k := range 4 {
			start := time.Now()
			out := e.completeAndProcessNext(next, e.result("w1", cs, true, false))
			d := time.Since(start)
			switch {
			case k == 0:
			case out.Predicted:
				predicted = append(predicted, d)
			default:
				read = append(read, d)
			}
			if len(out.Claimed) > 0 {
				cs = out.Claimed[0]
			}
		}
	}
	b.StopTimer()
	median := func(ds []time.Duration) float64 {
		if len(ds) == 0 {
			return 0
		}
		slices.Sort(ds)
		return float64(ds[len(ds)/2].Microseconds())
	}
	b.ReportMetric(median(predicted), "predicted-µs/completion")
	b.ReportMetric(median(read), "graph-read-µs/completion")
}
