package store

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/dag"
	"github.com/tasker-go/tasker/shared/state"
)

// benchGraphs builds n locked tasks with a linear graph of four steps
// (two complete, one reported, one pending) whose last step has
// batchWorkers batch workers (parallelism 10) as children.
func benchGraphs(n, batchWorkers int) (map[uuid.UUID]*lockedTask, map[uuid.UUID]*taskGraph) {
	tasks := map[uuid.UUID]*lockedTask{}
	graphs := map[uuid.UUID]*taskGraph{}
	for range n {
		id := uuid.New()
		tasks[id] = &lockedTask{UUID: id, State: state.TaskStepsInProcess}
		g := newTaskGraph()
		var prev uuid.UUID
		for i, st := range []state.StepState{state.StepComplete, state.StepComplete,
			state.StepEnqueuedForOrchestration, state.StepPending} {
			s := uuid.New()
			g.AddStep(s, fmt.Sprintf("s%d", i), st)
			g.callables[s] = "h"
			if i > 0 {
				g.AddEdge(prev, s)
			}
			prev = s
		}
		for i := range batchWorkers {
			s := uuid.New()
			g.AddStep(s, fmt.Sprintf("w_%03d", i), state.StepPending)
			g.callables[s] = "h"
			g.AddEdge(prev, s)
			g.SetBatch(s, dag.BatchSlot{Template: "w", Limit: 10})
		}
		graphs[id] = g
	}
	return tasks, graphs
}

// BenchmarkPlan measures the Go side of evaluation (the graph rules and
// the statements' arguments) for a batch of 10 tasks and for one task with
// 100 batch workers; the graphs are built outside the timer.
func BenchmarkPlan(b *testing.B) {
	s := &Store{log: slog.New(slog.DiscardHandler)}
	for _, c := range []struct{ tasks, workers int }{{10, 0}, {1, 100}} {
		b.Run(fmt.Sprintf("tasks=%d/batch_workers=%d", c.tasks, c.workers), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				tasks, graphs := benchGraphs(c.tasks, c.workers)
				b.StartTimer()
				_ = s.plan(tasks, graphs, false)
			}
		})
	}
}
