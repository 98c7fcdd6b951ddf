package wasm_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/worker/wasm"
	"github.com/tasker-go/tasker/worker/workertest"
)

// TestManyStepsInBoundedMemory runs 10,000 steps on the C guest with
// instances coming and going (four steps at a time, two idle instances
// kept) and requires the memory the process holds to stay flat after a
// warm-up: no instance, buffer or compiled module is leaked. It does not
// run in parallel with other tests, whose allocations it would count.
func TestManyStepsInBoundedMemory(t *testing.T) {
	if !haveC(t) {
		t.Skip("the C guest is not available")
	}
	x := newExecutor(t, wasm.Config{MaxIdleInstances: 2}, "arith-c")
	sc := workertest.NewStep("linear_step_1").WithCallable("wasm:arith-c/linear_step_1").
		WithContext(map[string]int{"even_number": 6}).Build()
	runSteps := func(n int) {
		work := make(chan struct{})
		done := make(chan bool)
		for range 4 {
			go func() {
				ok := true
				for range work {
					ok = x.Execute(context.Background(), sc).IsSuccess() && ok
				}
				done <- ok
			}()
		}
		for range n {
			work <- struct{}{}
		}
		close(work)
		for range 4 {
			require.True(t, <-done)
		}
	}
	sys := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	runSteps(1000)
	before, rssBefore := sys(), rss()
	runSteps(9000)
	after, rssAfter := sys(), rss()
	t.Logf("Go heap in use: %d KiB after 1,000 steps, %d KiB after 10,000; RSS %d KiB, then %d KiB",
		before>>10, after>>10, rssBefore>>10, rssAfter>>10)
	require.Less(t, after, before+8<<20, "the heap grew by more than 8 MiB over 9,000 steps")
	if rssBefore > 0 {
		// Other tests run in parallel: allow for them.
		require.Less(t, rssAfter, rssBefore+64<<20, "the resident set grew by more than 64 MiB over 9,000 steps")
	}
}

// rss is the process's resident set in bytes (0 where /proc is missing).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kib << 10
		}
	}
	return 0
}
