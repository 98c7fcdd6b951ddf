package native

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/tasker-go/tasker/worker"
)

// The products CSV analyzer (tasker-core's csv_product_inventory_analyzer):
// analyze_csv counts the data rows of csv_file_path and splits them into
// 1-based, half-open row ranges (batch_size 200, at most max_workers 5);
// each process_csv_batch_NNN worker reads its rows and computes the
// inventory value (price × stock), the products per category, the most
// expensive product and the average rating; aggregate_csv_results merges
// them.

// Callables of the products CSV handlers.
const (
	callableCsvAnalyzer   = "tasker_example_rs::step_handlers::batch_processing_products_csv::CsvAnalyzerHandler"
	callableCsvProcessor  = "tasker_example_rs::step_handlers::batch_processing_products_csv::CsvBatchProcessorHandler"
	callableCsvAggregator = "tasker_example_rs::step_handlers::batch_processing_products_csv::CsvResultsAggregatorHandler"
)

func registerBatchProducts(r *worker.Registry) error {
	return errors.Join(
		worker.Register(r, callableCsvAnalyzer, worker.Func(analyzeCSV)),
		worker.Register(r, callableCsvProcessor, worker.Func(processCSVBatch)),
		worker.Register(r, callableCsvAggregator, worker.Func(aggregateCSV)),
	)
}

type csvInput struct {
	CSVFilePath string `json:"csv_file_path"`
}

type csvAnalysis struct {
	worker.Batchable
	Reason          string `json:"reason,omitempty"`
	WorkerCount     int    `json:"worker_count"`
	ActualBatchSize int64  `json:"actual_batch_size,omitempty"`
	TotalRows       int64  `json:"total_rows"`
	CSVFilePath     string `json:"csv_file_path"`
}

// analyzeCSV counts the file's data rows (lines after the header).
func analyzeCSV(_ context.Context, step *worker.Step[csvInput]) (csvAnalysis, error) {
	path := step.Input.CSVFilePath
	if path == "" {
		return csvAnalysis{}, invalid("csv_file_path is required")
	}
	cfg, err := worker.Config[analyzerConfig](step)
	if err != nil {
		return csvAnalysis{}, err
	}
	size, workers, err := cfg.sizes(200, 5)
	if err != nil {
		return csvAnalysis{}, err
	}
	rows, err := countDataRows(path)
	if err != nil {
		return csvAnalysis{}, err
	}
	out := csvAnalysis{TotalRows: rows, CSVFilePath: path}
	cursors := worker.PlanBatches(rows, size, workers, 1)
	if cursors == nil {
		out.Outcome, out.Reason = worker.NoBatches(), "dataset_too_small"
		return out, nil
	}
	tpl := cfg.WorkerTemplateName
	if tpl == "" {
		tpl = "process_csv_batch"
	}
	out.Outcome, out.WorkerCount, out.ActualBatchSize = worker.CreateBatches(tpl, cursors, rows), len(cursors), cursors[0].BatchSize
	return out, nil
}

