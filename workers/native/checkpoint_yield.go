package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tasker-go/tasker/worker"
)

// The checkpoint-yield test (tasker-core's checkpoint_yield_test):
// analyze_items puts total_items items in one batch; the worker processes
// them one at a time, yielding a checkpoint (cursor, items processed,
// running total and item ids) every items_per_checkpoint items, and can be
// told to fail once after fail_after_items items (transient or permanent);
// aggregate_results reports the totals. item_delay_ms (at most 1000) slows
// every item down, for tests that stop a worker mid-batch.

// Callables of the checkpoint-yield handlers (tasker-core's Ruby class
// names: its fixture is served by the Go worker as it is).
const (
	callableCheckpointAnalyzer   = "TaskerCore::Examples::CheckpointYield::AnalyzerHandler"
	callableCheckpointWorker     = "TaskerCore::Examples::CheckpointYield::WorkerHandler"
	callableCheckpointAggregator = "TaskerCore::Examples::CheckpointYield::AggregatorHandler"
)

func registerCheckpointYield(r *worker.Registry) error {
	return errors.Join(
		worker.Register(r, callableCheckpointAnalyzer, worker.Func(analyzeItems)),
		worker.Register(r, callableCheckpointWorker, worker.Func(checkpointYieldWorker)),
		worker.Register(r, callableCheckpointAggregator, worker.Func(aggregateCheckpointYield)),
	)
}

// checkpointYieldInput is the task context of the checkpoint-yield test.
type checkpointYieldInput struct {
	TotalItems         *int64 `json:"total_items"`
	ItemsPerCheckpoint *int64 `json:"items_per_checkpoint"`
	FailAfterItems     *int64 `json:"fail_after_items"`
	FailOnAttempt      *int   `json:"fail_on_attempt"`
	PermanentFailure   bool   `json:"permanent_failure"`
	ItemDelayMS        int    `json:"item_delay_ms"`
}

type itemsAnalysis struct {
	worker.Batchable
	TotalItems int64  `json:"total_items"`
	Reason     string `json:"reason,omitempty"`
}

// analyzeItems puts every item in a single batch (none when there are
// none).
func analyzeItems(_ context.Context, step *worker.Step[checkpointYieldInput]) (itemsAnalysis, error) {
	total := int64(100)
	if step.Input.TotalItems != nil {
		total = *step.Input.TotalItems
	}
	cfg, err := worker.Config[analyzerConfig](step)
	if err != nil {
		return itemsAnalysis{}, err
	}
	tpl := cfg.WorkerTemplateName
	if tpl == "" {
		tpl = "checkpoint_yield_batch"
	}
	if total <= 0 {
		return itemsAnalysis{Batchable: worker.Batchable{Outcome: worker.NoBatches()}, Reason: "no_items_to_process"}, nil
	}
	cursors := worker.PlanBatches(total, int(min(total, 1<<30)), 1, 0)
	return itemsAnalysis{Batchable: worker.Batchable{Outcome: worker.CreateBatches(tpl, cursors, total)}, TotalItems: total}, nil
}

// yieldAccumulated is what the worker carries from one checkpoint to the
// next.
type yieldAccumulated struct {
	RunningTotal int64    `json:"running_total"`
	ItemIDs      []string `json:"item_ids"`
	Yields       int      `json:"yields"`
}

// checkpointYieldResult is the worker's result.
type checkpointYieldResult struct {
	NoOp           bool             `json:"no_op,omitempty"`
	ItemsProcessed int64            `json:"items_processed"`
	ItemsSucceeded int64            `json:"items_succeeded"`
	ItemsFailed    int64            `json:"items_failed"`
	Results        checkpointTotals `json:"results"`
}

type checkpointTotals struct {
	RunningTotal    int64    `json:"running_total"`
	ItemIDs         []string `json:"item_ids"`
	FinalCursor     int64    `json:"final_cursor"`
	CheckpointsUsed int      `json:"checkpoints_used"`
}

