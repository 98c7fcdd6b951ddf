package main

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseProcStatCPU(t *testing.T) {
	// A command name with spaces and a parenthesis: fields are counted
	// after the last ")".
	line := "4242 (ruby (worker) x) S 1 4242 4242 0 -1 4194304 1000 0 0 0 250 37 0 0 20 0 12 0 100 1000 200\n"
	d, ok := parseProcStatCPU(line)
	require.True(t, ok)
	require.Equal(t, 2870*time.Millisecond, d, "utime 250 + stime 37 ticks of 10 ms")

	for _, bad := range []string{"", "4242 ruby S 1", "4242 (ruby) S 1 2 3", "4242 (ruby) S 1 4242 4242 0 -1 4194304 1 0 0 0 x 37"} {
		_, ok := parseProcStatCPU(bad)
		require.False(t, ok, "%q", bad)
	}
}

func TestProcessCPUOfThisProcess(t *testing.T) {
	before, ok := processCPU(os.Getpid())
	require.True(t, ok)
	// Spin until the figure moves (a tick is 10 ms of CPU; a loaded
	// machine may take a while to give us one).
	after := before
	for deadline := time.Now().Add(time.Minute); after == before && time.Now().Before(deadline); {
		for x := 0; x < 1e6; x++ {
			_ = x * x
		}
		after, ok = processCPU(os.Getpid())
		require.True(t, ok)
	}
	require.Greater(t, after, before)
	_, ok = processCPU(-1)
	require.False(t, ok)
}

func TestMergeRunsAddsWorkerCPU(t *testing.T) {
	a := &handlerRun{workerCPU: 300 * time.Millisecond, workerSteps: 1000, WorkerCPUMSPerStep: 0.3}
	b := &handlerRun{workerCPU: 500 * time.Millisecond, workerSteps: 1000, WorkerCPUMSPerStep: 0.5}
	m := mergeRuns(mergeRuns(nil, a), b)
	require.Equal(t, 0.4, m.WorkerCPUMSPerStep, "all CPU over all steps")
	m = mergeRuns(m, &handlerRun{}) // a round without the figure (the Go worker's) changes nothing
	require.Equal(t, 0.4, m.WorkerCPUMSPerStep)
}
