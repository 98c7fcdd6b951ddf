package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/tasker-go/tasker/worker"
)

// The batch example (tasker-core's large_dataset_processor) and the batch
// resumption test: analyze_dataset splits a synthetic data set of
// dataset_size items into cursor ranges, each process_batch_NNN worker
// walks its range in chunks, aggregate_results checks that the workers
// together processed every item. CheckpointAndFailHandler checkpoints as
// it goes and fails once mid-batch, so its retry shows it resumes from the
// checkpoint.

// Callables of the batch example handlers.
const (
	callableDatasetAnalyzer   = "tasker_example_rs::step_handlers::batch_processing_example::DatasetAnalyzerHandler"
	callableBatchWorker       = "tasker_example_rs::step_handlers::batch_processing_example::BatchWorkerHandler"
	callableResultsAggregator = "tasker_example_rs::step_handlers::batch_processing_example::ResultsAggregatorHandler"
	callableCheckpointAndFail = "CheckpointAndFailHandler"
)

// batchChunk is how many items the example worker handles between
// progress points.
const batchChunk = 100

func registerBatchExample(r *worker.Registry) error {
	return errors.Join(
		worker.Register(r, callableDatasetAnalyzer, worker.Func(analyzeDataset)),
		worker.Register(r, callableBatchWorker, worker.Func(processExampleBatch)),
		worker.Register(r, callableResultsAggregator, worker.Func(aggregateExampleResults)),
		worker.Register(r, callableCheckpointAndFail, worker.Func(checkpointAndFail)),
	)
}

// analyzerConfig is a batchable step's handler.initialization.
type analyzerConfig struct {
	BatchSize          *int   `json:"batch_size"`
	MaxWorkers         *int   `json:"max_workers"`
	WorkerTemplateName string `json:"worker_template_name"`
}

func (c analyzerConfig) sizes(defSize, defWorkers int) (size, workers int, err error) {
	size, workers = defSize, defWorkers
	if c.BatchSize != nil {
		size = *c.BatchSize
	}
	if c.MaxWorkers != nil {
		workers = *c.MaxWorkers
	}
	if size < 1 || workers < 1 {
		return 0, 0, invalid("batch_size and max_workers must be at least 1 (got %d and %d)", size, workers)
	}
	return size, workers, nil
}

type datasetInput struct {
	DatasetSize *int64 `json:"dataset_size"`
}

// datasetAnalysis is analyze_dataset's result.
type datasetAnalysis struct {
	worker.Batchable
	Reason          string `json:"reason,omitempty"`
	DatasetSize     int64  `json:"dataset_size"`
	WorkerCount     int    `json:"worker_count"`
	ActualBatchSize int64  `json:"actual_batch_size,omitempty"`
	TotalItems      int64  `json:"total_items"`
}

// analyzeDataset plans the batches: ceil(size/batch_size) workers, at most
// max_workers; a data set smaller than one batch gets no batches.
func analyzeDataset(_ context.Context, step *worker.Step[datasetInput]) (datasetAnalysis, error) {
	if step.Input.DatasetSize == nil || *step.Input.DatasetSize < 0 {
		return datasetAnalysis{}, invalid("dataset_size is required and must be a non-negative integer")
	}
	cfg, err := worker.Config[analyzerConfig](step)
	if err != nil {
		return datasetAnalysis{}, err
	}
	size, workers, err := cfg.sizes(1000, 10)
	if err != nil {
		return datasetAnalysis{}, err
	}
	tpl := cfg.WorkerTemplateName
	if tpl == "" {
		tpl = "process_batch"
	}
	n := *step.Input.DatasetSize
	cursors := worker.PlanBatches(n, size, workers, 0)
	if cursors == nil {
		return datasetAnalysis{Batchable: worker.Batchable{Outcome: worker.NoBatches()}, Reason: "dataset_too_small",
			DatasetSize: n, TotalItems: n}, nil
	}
	return datasetAnalysis{Batchable: worker.Batchable{Outcome: worker.CreateBatches(tpl, cursors, n)},
		DatasetSize: n, WorkerCount: len(cursors), ActualBatchSize: cursors[0].BatchSize, TotalItems: n}, nil
}

