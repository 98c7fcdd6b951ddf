package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tasker-go/tasker/shared/batch"
)

// CursorConfig is one batch worker's range: items from StartCursor
// (inclusive) to EndCursor (exclusive), any JSON.
type CursorConfig = batch.CursorConfig

// BatchOutcome is what a batchable step decides: NoBatches or
// CreateBatches.
type BatchOutcome = batch.Outcome

// BatchMetadata is the batch worker's cursor_field, failure_strategy and
// parallelism, from its template's batch_config.
type BatchMetadata = batch.Metadata

// ErrNotBatchWorker is returned by StepContext.BatchWorker for a step that
// is not a batch worker instance.
var ErrNotBatchWorker = errors.New("the step is not a batch worker (its inputs carry no cursor)")

// Batchable is embedded in the result type of a batchable handler: the
// orchestrator reads the outcome from its batch_processing_outcome field
// and creates the workers it names.
//
//	type Analysis struct {
//		worker.Batchable
//		TotalRows int64 `json:"total_rows"`
//	}
type Batchable struct {
	Outcome BatchOutcome `json:"batch_processing_outcome"`
}

// NoBatches is the outcome of a batchable step with nothing to split. The
// orchestrator still creates one placeholder worker ({template}_000, with
// IsNoOp true: its handler must succeed without processing anything) and
// the convergence step.
func NoBatches() BatchOutcome { return batch.NoBatches() }

// CreateBatches is the outcome that creates one instance of the
// batch_worker template step workerTemplate per cursor config, named
// {workerTemplate}_{batch_id}; totalItems is reported for observability.
func CreateBatches(workerTemplate string, cursors []CursorConfig, totalItems int64) BatchOutcome {
	return batch.CreateBatches(workerTemplate, cursors, totalItems)
}

// PlanBatches splits total items into cursor ranges: ceil(total/batchSize)
// workers, at most maxWorkers, each with ceil(total/workers) items (the last
// the rest), integer cursors counted from first (0 for offsets, 1 for
// 1-based rows), batch ids "001", "002", .... It returns nil when total is
// 0 or smaller than batchSize: return NoBatches then.
func PlanBatches(total int64, batchSize, maxWorkers int, first int64) []CursorConfig {
	return batch.Plan(total, batchSize, maxWorkers, first)
}

// BatchWorker is a batch worker instance's view of its work: its cursor
// range, its batch metadata, and where to resume from when an earlier run
// saved a checkpoint.
type BatchWorker struct {
	// Cursor is the worker's range.
	Cursor CursorConfig
	// Metadata is from the worker template's batch_config.
	Metadata BatchMetadata
	// NoOp marks the placeholder worker of a no_batches outcome: return
	// success without processing anything.
	NoOp bool
	// Template is the batch_worker template step the worker was made from.
	Template string
	// Checkpoint is the last saved checkpoint, if HasCheckpoint.
	Checkpoint    Checkpoint
	HasCheckpoint bool
}

// BatchWorker reads the step's batch worker inputs (the cursor range the
// orchestrator gave it) and its checkpoint. It returns ErrNotBatchWorker for
// other steps.
func (s *StepContext) BatchWorker() (BatchWorker, error) {
	in, ok, err := batch.ParseWorkerInputs(s.RawConfig())
	if err != nil {
		return BatchWorker{}, err
	}
	if !ok {
		return BatchWorker{}, ErrNotBatchWorker
	}
	w := BatchWorker{Cursor: in.Cursor, Metadata: in.BatchMetadata, NoOp: in.IsNoOp, Template: in.TemplateStepName}
	w.Checkpoint, w.HasCheckpoint = s.Checkpoint()
	return w, nil
}

// BatchID is the worker's batch id ("001", ...; "000" for the placeholder).
func (w BatchWorker) BatchID() string { return w.Cursor.BatchID }

// Start is the first cursor of the range as an integer (0 when the cursor
// is not an integer).
func (w BatchWorker) Start() int64 { return intCursor(w.Cursor.StartCursor) }

// End is the range's exclusive end cursor as an integer (0 when the cursor
// is not an integer).
func (w BatchWorker) End() int64 { return intCursor(w.Cursor.EndCursor) }

// Resume is where processing starts: the integer cursor of the last
// checkpoint when there is one (items before it were processed by an
// earlier run), Start otherwise.
func (w BatchWorker) Resume() int64 {
	if w.HasCheckpoint {
		if n, ok := parseInt(w.Checkpoint.Cursor); ok && n >= w.Start() {
			return n
		}
	}
	return w.Start()
}

// ItemsProcessed is the items_processed of the last checkpoint (0 without
// one).
func (w BatchWorker) ItemsProcessed() int64 {
	if !w.HasCheckpoint {
		return 0
	}
	return w.Checkpoint.ItemsProcessed
}

func intCursor(raw json.RawMessage) int64 {
	n, _ := parseInt(raw)
	return n
}

func parseInt(raw json.RawMessage) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	if err == nil {
		return n, true
	}
	var f float64
	if json.Unmarshal(raw, &f) == nil && f == float64(int64(f)) {
		return int64(f), true
	}
	return 0, false
}

// BatchResults returns, for a convergence step, the results of the batch
// workers made from workerTemplate among the step's ancestors (by worker
// name, {workerTemplate}_{batch_id}), and whether the batch was a
// no_batches one (only the placeholder worker ran). Each value is what
// the worker's handler returned.
func (s *StepContext) BatchResults(workerTemplate string) (results map[string]json.RawMessage, noBatches bool) {
	results = map[string]json.RawMessage{}
	prefix := workerTemplate + "_"
	for _, name := range s.DependencyNames() {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		v, _ := s.DependencyResult(name)
		results[name] = v
	}
	placeholder := batch.WorkerName(workerTemplate, batch.NoOpBatchID)
	_, hasPlaceholder := results[placeholder]
	return results, hasPlaceholder && len(results) == 1
}

// DecodeBatchResults decodes every worker result of BatchResults into a
// value of type T, by worker name.
func DecodeBatchResults[T any](s *StepContext, workerTemplate string) (map[string]T, bool, error) {
	raw, noBatches := s.BatchResults(workerTemplate)
	out := make(map[string]T, len(raw))
	for name, v := range raw {
		var t T
		if err := json.Unmarshal(v, &t); err != nil {
			return nil, noBatches, fmt.Errorf("decoding the result of batch worker %s: %w", name, err)
		}
		out[name] = t
	}
	return out, noBatches, nil
}
