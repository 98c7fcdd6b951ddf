package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
)

// taskGraph is the shape of one task: its steps' states and its edges.
// Readiness is computed from it in Go (the rules in readiness.go) instead
// of in SQL subqueries: a task's graph is small, it is read with two
// index-backed statements whatever the table sizes and statistics, and the
// same code serves orchestration and the API.
type taskGraph struct {
	steps   map[uuid.UUID]state.StepState
	names   map[uuid.UUID]string
	parents map[uuid.UUID][]uuid.UUID
	// batches holds, for batch worker instances, the worker template they
	// were made from and how many of its instances may run at once (the
	// batch's parallelism).
	batches map[uuid.UUID]batchSlot
	// callables are the steps' handler callables: the route of the
	// messages that enqueue them.
	callables map[uuid.UUID]string
}

// batchSlot is a batch worker's group, its group's parallelism, and
// whether its batch isolates failures (failure_strategy isolate).
type batchSlot struct {
	template string
	limit    int
	isolate  bool
}

// isolatedFailures reports whether the task has failed steps and every one
// is a batch worker whose batch isolates failures: its siblings may still
// run.
func (g *taskGraph) isolatedFailures() bool {
	failed := false
	for id, st := range g.steps {
		if st != state.StepError {
			continue
		}
		if b, ok := g.batches[id]; !ok || !b.isolate {
			return false
		}
		failed = true
	}
	return failed
}

// readyIsolated is ready limited to the workers of batches that isolate
// failures.
func (g *taskGraph) readyIsolated() []uuid.UUID {
	var out []uuid.UUID
	for _, id := range g.ready() {
		if g.batches[id].isolate {
			out = append(out, id)
		}
	}
	return out
}

// busy reports whether a batch worker in state st holds one of its
// batch's parallelism slots: queued, running, reported or waiting to retry.
func busy(st state.StepState) bool {
	switch st {
	case state.StepEnqueued, state.StepInProgress, state.StepEnqueuedForOrchestration,
		state.StepEnqueuedAsErrorForOrchestration, state.StepWaitingForRetry:
		return true
	}
	return false
}

// newTaskGraph is an empty graph, filled by queueGraphs or by a test.
func newTaskGraph() *taskGraph {
	return &taskGraph{steps: map[uuid.UUID]state.StepState{}, names: map[uuid.UUID]string{},
		parents: map[uuid.UUID][]uuid.UUID{}, callables: map[uuid.UUID]string{}, batches: map[uuid.UUID]batchSlot{}}
}

// stepMessage is the message that enqueues step: it carries the step's
// callable, which routes it to the workers that can run it. A step whose
// callable the graph does not know is an error: its message would reach no
// worker.
func (g *taskGraph) stepMessage(task, step, correlation uuid.UUID) (json.RawMessage, error) {
	var callable string
	if g != nil {
		callable = g.callables[step]
	}
	if callable == "" {
		return nil, fmt.Errorf("enqueuing step %s of task %s: its handler callable is not known", step, task)
	}
	return json.Marshal(messaging.StepMessage{TaskUUID: task, StepUUID: step, CorrelationID: correlation, Callable: callable})
}

// satisfied reports whether every parent of step lets it run.
func (g *taskGraph) satisfied(step uuid.UUID) (total, done int) {
	for _, p := range g.parents[step] {
		total++
		if g.steps[p].SatisfiesDependents() {
			done++
		}
	}
	return total, done
}

// ready lists the pending steps whose parents are all satisfied. Batch
// workers are held back while their batch's parallelism is used up: at
// most limit instances of one worker template are busy at once, the
// lowest-named first.
func (g *taskGraph) ready() []uuid.UUID {
	var out []uuid.UUID
	var held map[string][]uuid.UUID
	for id, st := range g.steps {
		if st != state.StepPending {
			continue
		}
		if total, done := g.satisfied(id); total != done {
			continue
		}
		if b, ok := g.batches[id]; ok && b.limit > 0 {
			if held == nil {
				held = map[string][]uuid.UUID{}
			}
			held[b.template] = append(held[b.template], id)
			continue
		}
		out = append(out, id)
	}
	if len(held) == 0 {
		return out
	}
	inUse := map[string]int{}
	for id, b := range g.batches {
		if busy(g.steps[id]) {
			inUse[b.template]++
		}
	}
	for tpl, ids := range held {
		free := g.batches[ids[0]].limit - inUse[tpl]
		if free <= 0 {
			continue
		}
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(g.names[a], g.names[b]) })
		out = append(out, ids[:min(free, len(ids))]...)
	}
	return out
}

