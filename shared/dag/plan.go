package dag

import (
	"bytes"
	"slices"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/state"
)

// Plan is what evaluating one task decides.
type Plan struct {
	// Enqueue lists the steps to enqueue now, in uuid order.
	Enqueue []uuid.UUID
	// Target is the state the task goes to; its current state when it
	// stays.
	Target state.TaskState
	// Path is the shortest chain of legal transitions from the task's
	// current state to Target, to record in its history. It is empty when
	// the task stays, and nil when the machine has no path to Target (the
	// task must then stay where it is).
	Path []state.TaskTransition
}

// Moves reports whether the plan moves the task along a legal path.
func (p Plan) Moves() bool { return len(p.Path) > 0 }

// Evaluable reports whether evaluation may move a task in state current:
// any task that has not finished, and a task in error when reopen says an
// operator re-drives it.
func Evaluable(current state.TaskState, reopen bool) bool {
	return !current.Terminal() || (reopen && current == state.TaskError)
}

// PlanTask decides, from a task's current state and its graph, which steps
// to enqueue and where the task goes. A task blocked by a permanently
// failed step starts nothing new, except the remaining workers of a batch
// that isolates its failed workers. The steps it enqueues count as
// enqueued when the target is chosen.
func PlanTask(current state.TaskState, g *Graph, reopen bool) Plan {
	if !Evaluable(current, reopen) {
		return Plan{Target: current}
	}
	c := g.Counts()
	var ready []uuid.UUID
	switch cls := c.Classify(); {
	case cls == StatusHasReadySteps:
		ready = g.Ready()
	case cls == StatusBlockedByFailures && g.IsolatedFailures():
		ready = g.ReadyIsolated()
	}
	if n := len(ready); n > 0 {
		slices.SortFunc(ready, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
		c.Ready -= min(n, c.Ready)
		c.Pending -= n
		c.Enqueued += n
	}
	p := Plan{Enqueue: ready, Target: TargetState(current, c, reopen)}
	if p.Target != current {
		p.Path = state.TaskPath(current, p.Target)
	}
	return p
}
