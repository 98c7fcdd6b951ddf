package worker_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/workertest"
)

func TestBatchWorkerView(t *testing.T) {
	_, err := workertest.NewStep("plain").WithConfig(map[string]any{"op": "x"}).Build().BatchWorker()
	require.ErrorIs(t, err, worker.ErrNotBatchWorker)
	_, err = workertest.NewStep("bad").WithConfig(map[string]any{"cursor": map[string]any{"batch_id": 1}}).Build().BatchWorker()
	require.Error(t, err)

	inputs := map[string]any{
		"cursor":         map[string]any{"batch_id": "003", "start_cursor": 200, "end_cursor": 300, "batch_size": 100},
		"batch_metadata": map[string]any{"cursor_field": "row_number", "failure_strategy": "fail_fast", "parallelism": 2},
		"is_no_op":       false, "__template_step_name": "process_csv_batch",
	}
	w, err := workertest.NewStep("process_csv_batch_003").WithConfig(inputs).Build().BatchWorker()
	require.NoError(t, err)
	require.Equal(t, "003", w.BatchID())
	require.Equal(t, int64(200), w.Start())
	require.Equal(t, int64(300), w.End())
	require.Equal(t, int64(200), w.Resume(), "no checkpoint: start at the range's start")
	require.Equal(t, int64(0), w.ItemsProcessed())
	require.Equal(t, "row_number", w.Metadata.CursorField)
	require.Equal(t, 2, w.Metadata.Parallelism)
	require.Equal(t, "process_csv_batch", w.Template)

	w, err = workertest.NewStep("process_csv_batch_003").WithConfig(inputs).
		WithCheckpoint(map[string]any{"cursor": 250, "items_processed": 50, "accumulated_results": map[string]int{"sum": 7}}).
		Build().BatchWorker()
	require.NoError(t, err)
	require.True(t, w.HasCheckpoint)
	require.Equal(t, int64(250), w.Resume())
	require.Equal(t, int64(50), w.ItemsProcessed())
	require.JSONEq(t, `{"sum":7}`, string(w.Checkpoint.AccumulatedResults))

	// A checkpoint cursor outside the range (or not an integer) is ignored.
	w, err = workertest.NewStep("process_csv_batch_003").WithConfig(inputs).
		WithCheckpoint(map[string]any{"cursor": "abc"}).Build().BatchWorker()
	require.NoError(t, err)
	require.Equal(t, int64(200), w.Resume())
}

func TestBatchResults(t *testing.T) {
	sc := workertest.NewStep("aggregate").
		WithDependency("analyze", map[string]any{"total": 4}).
		WithDependency("work_001", map[string]int{"n": 2}).
		WithDependency("work_002", map[string]int{"n": 3}).Build()
	res, noBatches := sc.BatchResults("work")
	require.False(t, noBatches)
	require.Len(t, res, 2)
	require.JSONEq(t, `{"n":3}`, string(res["work_002"]))
	typed, _, err := worker.DecodeBatchResults[struct{ N int }](sc, "work")
	require.NoError(t, err)
	require.Equal(t, 2, typed["work_001"].N)
	_, _, err = worker.DecodeBatchResults[[]int](sc, "work")
	require.Error(t, err)

	placeholder := workertest.NewStep("aggregate").WithDependency("work_000", map[string]any{"no_op": true}).Build()
	res, noBatches = placeholder.BatchResults("work")
	require.True(t, noBatches)
	require.Len(t, res, 1)
}