// exampleBatchResult is a process_batch worker's result.
type exampleBatchResult struct {
	NoOp            bool   `json:"no_op,omitempty"`
	BatchID         string `json:"batch_id"`
	ProcessedCount  int64  `json:"processed_count"`
	CheckpointCount int64  `json:"checkpoint_count"`
	StartPosition   int64  `json:"start_position"`
	EndPosition     int64  `json:"end_position"`
	FinalPosition   int64  `json:"final_position"`
}

// processExampleBatch walks its range in chunks of batchChunk items.
func processExampleBatch(_ context.Context, step *worker.Step[struct{}]) (exampleBatchResult, error) {
	w, err := step.BatchWorker()
	if err != nil {
		return exampleBatchResult{}, worker.Permanent(err)
	}
	if w.NoOp {
		return exampleBatchResult{NoOp: true, BatchID: w.BatchID()}, nil
	}
	res := exampleBatchResult{BatchID: w.BatchID(), StartPosition: w.Start(), EndPosition: w.End()}
	pos := w.Resume()
	res.ProcessedCount = w.ItemsProcessed()
	for pos < w.End() {
		end := min(pos+batchChunk, w.End())
		res.ProcessedCount += end - pos
		res.CheckpointCount++
		pos = end
	}
	res.FinalPosition = pos
	step.SetMetadata("batch_range", fmt.Sprintf("%d-%d", w.Start(), w.End()))
	return res, nil
}

// exampleAggregate is aggregate_results' result.
type exampleAggregate struct {
	TotalProcessed   int64  `json:"total_processed"`
	WorkerCount      int    `json:"worker_count"`
	TotalCheckpoints int64  `json:"total_checkpoints"`
	AggregationType  string `json:"aggregation_type"`
	ValidationPassed bool   `json:"validation_passed"`
}

// aggregateExampleResults sums the workers' counts and checks them against
// the data set size (a mismatch is a permanent ValidationError).
func aggregateExampleResults(_ context.Context, step *worker.Step[datasetInput]) (exampleAggregate, error) {
	cfg, err := worker.Config[struct {
		AggregationType string `json:"aggregation_type"`
	}](step)
	if err != nil {
		return exampleAggregate{}, err
	}
	out := exampleAggregate{AggregationType: cfg.AggregationType}
	if out.AggregationType == "" {
		out.AggregationType = "sum"
	}
	results, noBatches, err := worker.DecodeBatchResults[exampleBatchResult](step.StepContext, workerTemplateOf(step, "process_batch"))
	if err != nil {
		return exampleAggregate{}, brokenDependency(err)
	}
	if noBatches {
		if a, err := worker.Dependency[datasetAnalysis](step, "analyze_dataset"); err == nil {
			out.TotalProcessed = a.DatasetSize
		}
	} else {
		for _, r := range results {
			out.TotalProcessed += r.ProcessedCount
			out.TotalCheckpoints += r.CheckpointCount
		}
		out.WorkerCount = len(results)
	}
	if want := step.Input.DatasetSize; want != nil {
		if out.TotalProcessed != *want {
			return exampleAggregate{}, &worker.Error{
				Err:  fmt.Errorf("processed count %d does not match expected %d", out.TotalProcessed, *want),
				Type: worker.ErrorTypeValidation, Code: "AGGREGATION_MISMATCH", Permanent: true,
			}
		}
		out.ValidationPassed = true
	}
	return out, nil
}

// workerTemplateOf returns the worker template a convergence step
// aggregates: the one of its batchable ancestor's outcome, else def.
func workerTemplateOf[In any](step *worker.Step[In], def string) string {
	for _, name := range step.DependencyNames() {
		if b, err := worker.Dependency[worker.Batchable](step, name); err == nil && b.Outcome.WorkerTemplateName != "" {
			return b.Outcome.WorkerTemplateName
		}
	}
	return def
}

// checkpointFailConfig is CheckpointAndFailHandler's initialization.
type checkpointFailConfig struct {
	FailAfterItems     *int64 `json:"fail_after_items"`
	FailOnAttempt      *int   `json:"fail_on_attempt"`
	ItemsPerCheckpoint *int64 `json:"items_per_checkpoint"`
}

