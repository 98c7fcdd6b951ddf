// Package batch defines batch processing's wire shapes, shared by the
// handlers that produce them and the orchestration that acts on them: the
// outcome a batchable step returns (no batches, or N cursor ranges), the
// inputs each batch worker instance receives, and the planning of cursor
// ranges from a data set's size (docs/templates.md, "Batch steps").
package batch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Outcome types, the "type" field of a batch_processing_outcome.
const (
	TypeNoBatches     = "no_batches"
	TypeCreateBatches = "create_batches"
)

// ResultField is the field of a batchable handler's result that holds its
// Outcome.
const ResultField = "batch_processing_outcome"

// NoOpBatchID is the batch id of the placeholder worker a no_batches
// outcome creates.
const NoOpBatchID = "000"

// MaxWorkers bounds the workers one outcome may create.
const MaxWorkers = 100_000

// ErrInvalidOutcome marks an outcome orchestration cannot act on.
var ErrInvalidOutcome = errors.New("invalid batch_processing_outcome")

// CursorConfig is one batch worker's range: items from StartCursor
// (inclusive) to EndCursor (exclusive). Cursors are any JSON (numbers,
// timestamps, composite keys); BatchSize is the number of items in the
// range, for progress reporting.
type CursorConfig struct {
	BatchID     string          `json:"batch_id"`
	StartCursor json.RawMessage `json:"start_cursor"`
	EndCursor   json.RawMessage `json:"end_cursor"`
	BatchSize   int64           `json:"batch_size"`
}

// Outcome is what a batchable step decided: no batches, or one worker per
// cursor config, instantiated from the batch_worker template step
// WorkerTemplateName.
type Outcome struct {
	Type               string         `json:"type"`
	WorkerTemplateName string         `json:"worker_template_name,omitempty"`
	WorkerCount        int            `json:"worker_count,omitempty"`
	CursorConfigs      []CursorConfig `json:"cursor_configs,omitempty"`
	TotalItems         int64          `json:"total_items,omitempty"`
}

// NoBatches is the outcome of a batchable step with nothing to split: the
// orchestrator still creates one placeholder worker (is_no_op true) and the
// convergence step, so the graph has the same shape either way.
func NoBatches() Outcome { return Outcome{Type: TypeNoBatches} }

// CreateBatches is the outcome that creates one worker of workerTemplate
// per cursor config; totalItems is reported for observability.
func CreateBatches(workerTemplate string, cursors []CursorConfig, totalItems int64) Outcome {
	return Outcome{Type: TypeCreateBatches, WorkerTemplateName: workerTemplate, WorkerCount: len(cursors),
		CursorConfigs: cursors, TotalItems: totalItems}
}

// Validate checks an outcome's shape: a known type; for create_batches a
// worker template, at least one and at most MaxWorkers cursor configs
// (worker_count, when given, equal to their number), and batch ids that
// are non-empty, unique and short enough to name a step.
func (o Outcome) Validate() error {
	switch o.Type {
	case TypeNoBatches:
		return nil
	case TypeCreateBatches:
	default:
		return fmt.Errorf("%w: type must be %s or %s (got %q)", ErrInvalidOutcome, TypeNoBatches, TypeCreateBatches, o.Type)
	}
	if o.WorkerTemplateName == "" {
		return fmt.Errorf("%w: create_batches needs worker_template_name", ErrInvalidOutcome)
	}
	n := len(o.CursorConfigs)
	if n == 0 {
		return fmt.Errorf("%w: create_batches needs at least one cursor config", ErrInvalidOutcome)
	}
	if n > MaxWorkers {
		return fmt.Errorf("%w: %d cursor configs exceed the limit of %d workers", ErrInvalidOutcome, n, MaxWorkers)
	}
	if o.WorkerCount != 0 && o.WorkerCount != n {
		return fmt.Errorf("%w: worker_count %d does not match the %d cursor configs", ErrInvalidOutcome, o.WorkerCount, n)
	}
	seen := make(map[string]bool, n)
	for i, c := range o.CursorConfigs {
		switch {
		case c.BatchID == "":
			return fmt.Errorf("%w: cursor_configs[%d] has no batch_id", ErrInvalidOutcome, i)
		case len(c.BatchID) > 32:
			return fmt.Errorf("%w: cursor_configs[%d].batch_id is longer than 32 characters", ErrInvalidOutcome, i)
		case seen[c.BatchID]:
			return fmt.Errorf("%w: batch_id %q appears twice", ErrInvalidOutcome, c.BatchID)
		case c.BatchID == NoOpBatchID:
			return fmt.Errorf("%w: batch_id %q is reserved for the no_batches placeholder", ErrInvalidOutcome, NoOpBatchID)
		}
		seen[c.BatchID] = true
	}
	return nil
}

// FromResult extracts the outcome from a batchable handler's result value
// (the "result" of its step execution result). ok is false when the result
// carries no batch_processing_outcome; err reports one that does not decode
// or validate.
func FromResult(result json.RawMessage) (o Outcome, ok bool, err error) {
	var holder map[string]json.RawMessage
	if len(bytes.TrimSpace(result)) == 0 || json.Unmarshal(result, &holder) != nil {
		return Outcome{}, false, nil
	}
	raw, found := holder[ResultField]
	if !found || string(raw) == "null" {
		return Outcome{}, false, nil
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return Outcome{}, true, fmt.Errorf("%w: %v", ErrInvalidOutcome, err)
	}
	if err := o.Validate(); err != nil {
		return Outcome{}, true, err
	}
	return o, true, nil
}

// Plan splits total items into cursor ranges the way tasker-core's example
// handlers do: ceil(total/batchSize) workers, at most maxWorkers; each
// range holds ceil(total/workers) items (the last one the rest); cursors
// are integer offsets starting at first (0 for ids, 1 for 1-based rows);
// batch ids are "001", "002", .... It returns nil when total is 0 or less
// than batchSize: such a data set gets NoBatches. batchSize and maxWorkers
// below 1 count as 1.
func Plan(total int64, batchSize, maxWorkers int, first int64) []CursorConfig {
	batchSize, maxWorkers = max(batchSize, 1), max(maxWorkers, 1)
	if total <= 0 || total < int64(batchSize) {
		return nil
	}
	workers := min((total+int64(batchSize)-1)/int64(batchSize), int64(maxWorkers))
	per := (total + workers - 1) / workers
	out := make([]CursorConfig, 0, workers)
	for i := range workers {
		start, end := i*per, min((i+1)*per, total)
		if start >= end {
			break
		}
		out = append(out, CursorConfig{
			BatchID:     ID(int(i) + 1),
			StartCursor: json.RawMessage(strconv.FormatInt(start+first, 10)),
			EndCursor:   json.RawMessage(strconv.FormatInt(end+first, 10)),
			BatchSize:   end - start,
		})
	}
	return out
}

// ID is the batch id of the n-th batch (1-based): zero-padded to three
// digits, longer beyond 999.
func ID(n int) string { return fmt.Sprintf("%03d", n) }

// WorkerName is the name of the worker instance of template for batchID:
// "{template}_{batch_id}".
func WorkerName(template, batchID string) string { return template + "_" + batchID }