// parentNames returns the names of a step's parents, sorted.
func (g *taskGraph) parentNames(step uuid.UUID) []string {
	out := make([]string, 0, len(g.parents[step]))
	for _, p := range g.parents[step] {
		out = append(out, g.names[p])
	}
	slices.Sort(out)
	return out
}

// counts counts the steps by state; Ready counts pending steps whose
// parents are satisfied.
func (g *taskGraph) counts() StepCounts {
	var c StepCounts
	for id, st := range g.steps {
		ready := false
		if st == state.StepPending {
			total, done := g.satisfied(id)
			ready = total == done
		}
		c.Add(st, ready)
	}
	return c
}

// queueGraphs adds to b the reads of the tasks' graphs; the returned graphs
// are filled in when b runs.
func queueGraphs(b *pgx.Batch, taskIDs []uuid.UUID) map[uuid.UUID]*taskGraph {
	out := make(map[uuid.UUID]*taskGraph, len(taskIDs))
	for _, id := range taskIDs {
		out[id] = newTaskGraph()
	}
	// A batch worker instance is named after its template step plus a
	// batch id; its parallelism is in its inputs' batch_metadata (read only
	// for such steps).
	b.Queue(`SELECT task_uuid, workflow_step_uuid, state, name, handler_callable,
			CASE WHEN template_step_name <> name AND jsonb_typeof(inputs #> '{batch_metadata,parallelism}') = 'number'
				THEN template_step_name END,
			CASE WHEN template_step_name <> name AND jsonb_typeof(inputs #> '{batch_metadata,parallelism}') = 'number'
				THEN LEAST(GREATEST((inputs #>> '{batch_metadata,parallelism}')::numeric, 0), 1000000)::int END,
			template_step_name <> name AND inputs #>> '{batch_metadata,failure_strategy}' IS NOT DISTINCT FROM 'isolate'
		FROM workflow_steps WHERE task_uuid = ANY($1)`, taskIDs).
		Query(func(rows pgx.Rows) error {
			var task, step uuid.UUID
			var st state.StepState
			var name, callable string
			var group *string
			var limit *int
			var isolate bool
			_, err := pgx.ForEachRow(rows, []any{&task, &step, &st, &name, &callable, &group, &limit, &isolate}, func() error {
				if g := out[task]; g != nil {
					g.steps[step] = st
					g.names[step] = name
					g.callables[step] = callable
					if group != nil && limit != nil {
						g.batches[step] = batchSlot{template: *group, limit: *limit, isolate: isolate}
					}
				}
				return nil
			})
			return err
		})
	b.Queue(`SELECT task_uuid, from_step_uuid, to_step_uuid FROM workflow_step_edges WHERE task_uuid = ANY($1)`, taskIDs).
		Query(func(rows pgx.Rows) error {
			var task, from, to uuid.UUID
			_, err := pgx.ForEachRow(rows, []any{&task, &from, &to}, func() error {
				if g := out[task]; g != nil {
					g.parents[to] = append(g.parents[to], from)
				}
				return nil
			})
			return err
		})
	return out
}

// loadGraphs reads the graphs of tasks in one round trip.
func loadGraphs(ctx context.Context, q batcher, taskIDs []uuid.UUID) (map[uuid.UUID]*taskGraph, error) {
	b := &pgx.Batch{}
	out := queueGraphs(b, taskIDs)
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("reading task graphs: %w", err)
	}
	return out, nil
}

// batcher is a pool or a transaction.
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}