// checkpointFailResult is CheckpointAndFailHandler's result.
type checkpointFailResult struct {
	NoOp             bool   `json:"no_op,omitempty"`
	TotalProcessed   int64  `json:"total_processed"`
	ResumedFrom      int64  `json:"resumed_from"`
	FinalPosition    int64  `json:"final_position"`
	StartPosition    int64  `json:"start_position"`
	EndPosition      int64  `json:"end_position"`
	Attempts         int    `json:"attempts"`
	ItemsThisAttempt int64  `json:"items_this_attempt"`
	Message          string `json:"message,omitempty"`
}

// checkpointAndFail processes its range one item at a time, yields a
// checkpoint every items_per_checkpoint items, and on attempt
// fail_on_attempt fails (retryably) once fail_after_items items of the
// range are done. The retry resumes from the last checkpoint: the items
// before it are not processed again.
func checkpointAndFail(ctx context.Context, step *worker.Step[struct{}]) (checkpointFailResult, error) {
	w, err := step.BatchWorker()
	if err != nil {
		return checkpointFailResult{}, worker.Permanent(err)
	}
	if w.NoOp {
		return checkpointFailResult{NoOp: true, Message: "NoBatches scenario"}, nil
	}
	cfg, err := worker.Config[checkpointFailConfig](step)
	if err != nil {
		return checkpointFailResult{}, err
	}
	failAfter, failOn, every := int64(50), 1, int64(25)
	if cfg.FailAfterItems != nil {
		failAfter = *cfg.FailAfterItems
	}
	if cfg.FailOnAttempt != nil {
		failOn = *cfg.FailOnAttempt
	}
	if cfg.ItemsPerCheckpoint != nil {
		every = *cfg.ItemsPerCheckpoint
	}
	if every < 1 {
		return checkpointFailResult{}, invalid("items_per_checkpoint must be at least 1 (got %d)", every)
	}
	// The run's first position, and where this attempt began (an attempt
	// runs once per checkpoint it yields; the record carries its start).
	resume := w.Resume()
	var mark struct {
		Attempt     int   `json:"attempt"`
		ResumedFrom int64 `json:"resumed_from"`
	}
	if w.HasCheckpoint && len(w.Checkpoint.AccumulatedResults) > 0 {
		_ = json.Unmarshal(w.Checkpoint.AccumulatedResults, &mark)
	}
	if mark.Attempt != step.Attempt() {
		mark.Attempt, mark.ResumedFrom = step.Attempt(), resume
	}
	acc, err := json.Marshal(mark)
	if err != nil {
		return checkpointFailResult{}, err
	}
	pos, done := resume, int64(0)
	for pos < w.End() {
		if pos-w.Start() >= failAfter && step.Attempt() == failOn {
			step.SetMetadata("checkpoint_progress", pos)
			step.SetMetadata("resumed_from", mark.ResumedFrom)
			return checkpointFailResult{}, worker.WithErrorCode(worker.WithErrorType(
				fmt.Errorf("simulated failure after %d items on attempt %d", pos-w.Start(), step.Attempt()),
				worker.ErrorTypeRetryable), "SIMULATED_BATCH_FAILURE")
		}
		if err := traceItem(step.StepContext, pos); err != nil {
			return checkpointFailResult{}, err
		}
		pos++
		done++
		if done%every == 0 && pos < w.End() {
			return checkpointFailResult{}, worker.YieldCheckpoint(ctx, worker.Checkpoint{
				Cursor: []byte(strconv.FormatInt(pos, 10)), ItemsProcessed: pos - w.Start(), AccumulatedResults: acc})
		}
	}
	return checkpointFailResult{TotalProcessed: pos - w.Start(), ResumedFrom: mark.ResumedFrom, FinalPosition: pos,
		StartPosition: w.Start(), EndPosition: w.End(), Attempts: step.Attempt(), ItemsThisAttempt: pos - mark.ResumedFrom,
		Message: "Batch processing completed successfully"}, nil
}
