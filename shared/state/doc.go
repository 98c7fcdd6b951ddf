// Package state defines the task and step state machines: the 12 task states,
// the 10 step states, the events that move between them and the rules for
// which moves are allowed.
//
// The vocabulary is tasker-core's, so API clients see the same words. The
// machines are pure Go with no I/O: the store persists a transition as a
// compare-and-swap on the entity's state column plus one history row, and it
// asks this package first whether the move is legal.
package state
