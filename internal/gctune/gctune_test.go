package gctune

import (
	"runtime/debug"
	"testing"
)

// TestApply: without GOGC the target becomes DefaultPercent; with GOGC set
// the runtime's value (the operator's) stays.
func TestApply(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })

	t.Setenv("GOGC", "")
	if got := Apply(); got != DefaultPercent {
		t.Fatalf("Apply() = %d without GOGC, want %d", got, DefaultPercent)
	}
	if got := debug.SetGCPercent(DefaultPercent); got != DefaultPercent {
		t.Fatalf("the runtime's target is %d, want %d", got, DefaultPercent)
	}

	// As if the runtime had read GOGC=150 at start.
	debug.SetGCPercent(150)
	t.Setenv("GOGC", "150")
	if got := Apply(); got != 150 {
		t.Fatalf("Apply() = %d with GOGC=150, want 150 kept", got)
	}
	if got := debug.SetGCPercent(150); got != 150 {
		t.Fatalf("the runtime's target is %d, want 150", got)
	}
}