func countDataRows(path string) (int64, error) {
	f, err := os.Open(path) //nolint:gosec // the path is the task's input by design (tasker-core's example reads it the same way)
	if err != nil {
		return 0, invalid("opening csv_file_path: %v", err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	var lines int64
	for sc.Scan() {
		lines++
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	return max(lines-1, 0), nil
}

// csvBatchResult is a process_csv_batch worker's result.
type csvBatchResult struct {
	NoOp                bool             `json:"no_op,omitempty"`
	BatchID             string           `json:"batch_id"`
	ProcessedCount      int64            `json:"processed_count"`
	TotalInventoryValue float64          `json:"total_inventory_value"`
	CategoryCounts      map[string]int64 `json:"category_counts"`
	MaxPrice            float64          `json:"max_price"`
	MaxPriceProduct     *string          `json:"max_price_product"`
	AverageRating       float64          `json:"average_rating"`
	StartRow            int64            `json:"start_row"`
	EndRow              int64            `json:"end_row"`
}

// processCSVBatch reads the data rows [start, end) of the file analyze_csv
// counted.
func processCSVBatch(_ context.Context, step *worker.Step[struct{}]) (csvBatchResult, error) {
	w, err := step.BatchWorker()
	if err != nil {
		return csvBatchResult{}, worker.Permanent(err)
	}
	if w.NoOp {
		return csvBatchResult{NoOp: true, BatchID: w.BatchID(), CategoryCounts: map[string]int64{}}, nil
	}
	a, err := worker.Dependency[csvAnalysis](step, "analyze_csv")
	if err != nil || a.CSVFilePath == "" {
		return csvBatchResult{}, brokenDependency(fmt.Errorf("missing csv_file_path from analyze_csv: %v", err))
	}
	f, err := os.Open(a.CSVFilePath)
	if err != nil {
		return csvBatchResult{}, invalid("opening %s: %v", a.CSVFilePath, err)
	}
	defer func() { _ = f.Close() }()
	out := csvBatchResult{BatchID: w.BatchID(), CategoryCounts: map[string]int64{}, StartRow: w.Start(), EndRow: w.End()}
	r := csv.NewReader(bufio.NewReader(f))
	header, err := r.Read()
	if err != nil {
		return csvBatchResult{}, invalid("reading the header of %s: %v", a.CSVFilePath, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for _, need := range []string{"title", "category", "price", "rating", "stock"} {
		if _, ok := col[need]; !ok {
			return csvBatchResult{}, invalid("%s has no %q column", a.CSVFilePath, need)
		}
	}
	var ratings float64
	for row := int64(1); row < w.End(); row++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return csvBatchResult{}, invalid("reading row %d of %s: %v", row, a.CSVFilePath, err)
		}
		if row < w.Start() {
			continue
		}
		price, err1 := strconv.ParseFloat(rec[col["price"]], 64)
		rating, err2 := strconv.ParseFloat(rec[col["rating"]], 64)
		stock, err3 := strconv.ParseFloat(rec[col["stock"]], 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return csvBatchResult{}, invalid("row %d of %s: %v", row, a.CSVFilePath, err)
		}
		out.TotalInventoryValue += price * stock
		out.CategoryCounts[rec[col["category"]]]++
		if price > out.MaxPrice {
			title := rec[col["title"]]
			out.MaxPrice, out.MaxPriceProduct = price, &title
		}
		ratings += rating
		out.ProcessedCount++
	}
	if out.ProcessedCount > 0 {
		out.AverageRating = ratings / float64(out.ProcessedCount)
	}
	step.SetMetadata("batch_id", w.BatchID())
	return out, nil
}

// csvAggregate is aggregate_csv_results' result.
type csvAggregate struct {
	TotalProcessed      int64            `json:"total_processed"`
	TotalInventoryValue float64          `json:"total_inventory_value"`
	CategoryCounts      map[string]int64 `json:"category_counts"`
	MaxPrice            float64          `json:"max_price"`
	MaxPriceProduct     *string          `json:"max_price_product"`
	OverallAvgRating    float64          `json:"overall_average_rating"`
	WorkerCount         int              `json:"worker_count"`
}

func aggregateCSV(_ context.Context, step *worker.Step[struct{}]) (csvAggregate, error) {
	results, noBatches, err := worker.DecodeBatchResults[csvBatchResult](step.StepContext, workerTemplateOf(step, "process_csv_batch"))
	if err != nil {
		return csvAggregate{}, brokenDependency(err)
	}
	out := csvAggregate{CategoryCounts: map[string]int64{}}
	if noBatches {
		if a, err := worker.Dependency[csvAnalysis](step, "analyze_csv"); err == nil {
			out.TotalProcessed = a.TotalRows
		}
		return out, nil
	}
	var ratingSum float64
	for _, r := range results {
		out.TotalProcessed += r.ProcessedCount
		out.TotalInventoryValue += r.TotalInventoryValue
		for c, n := range r.CategoryCounts {
			out.CategoryCounts[c] += n
		}
		ratingSum += r.AverageRating * float64(r.ProcessedCount)
		if r.MaxPrice > out.MaxPrice {
			out.MaxPrice, out.MaxPriceProduct = r.MaxPrice, r.MaxPriceProduct
		}
	}
	if out.TotalProcessed > 0 {
		out.OverallAvgRating = ratingSum / float64(out.TotalProcessed)
	}
	out.WorkerCount = len(results)
	return out, nil
}
