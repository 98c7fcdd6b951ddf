package dag

import (
	"iter"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/state"
)

// Graph is the shape of one task: its steps' states and names, its edges,
// and the batch each batch worker belongs to. Build it with New, AddStep,
// AddEdge and SetBatch.
type Graph struct {
	states  map[uuid.UUID]state.StepState
	names   map[uuid.UUID]string
	parents map[uuid.UUID][]uuid.UUID
	batches map[uuid.UUID]BatchSlot
}

// BatchSlot is a batch worker's group: the worker template it was made
// from, how many of the group's workers may be in flight at once (its
// parallelism; 0 is no limit), and whether its batch isolates failures
// (failure_strategy isolate: a failed worker does not stop its siblings).
type BatchSlot struct {
	Template string
	Limit    int
	Isolate  bool
}

// New is an empty graph.
func New() *Graph {
	return &Graph{states: map[uuid.UUID]state.StepState{}, names: map[uuid.UUID]string{},
		parents: map[uuid.UUID][]uuid.UUID{}, batches: map[uuid.UUID]BatchSlot{}}
}

// AddStep adds a step, or sets the name and state of one already added.
func (g *Graph) AddStep(id uuid.UUID, name string, st state.StepState) {
	g.states[id] = st
	g.names[id] = name
}

// AddEdge records that step to depends on step from.
func (g *Graph) AddEdge(from, to uuid.UUID) {
	g.parents[to] = append(g.parents[to], from)
}

// SetBatch makes step a worker of the batch slot b.
func (g *Graph) SetBatch(step uuid.UUID, b BatchSlot) { g.batches[step] = b }

// State is the state of step (empty when the graph does not hold it).
func (g *Graph) State(step uuid.UUID) state.StepState { return g.states[step] }

// InFlight reports whether a step in state st is out of orchestration's
// hands for now: queued for a worker, running, reported and waiting for
// orchestration, or waiting for its retry time. A batch worker in flight
// holds one of its batch's parallelism slots, and a task with a step in
// flight is being moved by something.
func InFlight(st state.StepState) bool {
	switch st {
	case state.StepEnqueued, state.StepInProgress, state.StepEnqueuedForOrchestration,
		state.StepEnqueuedAsErrorForOrchestration, state.StepWaitingForRetry:
		return true
	}
	return false
}

// Satisfied counts the parents of step and those that let it run
// (complete or resolved by hand).
func (g *Graph) Satisfied(step uuid.UUID) (total, done int) {
	for _, p := range g.parents[step] {
		total++
		if g.states[p].SatisfiesDependents() {
			done++
		}
	}
	return total, done
}

// ParentNames returns the names of a step's parents, sorted.
func (g *Graph) ParentNames(step uuid.UUID) []string {
	out := make([]string, 0, len(g.parents[step]))
	for _, p := range g.parents[step] {
		out = append(out, g.names[p])
	}
	slices.Sort(out)
	return out
}

// Ready lists the pending steps whose parents are all satisfied. Batch
// workers are held back while their batch's parallelism is used up: at
// most Limit workers of one template are in flight at once, the
// lowest-named first. The order of the result is unspecified.
func (g *Graph) Ready() []uuid.UUID {
	var out []uuid.UUID
	var held map[string][]uuid.UUID
	for id, st := range g.states {
		if st != state.StepPending {
			continue
		}
		if total, done := g.Satisfied(id); total != done {
			continue
		}
		if b, ok := g.batches[id]; ok && b.Limit > 0 {
			if held == nil {
				held = map[string][]uuid.UUID{}
			}
			held[b.Template] = append(held[b.Template], id)
			continue
		}
		out = append(out, id)
	}
	if len(held) == 0 {
		return out
	}
	inUse := map[string]int{}
	for id, b := range g.batches {
		if InFlight(g.states[id]) {
			inUse[b.Template]++
		}
	}
	for tpl, ids := range held {
		free := g.batches[ids[0]].Limit - inUse[tpl]
		if free <= 0 {
			continue
		}
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(g.names[a], g.names[b]) })
		out = append(out, ids[:min(free, len(ids))]...)
	}
	return out
}

// IsolatedFailures reports whether the task has failed steps and every one
// is a batch worker whose batch isolates failures: its siblings may still
// run.
func (g *Graph) IsolatedFailures() bool {
	failed := false
	for id, st := range g.states {
		if st != state.StepError {
			continue
		}
		if b, ok := g.batches[id]; !ok || !b.Isolate {
			return false
		}
		failed = true
	}
	return failed
}

// ReadyIsolated is Ready limited to the workers of batches that isolate
// failures.
func (g *Graph) ReadyIsolated() []uuid.UUID {
	var out []uuid.UUID
	for _, id := range g.Ready() {
		if g.batches[id].Isolate {
			out = append(out, id)
		}
	}
	return out
}

// Counts counts the steps by state; Ready counts the pending steps whose
// parents are satisfied (batch parallelism aside).
func (g *Graph) Counts() StepCounts {
	var c StepCounts
	for id, st := range g.states {
		ready := false
		if st == state.StepPending {
			total, done := g.Satisfied(id)
			ready = total == done
		}
		c.Add(st, ready)
	}
	return c
}

// Clone is an independent copy of g (its batch slots and parents shared
// by value).
func (g *Graph) Clone() *Graph {
	c := &Graph{states: maps.Clone(g.states), names: maps.Clone(g.names),
		parents: make(map[uuid.UUID][]uuid.UUID, len(g.parents)), batches: maps.Clone(g.batches)}
	for id, ps := range g.parents {
		c.parents[id] = slices.Clone(ps)
	}
	return c
}

// SetState sets the state of a step the graph holds (a step it does not
// hold is ignored).
func (g *Graph) SetState(step uuid.UUID, st state.StepState) {
	if _, ok := g.states[step]; ok {
		g.states[step] = st
	}
}

// States are the graph's steps and their states.
func (g *Graph) States() iter.Seq2[uuid.UUID, state.StepState] { return maps.All(g.states) }

// Len is how many steps the graph holds.
func (g *Graph) Len() int { return len(g.states) }

// HasBatches reports whether any step is a batch worker.
func (g *Graph) HasBatches() bool { return len(g.batches) > 0 }
