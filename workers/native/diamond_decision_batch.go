package native

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/tasker-go/tasker/worker"
)

// The batch half of tasker-core's diamond_decision_batch: on the path the
// routing decision chose, {even,odd}_batch_analyzer splits that branch's
// numbers into batches of batch_size (at most max_workers), each
// process_{even,odd}_batch_NNN worker sums its slice, and
// aggregate_{even,odd}_results adds the workers up.

// ddbPath is one of the two batch paths: the branch whose numbers it
// processes and the result field that holds them.
type ddbPath struct {
	branch, field, workers string
}

var (
	ddbEven = ddbPath{branch: "branch_evens", field: "even_numbers", workers: "process_even_batch"}
	ddbOdd  = ddbPath{branch: "branch_odds", field: "odd_numbers", workers: "process_odd_batch"}
)

func (p ddbPath) numbers(step *worker.StepContext) ([]int64, error) {
	raw, ok := step.DependencyResult(p.branch)
	if !ok {
		return nil, brokenDependency(errors.New("missing " + p.field + " from " + p.branch))
	}
	var v map[string]json.RawMessage
	var nums []int64
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, brokenDependency(err)
	}
	if err := json.Unmarshal(v[p.field], &nums); err != nil {
		return nil, brokenDependency(errors.New(p.branch + "." + p.field + " is not a list of integers"))
	}
	return nums, nil
}

type ddbAnalysis struct {
	worker.Batchable
	DatasetSize int    `json:"dataset_size"`
	WorkerCount int    `json:"worker_count"`
	BatchSize   int64  `json:"batch_size,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

func (p ddbPath) analyze(_ context.Context, step *worker.Step[struct{}]) (ddbAnalysis, error) {
	nums, err := p.numbers(step.StepContext)
	if err != nil {
		return ddbAnalysis{}, err
	}
	if len(nums) == 0 {
		return ddbAnalysis{Batchable: worker.Batchable{Outcome: worker.NoBatches()}, Reason: "no numbers to process"}, nil
	}
	cfg, err := worker.Config[analyzerConfig](step)
	if err != nil {
		return ddbAnalysis{}, err
	}
	size, workers, err := cfg.sizes(3, 10)
	if err != nil {
		return ddbAnalysis{}, err
	}
	n := int64(len(nums))
	// A branch smaller than one batch still gets a worker.
	cursors := worker.PlanBatches(n, min(size, len(nums)), workers, 0)
	return ddbAnalysis{Batchable: worker.Batchable{Outcome: worker.CreateBatches(p.workers, cursors, n)},
		DatasetSize: len(nums), WorkerCount: len(cursors), BatchSize: cursors[0].BatchSize}, nil
}

type ddbBatch struct {
	NoOp           bool    `json:"no_op,omitempty"`
	ProcessedCount int     `json:"processed_count"`
	BatchSum       int64   `json:"batch_sum"`
	StartIdx       int64   `json:"start_idx"`
	EndIdx         int64   `json:"end_idx"`
	BatchNumbers   []int64 `json:"batch_numbers"`
}

func (p ddbPath) process(_ context.Context, step *worker.Step[struct{}]) (ddbBatch, error) {
	w, err := step.BatchWorker()
	if err != nil {
		return ddbBatch{}, worker.Permanent(err)
	}
	if w.NoOp {
		return ddbBatch{NoOp: true, BatchNumbers: []int64{}}, nil
	}
	nums, err := p.numbers(step.StepContext)
	if err != nil {
		return ddbBatch{}, err
	}
	if w.Start() < 0 || w.End() > int64(len(nums)) || w.Start() > w.End() {
		return ddbBatch{}, invalid("range [%d, %d) is outside the %d numbers of %s", w.Start(), w.End(), len(nums), p.branch)
	}
	out := ddbBatch{StartIdx: w.Start(), EndIdx: w.End(), BatchNumbers: nums[w.Start():w.End()]}
	for _, n := range out.BatchNumbers {
		out.BatchSum += n
	}
	out.ProcessedCount = len(out.BatchNumbers)
	return out, nil
}

type ddbAggregate struct {
	TotalProcessed int     `json:"total_processed"`
	TotalSum       int64   `json:"total_sum"`
	BatchCount     int     `json:"batch_count"`
	Average        float64 `json:"average"`
}

func (p ddbPath) aggregate(_ context.Context, step *worker.Step[struct{}]) (ddbAggregate, error) {
	results, noBatches, err := worker.DecodeBatchResults[ddbBatch](step.StepContext, p.workers)
	if err != nil {
		return ddbAggregate{}, brokenDependency(err)
	}
	var out ddbAggregate
	if noBatches {
		nums, err := p.numbers(step.StepContext)
		if err != nil {
			return ddbAggregate{}, err
		}
		for _, n := range nums {
			out.TotalSum += n
		}
		out.TotalProcessed = len(nums)
	} else {
		for _, r := range results {
			out.TotalProcessed += r.ProcessedCount
			out.TotalSum += r.BatchSum
		}
		out.BatchCount = len(results)
	}
	if out.TotalProcessed > 0 {
		out.Average = float64(out.TotalSum) / float64(out.TotalProcessed)
	}
	return out, nil
}

func registerDiamondDecisionBatch(r *worker.Registry) error {
	return errors.Join(
		worker.Register(r, ddbPrefix+"EvenBatchAnalyzerHandler", worker.Func(ddbEven.analyze)),
		worker.Register(r, ddbPrefix+"ProcessEvenBatchHandler", worker.Func(ddbEven.process)),
		worker.Register(r, ddbPrefix+"AggregateEvenResultsHandler", worker.Func(ddbEven.aggregate)),
		worker.Register(r, ddbPrefix+"OddBatchAnalyzerHandler", worker.Func(ddbOdd.analyze)),
		worker.Register(r, ddbPrefix+"ProcessOddBatchHandler", worker.Func(ddbOdd.process)),
		worker.Register(r, ddbPrefix+"AggregateOddResultsHandler", worker.Func(ddbOdd.aggregate)),
	)
}
