package native

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/batch"
	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/workertest"
)

// runBatch plays the orchestrator for a batch workflow in memory: it runs
// the batchable step, builds each worker's inputs from the outcome as
// orchestration does, runs the workers, and runs the convergence step on
// their results. It returns the workers' results by name and the
// convergence step's result.
func runBatch(t *testing.T, rel, batchable, convergence string, ctx any) (map[string]map[string]any, map[string]any) {
	t.Helper()
	tpl := fixture(t, rel)
	def, ok := tpl.Step(batchable)
	require.True(t, ok)
	b := workertest.NewStep(batchable).WithContext(ctx).WithConfig(def.Handler.Initialization)
	res := workertest.Execute(handler(t, def.Handler.Callable), b)
	raw, err := workertest.Value(res)
	require.NoError(t, err, res.Message())
	o, found, err := batch.FromResult(raw)
	require.NoError(t, err)
	require.True(t, found)
	var analysis any
	require.NoError(t, json.Unmarshal(raw, &analysis))

	tplName, cursors, noOp := o.WorkerTemplateName, o.CursorConfigs, false
	if o.Type == batch.TypeNoBatches {
		wt := def.Handler.Initialization["worker_template_name"].(string)
		tplName, cursors, noOp = wt, []batch.CursorConfig{batch.NoOpCursor()}, true
	}
	wdef, ok := tpl.Step(tplName)
	require.True(t, ok)
	agg := workertest.NewStep(convergence).WithContext(ctx).WithDependency(batchable, analysis)
	workers := map[string]map[string]any{}
	for _, c := range cursors {
		inputs, err := batch.BuildWorkerInputs(wdef, c, noOp)
		require.NoError(t, err)
		name := batch.WorkerName(tplName, c.BatchID)
		r := workertest.Execute(handler(t, wdef.Handler.Callable),
			workertest.NewStep(name).WithContext(ctx).WithConfig(json.RawMessage(inputs)).WithDependency(batchable, analysis))
		workers[name] = valueOf(t, r)
		agg.WithDependency(name, workers[name])
	}
	cdef, ok := tpl.Step(convergence)
	require.True(t, ok)
	return workers, valueOf(t, workertest.Execute(handler(t, cdef.Handler.Callable), agg.WithConfig(cdef.Handler.Initialization)))
}

func TestProductsCSVBatches(t *testing.T) {
	requireFixtures(t)
	path, err := filepath.Abs(filepath.Join(fixturesDir, "..", "products.csv"))
	require.NoError(t, err)
	// The expected figures, computed here from the whole file.
	f, err := os.Open(path)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	var value float64
	cats := map[string]int64{}
	for _, r := range rows[1:] {
		price, _ := strconv.ParseFloat(r[4], 64)
		stock, _ := strconv.ParseFloat(r[7], 64)
		value += price * stock
		cats[r[3]]++
	}

	workers, agg := runBatch(t, "rust/batch_processing_products_csv.yaml", "analyze_csv", "aggregate_csv_results",
		map[string]any{"csv_file_path": path})
	require.Len(t, workers, 5)
	for i := 1; i <= 5; i++ {
		w := workers[batch.WorkerName("process_csv_batch", batch.ID(i))]
		require.Equal(t, json.Number("200"), w["processed_count"])
		require.Equal(t, json.Number(strconv.Itoa((i-1)*200+1)), w["start_row"])
	}
	require.Equal(t, json.Number("1000"), agg["total_processed"])
	require.Equal(t, json.Number("5"), agg["worker_count"])
	got, err := agg["total_inventory_value"].(json.Number).Float64()
	require.NoError(t, err)
	require.InDelta(t, value, got, 0.01)
	gotCats := map[string]int64{}
	for c, n := range agg["category_counts"].(map[string]any) {
		v, err := n.(json.Number).Int64()
		require.NoError(t, err)
		gotCats[c] = v
	}
	require.Equal(t, cats, gotCats)

	// An empty file has no batches: one placeholder worker.
	empty, err := filepath.Abs(filepath.Join(fixturesDir, "..", "products_empty.csv"))
	require.NoError(t, err)
	workers, agg = runBatch(t, "rust/batch_processing_products_csv.yaml", "analyze_csv", "aggregate_csv_results",
		map[string]any{"csv_file_path": empty})
	require.Len(t, workers, 1)
	require.Equal(t, true, workers["process_csv_batch_000"]["no_op"])
	require.Equal(t, json.Number("0"), agg["total_processed"])
}

func TestDatasetBatches(t *testing.T) {
	for _, tc := range []struct {
		size    int
		workers int
	}{{5000, 5}, {1500, 2}, {20000, 10}, {500, 1}} {
		workers, agg := runBatch(t, "rust/batch_processing_example.yaml", "analyze_dataset", "aggregate_results",
			map[string]any{"dataset_size": tc.size})
		require.Len(t, workers, tc.workers, "size %d", tc.size)
		require.Equal(t, json.Number(strconv.Itoa(tc.size)), agg["total_processed"], "size %d", tc.size)
		require.Equal(t, true, agg["validation_passed"])
	}
	_, err := workertest.Run(worker.Func(analyzeDataset), workertest.NewStep("analyze_dataset").WithContext(map[string]any{}))
	require.ErrorContains(t, err, "dataset_size is required")
}

func TestCheckpointYieldSingleRun(t *testing.T) {
	workers, agg := runBatch(t, "ruby/checkpoint_yield_test.yaml", "analyze_items", "aggregate_results",
		map[string]any{"total_items": 10, "items_per_checkpoint": 100})
	require.Len(t, workers, 1)
	require.Equal(t, json.Number("10"), agg["total_processed"])
	require.Equal(t, json.Number("55"), agg["running_total"], "items 1..10")
	require.Equal(t, json.Number("10"), agg["item_count"])

	workers, agg = runBatch(t, "ruby/checkpoint_yield_test.yaml", "analyze_items", "aggregate_results",
		map[string]any{"total_items": 0})
	require.Len(t, workers, 1)
	require.Equal(t, "no_batches", agg["scenario"])
}
