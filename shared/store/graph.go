package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/dag"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
)

// taskGraph is one task's graph as the rules see it (dag.Graph: steps'
// states, names, edges, batch slots) plus the steps' handler callables,
// which route the messages that enqueue them. Readiness is computed from
// it in Go (package dag) instead of in SQL subqueries: a task's graph is
// small, it is read with two index-backed statements whatever the table
// sizes and statistics, and the same rules serve orchestration and the API.
type taskGraph struct {
	*dag.Graph
	callables map[uuid.UUID]string
}

// newTaskGraph is an empty graph, filled by queueGraphs or by a test.
func newTaskGraph() *taskGraph {
	return &taskGraph{Graph: dag.New(), callables: map[uuid.UUID]string{}}
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
			// By position: this read runs for every task a result batch
			// touches (the hot path), and ForEachRow reuses one set of
			// destinations instead of building a struct per row.
			_, err := pgx.ForEachRow(rows, []any{&task, &step, &st, &name, &callable, &group, &limit, &isolate}, func() error {
				if g := out[task]; g != nil {
					g.AddStep(step, name, st)
					g.callables[step] = callable
					if group != nil && limit != nil {
						g.SetBatch(step, dag.BatchSlot{Template: *group, Limit: *limit, Isolate: isolate})
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
					g.AddEdge(from, to)
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
