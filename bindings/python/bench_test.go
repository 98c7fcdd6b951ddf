package python_test

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/systest"
)

// BenchmarkLinearLatency measures four-step linear tasks, create to
// complete, with trivial handlers on two systems side by side: the native Go
// worker (square_chain) and the Python worker (tasker-core's
// mathematical_sequence_py). Each iteration runs one task on each, so load
// on a shared machine hits both alike. It reports both medians and what the
// Python worker adds per step.
//
//	go test ./bindings/python -run '^$' -bench LinearLatency -benchtime 200x
func BenchmarkLinearLatency(b *testing.B) {
	sys := systest.Start(b, systest.Options{})
	goClient, err := client.New(sys.URL)
	require.NoError(b, err)
	e := newEnv(b)
	e.worker(b)
	run := func(c *client.Client, s *systest.System, ns, name, input string) time.Duration {
		start := time.Now()
		task, err := c.CreateTask(s.Ctx, client.TaskRequest{Namespace: ns, Name: name, Version: "1.0.0",
			Context: json.RawMessage(input), IdempotencyKey: uuid.NewString()})
		require.NoError(b, err)
		ctx, cancel := context.WithTimeout(s.Ctx, 30*time.Second)
		defer cancel()
		final, err := c.Wait(ctx, task.TaskUUID, nil)
		require.NoError(b, err)
		require.Equal(b, "complete", final.Status)
		return time.Since(start)
	}
	goTask := func() time.Duration {
		return run(goClient, sys, "examples_linear", "square_chain", `{"even_number":2}`)
	}
	pyTask := func() time.Duration {
		return run(e.c, e.sys, "linear_workflow_py", "mathematical_sequence_py", `{"even_number":6}`)
	}
	for i := 0; i < 10; i++ { // warm-up
		goTask()
		pyTask()
	}
	b.ResetTimer()
	var goTimes, pyTimes []float64
	for i := 0; i < b.N; i++ {
		goTimes = append(goTimes, float64(goTask().Microseconds())/1000)
		pyTimes = append(pyTimes, float64(pyTask().Microseconds())/1000)
	}
	goP50, pyP50 := median(goTimes), median(pyTimes)
	b.ReportMetric(goP50, "go-p50-ms/task")
	b.ReportMetric(pyP50, "python-p50-ms/task")
	b.ReportMetric((pyP50-goP50)/4, "python-added-ms/step")
	b.ReportMetric(100*(pyP50-goP50)/goP50, "python-added-%")
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}
