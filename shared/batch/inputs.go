package batch

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/tasker-go/tasker/shared/template"
)

// Metadata is the part of a worker's batch_config it needs at run time.
// Parallelism bounds how many workers of the same batch run at once.
type Metadata struct {
	CursorField     string                   `json:"cursor_field"`
	FailureStrategy template.FailureStrategy `json:"failure_strategy"`
	Parallelism     int                      `json:"parallelism,omitempty"`
}

// WorkerInputs is what a batch worker instance finds in its step inputs
// besides its template's handler.initialization: its cursor range, its
// batch metadata, whether it is the no_batches placeholder (which must
// succeed without processing anything) and the batch_worker template step
// it was made from.
type WorkerInputs struct {
	Cursor           CursorConfig `json:"cursor"`
	BatchMetadata    Metadata     `json:"batch_metadata"`
	IsNoOp           bool         `json:"is_no_op"`
	TemplateStepName string       `json:"__template_step_name,omitempty"`
}

// Start is the range's first cursor as an integer (0 when it is not one).
func (w WorkerInputs) Start() int64 { return intCursor(w.Cursor.StartCursor) }

// End is the range's end cursor (exclusive) as an integer (0 when it is not
// one).
func (w WorkerInputs) End() int64 { return intCursor(w.Cursor.EndCursor) }

func intCursor(raw json.RawMessage) int64 {
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		var f float64
		if json.Unmarshal(raw, &f) == nil && f == float64(int64(f)) {
			return int64(f)
		}
		return 0
	}
	return n
}

// ParseWorkerInputs reads the batch part of a worker step's inputs. ok is
// false when the inputs carry no cursor (the step is not a batch worker).
func ParseWorkerInputs(inputs json.RawMessage) (w WorkerInputs, ok bool, err error) {
	var probe struct {
		Cursor json.RawMessage `json:"cursor"`
	}
	if len(inputs) == 0 || json.Unmarshal(inputs, &probe) != nil || len(probe.Cursor) == 0 || string(probe.Cursor) == "null" {
		return WorkerInputs{}, false, nil
	}
	if err := json.Unmarshal(inputs, &w); err != nil {
		return WorkerInputs{}, true, fmt.Errorf("reading batch worker inputs: %w", err)
	}
	return w, true, nil
}

// BuildWorkerInputs returns the inputs of a worker instance of def (a
// batch_worker template step): def's handler.initialization with the
// worker's cursor, batch_metadata, is_no_op and __template_step_name
// added.
func BuildWorkerInputs(def *template.Step, cursor CursorConfig, noOp bool) (json.RawMessage, error) {
	m := make(map[string]any, len(def.Handler.Initialization)+4)
	for k, v := range def.Handler.Initialization {
		m[k] = v
	}
	md := Metadata{CursorField: template.DefaultCursorField, FailureStrategy: template.DefaultFailureStrategy, Parallelism: template.DefaultBatchParallelism}
	if bc := def.BatchConfig; bc != nil {
		if bc.CursorField != "" {
			md.CursorField = bc.CursorField
		}
		if bc.FailureStrategy != "" {
			md.FailureStrategy = bc.FailureStrategy
		}
		if bc.Parallelism > 0 {
			md.Parallelism = bc.Parallelism
		}
	}
	if len(cursor.StartCursor) == 0 {
		cursor.StartCursor = json.RawMessage(`0`)
	}
	if len(cursor.EndCursor) == 0 {
		cursor.EndCursor = json.RawMessage(`0`)
	}
	m["cursor"] = cursor
	m["batch_metadata"] = md
	m["is_no_op"] = noOp
	m["__template_step_name"] = def.Name
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding inputs of a %s worker: %w", def.Name, err)
	}
	return b, nil
}

// NoOpCursor is the placeholder worker's range (0 to 0, no items).
func NoOpCursor() CursorConfig {
	return CursorConfig{BatchID: NoOpBatchID, StartCursor: json.RawMessage(`0`), EndCursor: json.RawMessage(`0`)}
}