func checkpointYieldWorker(ctx context.Context, step *worker.Step[checkpointYieldInput]) (checkpointYieldResult, error) {
	w, err := step.BatchWorker()
	if err != nil {
		return checkpointYieldResult{}, worker.Permanent(err)
	}
	if w.NoOp {
		return checkpointYieldResult{NoOp: true}, nil
	}
	cfg, err := worker.Config[struct {
		ItemsPerCheckpoint *int64 `json:"items_per_checkpoint"`
	}](step)
	if err != nil {
		return checkpointYieldResult{}, err
	}
	in := step.Input
	every := int64(25)
	switch {
	case in.ItemsPerCheckpoint != nil:
		every = *in.ItemsPerCheckpoint
	case cfg.ItemsPerCheckpoint != nil:
		every = *cfg.ItemsPerCheckpoint
	}
	failOn := 1
	if in.FailOnAttempt != nil {
		failOn = *in.FailOnAttempt
	}
	if every < 1 || in.ItemDelayMS < 0 || in.ItemDelayMS > 1000 {
		return checkpointYieldResult{}, invalid("items_per_checkpoint must be at least 1 and item_delay_ms within 0..1000")
	}
	acc := yieldAccumulated{ItemIDs: []string{}}
	processed := int64(0)
	if w.HasCheckpoint {
		processed = w.ItemsProcessed()
		if len(w.Checkpoint.AccumulatedResults) > 0 {
			if err := json.Unmarshal(w.Checkpoint.AccumulatedResults, &acc); err != nil {
				return checkpointYieldResult{}, worker.Permanent(fmt.Errorf("reading the checkpoint's accumulated results: %w", err))
			}
		}
	}
	pos, chunk := w.Resume(), int64(0)
	for pos < w.End() {
		if in.FailAfterItems != nil && processed >= *in.FailAfterItems && step.Attempt() == failOn {
			step.SetMetadata("items_processed", processed)
			step.SetMetadata("cursor_at_failure", pos)
			if in.PermanentFailure {
				return checkpointYieldResult{}, worker.WithErrorType(worker.Permanent(
					fmt.Errorf("injected permanent failure after %d items", processed)), worker.ErrorTypePermanent)
			}
			return checkpointYieldResult{}, worker.WithErrorType(
				fmt.Errorf("injected transient failure after %d items", processed), worker.ErrorTypeRetryable)
		}
		if in.ItemDelayMS > 0 {
			select {
			case <-ctx.Done():
				return checkpointYieldResult{}, ctx.Err()
			case <-time.After(time.Duration(in.ItemDelayMS) * time.Millisecond):
			}
		}
		if err := traceItem(step.StepContext, pos); err != nil {
			return checkpointYieldResult{}, err
		}
		acc.RunningTotal += pos + 1
		acc.ItemIDs = append(acc.ItemIDs, fmt.Sprintf("item_%04d", pos))
		pos++
		chunk++
		processed++
		if chunk >= every && pos < w.End() {
			acc.Yields++
			b, err := json.Marshal(acc)
			if err != nil {
				return checkpointYieldResult{}, err
			}
			return checkpointYieldResult{}, worker.YieldCheckpoint(ctx, worker.Checkpoint{
				Cursor: []byte(strconv.FormatInt(pos, 10)), ItemsProcessed: processed, AccumulatedResults: b})
		}
	}
	return checkpointYieldResult{ItemsProcessed: processed, ItemsSucceeded: processed,
		Results: checkpointTotals{RunningTotal: acc.RunningTotal, ItemIDs: acc.ItemIDs, FinalCursor: pos,
			CheckpointsUsed: int(processed / every)}}, nil
}

type checkpointYieldAggregate struct {
	TotalProcessed  int64  `json:"total_processed"`
	RunningTotal    int64  `json:"running_total"`
	ItemCount       int    `json:"item_count"`
	CheckpointsUsed int    `json:"checkpoints_used"`
	WorkerCount     int    `json:"worker_count"`
	TestPassed      bool   `json:"test_passed"`
	Scenario        string `json:"scenario"`
}

func aggregateCheckpointYield(_ context.Context, step *worker.Step[struct{}]) (checkpointYieldAggregate, error) {
	results, noBatches, err := worker.DecodeBatchResults[checkpointYieldResult](step.StepContext,
		workerTemplateOf(step, "checkpoint_yield_batch"))
	if err != nil {
		return checkpointYieldAggregate{}, brokenDependency(err)
	}
	if noBatches || len(results) == 0 {
		return checkpointYieldAggregate{TestPassed: true, Scenario: "no_batches"}, nil
	}
	out := checkpointYieldAggregate{WorkerCount: len(results), TestPassed: true, Scenario: "with_batches"}
	for _, r := range results {
		out.TotalProcessed += r.ItemsProcessed
		out.RunningTotal += r.Results.RunningTotal
		out.ItemCount += len(r.Results.ItemIDs)
		out.CheckpointsUsed += r.Results.CheckpointsUsed
	}
	return out, nil
}
