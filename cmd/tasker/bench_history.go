package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/internal/historyload"
)

// historyResult is the --history scenario: the same measurements with N
// finished steps of history in the database, beside the fresh database's.
type historyResult struct {
	historyload.Result
	Run *handlerRun `json:"run"`
}

// runHistory loads the history into the embedded system's schema and
// measures again with the first worker language.
func runHistory(ctx context.Context, out io.Writer, sys *benchSystem, c benchRunner, db *pgx.Conn, f benchFlags, lang string) (*historyResult, error) {
	if db == nil || sys == nil {
		return nil, errors.New("--history needs --embedded")
	}
	fmt.Fprintf(out, "loading %d finished steps of history (COPY)...\n", f.history)
	loaded, err := historyload.Load(ctx, db, sys.schema, f.history)
	if err != nil {
		return nil, fmt.Errorf("--%w", err)
	}
	h := &historyResult{Result: *loaded}
	fmt.Fprintf(out, "loaded %d tasks, %d steps in %.1f s\n", h.Tasks, h.Steps, h.LoadSeconds)
	if err := sys.startWorker(ctx, out, lang, f); err != nil {
		return nil, err
	}
	defer sys.stopWorker(out)
	h.Run, err = c(ctx)
	return h, err
}

// benchRunner measures the scenarios once.
type benchRunner func(ctx context.Context) (*handlerRun, error)

// printHistory prints the fresh and the history figures side by side.
func printHistory(out io.Writer, fresh *handlerRun, h *historyResult) {
	if h == nil || h.Run == nil || fresh == nil {
		return
	}
	fmt.Fprintf(out, "\nhistory: %d finished steps (%d tasks) loaded in %.1f s, not vacuumed or analysed "+
		"(the queue tables' dead rows are left to the engine's table vacuum)\n", h.Steps, h.Tasks, h.LoadSeconds)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measure\tfresh\twith history\tchange\t")
	row := func(name string, a, b float64) {
		change := "-"
		if a > 0 {
			change = fmt.Sprintf("%+.1f %%", 100*(b-a)/a)
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%s\t\n", name, a, b, change)
	}
	for _, sc := range latencyScenarios {
		a, b := fresh.Latency[sc.name], h.Run.Latency[sc.name]
		if a == nil || b == nil {
			continue
		}
		row(sc.name+" client p50 ms", a.ClientMS.P50, b.ClientMS.P50)
		if sc.name == "linear4" {
			row(sc.name+" client p99 ms", a.ClientMS.P99, b.ClientMS.P99)
			row(sc.name+" server p50 ms", a.ServerMS.P50, b.ServerMS.P50)
		}
	}
	if fresh.Creation != nil && h.Run.Creation != nil {
		row("task creation p99 ms", fresh.Creation.P99, h.Run.Creation.P99)
	}
	if fresh.Throughput != nil && h.Run.Throughput != nil {
		row("throughput steps/s", fresh.Throughput.StepsPerSec, h.Run.Throughput.StepsPerSec)
	}
	_ = tw.Flush()
}
