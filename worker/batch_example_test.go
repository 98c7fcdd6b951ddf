package worker_test

import (
	"context"
	"fmt"

	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/workertest"
)

// Dataset is the task context of a batch workflow.
type Dataset struct {
	Size int64 `json:"dataset_size"`
}

// Analysis is a batchable handler's result: the embedded Batchable carries
// the outcome the orchestrator acts on.
type Analysis struct {
	worker.Batchable
	TotalItems int64 `json:"total_items"`
}

// analyze splits the data set into ranges of 1000 items, at most 10
// workers; a data set smaller than one batch gets no batches.
func analyze(_ context.Context, step *worker.Step[Dataset]) (Analysis, error) {
	cursors := worker.PlanBatches(step.Input.Size, 1000, 10, 0)
	if cursors == nil {
		return Analysis{Batchable: worker.Batchable{Outcome: worker.NoBatches()}, TotalItems: step.Input.Size}, nil
	}
	return Analysis{Batchable: worker.Batchable{Outcome: worker.CreateBatches("process_batch", cursors, step.Input.Size)},
		TotalItems: step.Input.Size}, nil
}

// A batchable handler returns a batch outcome: the orchestrator creates one
// worker step per cursor range, named {worker_template}_{batch_id}.
func ExampleCreateBatches() {
	out, err := workertest.Run(worker.Func(analyze), workertest.NewStep("analyze_dataset").WithContext(Dataset{Size: 2500}))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range out.Outcome.CursorConfigs {
		fmt.Printf("process_batch_%s [%s, %s) %d items\n", c.BatchID, c.StartCursor, c.EndCursor, c.BatchSize)
	}
	small, _ := workertest.Run(worker.Func(analyze), workertest.NewStep("analyze_dataset").WithContext(Dataset{Size: 40}))
	fmt.Println(small.Outcome.Type)
	// Output:
	// process_batch_001 [0, 834) 834 items
	// process_batch_002 [834, 1668) 834 items
	// process_batch_003 [1668, 2500) 832 items
	// no_batches
}

// processBatch is a batch worker: it reads its cursor range, resumes after
// the last checkpoint, and yields a checkpoint every 100 items, so a retry
// after a crash or a failure never processes those items again.
func processBatch(ctx context.Context, step *worker.Step[struct{}]) (map[string]int64, error) {
	w, err := step.BatchWorker()
	if err != nil {
		return nil, worker.Permanent(err)
	}
	if w.NoOp {
		return map[string]int64{"processed_count": 0}, nil
	}
	done := w.ItemsProcessed()
	for pos := w.Resume(); pos < w.End(); pos++ {
		done++ // process item pos here
		if next := pos + 1; next < w.End() && done%100 == 0 {
			// Save progress; the worker runs the handler again from it.
			return nil, worker.YieldCheckpoint(ctx, worker.Checkpoint{Cursor: fmt.Appendf(nil, "%d", next), ItemsProcessed: done})
		}
	}
	return map[string]int64{"processed_count": done}, nil
}

// A batch worker finds its cursor range, and its checkpoint on a later run,
// in StepContext.BatchWorker.
func ExampleStepContext_BatchWorker() {
	inputs := map[string]any{
		"cursor":         map[string]any{"batch_id": "002", "start_cursor": 1000, "end_cursor": 2000, "batch_size": 1000},
		"batch_metadata": map[string]any{"cursor_field": "id", "failure_strategy": "continue_on_failure"},
		"is_no_op":       false,
	}
	// A retry after a crash: the last checkpoint was at item 1900.
	out, err := workertest.Run(worker.Func(processBatch), workertest.NewStep("process_batch_002").WithConfig(inputs).
		WithCheckpoint(map[string]any{"cursor": 1900, "items_processed": 900}))
	fmt.Println(out, err)
	// Output:
	// map[processed_count:1000] <nil>
}
