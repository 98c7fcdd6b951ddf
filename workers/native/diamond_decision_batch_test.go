package native

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/workertest"
)

func TestDiamondDecisionBatchAnalyzer(t *testing.T) {
	init := map[string]any{"batch_size": 2, "max_workers": 10, "worker_template_name": "process_even_batch"}
	run := func(evens []int) worker.BatchOutcome {
		var out worker.Batchable
		r := workertest.Execute(handler(t, ddbPrefix+"EvenBatchAnalyzerHandler"), workertest.NewStep("even_batch_analyzer").
			WithConfig(init).WithDependency("branch_evens", map[string]any{"even_numbers": evens, "count": len(evens)}))
		require.NoError(t, workertest.DecodeValue(r, &out))
		return out.Outcome
	}
	o := run([]int{2, 4, 6, 8, 10})
	require.Equal(t, 3, o.WorkerCount)
	require.Equal(t, int64(1), o.CursorConfigs[2].BatchSize)
	require.Equal(t, 1, run([]int{4}).WorkerCount, "a branch smaller than one batch still gets a worker")
	require.Equal(t, "no_batches", run([]int{}).Type)

	// A worker sums its slice; a range outside the branch is refused.
	inputs := map[string]any{"cursor": map[string]any{"batch_id": "002", "start_cursor": 2, "end_cursor": 4, "batch_size": 2},
		"batch_metadata": map[string]any{"cursor_field": "id", "failure_strategy": "fail_fast"}, "is_no_op": false}
	dep := map[string]any{"even_numbers": []int{2, 4, 6, 8, 10}, "count": 5}
	r := workertest.Execute(handler(t, ddbPrefix+"ProcessEvenBatchHandler"),
		workertest.NewStep("process_even_batch_002").WithConfig(inputs).WithDependency("branch_evens", dep))
	require.Equal(t, num("14"), valueOf(t, r)["batch_sum"])
	inputs["cursor"] = map[string]any{"batch_id": "009", "start_cursor": 4, "end_cursor": 9, "batch_size": 5}
	r = workertest.Execute(handler(t, ddbPrefix+"ProcessEvenBatchHandler"),
		workertest.NewStep("process_even_batch_009").WithConfig(inputs).WithDependency("branch_evens", dep))
	require.False(t, r.IsSuccess())
}
