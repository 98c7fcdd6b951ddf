package batch

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/shared/template"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPlanFollowsTaskerCoreSemantics(t *testing.T) {
	// The products CSV: 1000 data rows, batch_size 200, max_workers 5,
	// 1-based rows.
	csv := Plan(1000, 200, 5, 1)
	require.Len(t, csv, 5)
	for i, c := range csv {
		require.Equal(t, ID(i+1), c.BatchID)
		require.Equal(t, int64(200), c.BatchSize)
		require.JSONEq(t, itoa(int64(i)*200+1), string(c.StartCursor))
		require.JSONEq(t, itoa(int64(i+1)*200+1), string(c.EndCursor))
	}
	// 5000 items, batch 1000, at most 10 workers: 5 workers of 1000.
	require.Len(t, Plan(5000, 1000, 10, 0), 5)
	// Capped by max workers: 1500 items in batches of 100 with at most 4
	// workers are 4 ranges of 375.
	capped := Plan(1500, 100, 4, 0)
	require.Len(t, capped, 4)
	require.Equal(t, int64(375), capped[0].BatchSize)
	require.JSONEq(t, `1500`, string(capped[3].EndCursor))
	// Uneven: 7 items in batches of 2: 4 workers, the last holding 1.
	uneven := Plan(7, 2, 10, 0)
	require.Len(t, uneven, 4)
	require.Equal(t, int64(1), uneven[3].BatchSize)
	require.JSONEq(t, `6`, string(uneven[3].StartCursor))
	// Too small, or empty: no batches.
	require.Nil(t, Plan(50, 1000, 10, 0))
	require.Nil(t, Plan(0, 1, 10, 0))
	// Degenerate sizes count as 1.
	require.Len(t, Plan(3, 0, 0, 0), 1)
	require.Equal(t, "1000", ID(1000))
	require.Equal(t, "process_batch_007", WorkerName("process_batch", ID(7)))
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestOutcomeJSONShape(t *testing.T) {
	b, err := json.Marshal(NoBatches())
	require.NoError(t, err)
	require.JSONEq(t, `{"type":"no_batches"}`, string(b))

	o := CreateBatches("process_batch", Plan(4, 2, 10, 0), 4)
	b, err = json.Marshal(o)
	require.NoError(t, err)
	require.JSONEq(t, `{"type":"create_batches","worker_template_name":"process_batch","worker_count":2,"total_items":4,
		"cursor_configs":[{"batch_id":"001","start_cursor":0,"end_cursor":2,"batch_size":2},
		{"batch_id":"002","start_cursor":2,"end_cursor":4,"batch_size":2}]}`, string(b))
}

func TestFromResult(t *testing.T) {
	o, ok, err := FromResult(json.RawMessage(`{"batch_processing_outcome":{"type":"create_batches","worker_template_name":"w",
		"worker_count":1,"cursor_configs":[{"batch_id":"001","start_cursor":"2025-01-01","end_cursor":"2025-02-01","batch_size":31}],
		"total_items":31},"other":1}`))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "w", o.WorkerTemplateName)
	require.JSONEq(t, `"2025-01-01"`, string(o.CursorConfigs[0].StartCursor))

	for _, raw := range []string{``, `null`, `42`, `{"x":1}`, `{"batch_processing_outcome":null}`} {
		_, ok, err := FromResult(json.RawMessage(raw))
		require.NoError(t, err, raw)
		require.False(t, ok, raw)
	}
	bad := map[string]string{
		`{"batch_processing_outcome":{"type":"some"}}`:                                                                                               "type must be",
		`{"batch_processing_outcome":{"type":"create_batches","cursor_configs":[]}}`:                                                                 "worker_template_name",
		`{"batch_processing_outcome":{"type":"create_batches","worker_template_name":"w"}}`:                                                          "at least one",
		`{"batch_processing_outcome":"create"}`:                                                                                                      "invalid",
		`{"batch_processing_outcome":{"type":"create_batches","worker_template_name":"w","worker_count":2,"cursor_configs":[{"batch_id":"001"}]}}`:   "worker_count 2",
		`{"batch_processing_outcome":{"type":"create_batches","worker_template_name":"w","cursor_configs":[{"batch_id":"001"},{"batch_id":"001"}]}}`: "appears twice",
		`{"batch_processing_outcome":{"type":"create_batches","worker_template_name":"w","cursor_configs":[{"batch_id":""}]}}`:                       "no batch_id",
		`{"batch_processing_outcome":{"type":"create_batches","worker_template_name":"w","cursor_configs":[{"batch_id":"000"}]}}`:                    "reserved",
	}
	for raw, want := range bad {
		_, ok, err := FromResult(json.RawMessage(raw))
		require.True(t, ok, raw)
		require.ErrorIs(t, err, ErrInvalidOutcome, raw)
		require.ErrorContains(t, err, want, raw)
	}
}

func TestWorkerInputs(t *testing.T) {
	def := &template.Step{Name: "process_batch", Type: template.StepBatchWorker,
		Handler:     template.Handler{Initialization: map[string]any{"operation": "transform"}},
		BatchConfig: &template.BatchConfig{CursorField: "row_number", FailureStrategy: template.FailureFailFast, Parallelism: 3}}
	raw, err := BuildWorkerInputs(def, Plan(10, 5, 2, 0)[1], false)
	require.NoError(t, err)
	require.JSONEq(t, `{"operation":"transform","is_no_op":false,"__template_step_name":"process_batch",
		"cursor":{"batch_id":"002","start_cursor":5,"end_cursor":10,"batch_size":5},
		"batch_metadata":{"cursor_field":"row_number","failure_strategy":"fail_fast","parallelism":3}}`, string(raw))
	w, ok, err := ParseWorkerInputs(raw)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(5), w.Start())
	require.Equal(t, int64(10), w.End())
	require.Equal(t, template.FailureFailFast, w.BatchMetadata.FailureStrategy)

	noop, err := BuildWorkerInputs(&template.Step{Name: "w"}, NoOpCursor(), true)
	require.NoError(t, err)
	w, ok, err = ParseWorkerInputs(noop)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, w.IsNoOp)
	require.Equal(t, "000", w.Cursor.BatchID)
	require.Equal(t, template.DefaultFailureStrategy, w.BatchMetadata.FailureStrategy)

	_, ok, err = ParseWorkerInputs(json.RawMessage(`{"operation":"x"}`))
	require.NoError(t, err)
	require.False(t, ok)
	_, ok, err = ParseWorkerInputs(json.RawMessage(`{"cursor":{"batch_id":7}}`))
	require.True(t, ok)
	require.Error(t, err)
}
