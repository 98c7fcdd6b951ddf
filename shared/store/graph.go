package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

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

// ready lists the pending steps whose parents are all satisfied.
func (g *taskGraph) ready() []uuid.UUID {
	var out []uuid.UUID
	for id, st := range g.steps {
		if st != state.StepPending {
			continue
		}
		if total, done := g.satisfied(id); total == done {
			out = append(out, id)
		}
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
		out[id] = &taskGraph{steps: map[uuid.UUID]state.StepState{}, names: map[uuid.UUID]string{},
			parents: map[uuid.UUID][]uuid.UUID{}}
	}
	b.Queue(`SELECT task_uuid, workflow_step_uuid, state, name FROM workflow_steps WHERE task_uuid = ANY($1)`, taskIDs).
		Query(func(rows pgx.Rows) error {
			var task, step uuid.UUID
			var st state.StepState
			var name string
			_, err := pgx.ForEachRow(rows, []any{&task, &step, &st, &name}, func() error {
				if g := out[task]; g != nil {
					g.steps[step] = st
					g.names[step] = name
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
