package main

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPidCPUOfThisProcess(t *testing.T) {
	before, ok := pidCPU(os.Getpid())
	require.True(t, ok)
	// Spin until the figure moves (a tick is 10 ms of CPU; a loaded
	// machine may take a while to give us one).
	after := before
	for deadline := time.Now().Add(time.Minute); after == before && time.Now().Before(deadline); {
		for x := 0; x < 1e6; x++ {
			_ = x * x
		}
		after, ok = pidCPU(os.Getpid())
		require.True(t, ok)
	}
	require.Greater(t, after, before)
	_, ok = pidCPU(-1)
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
