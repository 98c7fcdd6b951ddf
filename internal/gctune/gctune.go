// Package gctune sets the garbage collector's target for the Tasker
// binaries.
//
// Go's default (GOGC=100) collects whenever the heap doubles. Tasker's live
// heap is small (a few tens of megabytes) and its allocation rate high
// (every step is decoded, encoded and batched several times), so at the
// default the collector ran several times a second under load and took
// about a sixth of the process's CPU in the throughput benchmark. A target
// of 400 lets the heap grow to five times the live heap between
// collections: less CPU per step for some more memory (docs/benchmarks.md,
// "CPU per step", has the measurement).
package gctune

import (
	"os"
	"runtime/debug"
)

// DefaultPercent is the collector's target when the environment sets none.
const DefaultPercent = 400

// Apply sets the collector's target to DefaultPercent unless GOGC is set in
// the environment (an operator's choice, which the runtime has applied
// already). It returns the target in force.
func Apply() int {
	if v, ok := os.LookupEnv("GOGC"); ok && v != "" {
		old := debug.SetGCPercent(100)
		debug.SetGCPercent(old)
		return old
	}
	debug.SetGCPercent(DefaultPercent)
	return DefaultPercent
}
