package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/internal/historyload"
	"github.com/tasker-go/tasker/shared/config"
)

// historyResult is the --history scenario: the same measurements with N
// finished steps of history in the database, beside the fresh database's.
type historyResult struct {
	historyload.Result
	// Checkpointed says the load was flushed by a CHECKPOINT before the
	// scenarios ran.
	Checkpointed bool `json:"checkpointed"`
	// CaughtUp says the engine's table vacuum and statistics keeper passed
	// over the loaded tables (within CatchUpSeconds) before the scenarios
	// ran.
	CaughtUp       bool        `json:"caught_up"`
	CatchUpSeconds float64     `json:"catch_up_seconds"`
	Run            *handlerRun `json:"run"`
}

// historyCatchUpLimit bounds the wait for the engine's first pass over a
// loaded history.
const historyCatchUpLimit = 2 * time.Minute

// catchUp are the thresholds of the engine's loops that keep the tables in
// shape (orchestration.statistics and orchestration.vacuum); a disabled
// loop is not waited for.
type catchUp struct {
	stats  config.Statistics
	vacuum config.Vacuum
}

// waitForCatchUp waits until no table the load wrote is one the engine
// would still analyse, and no queue table it left dead rows in one it would
// still vacuum (by the loops' own thresholds), or until limit. It reports
// how long it waited and whether the tables got there.
func waitForCatchUp(ctx context.Context, db *pgx.Conn, schema string, rows map[string]int64, th catchUp,
	limit time.Duration) (float64, bool, error) {
	var analyse, vacuum []string
	for name := range rows {
		if t, ok := strings.CutSuffix(name, " (dead)"); ok {
			if th.vacuum.Enabled {
				vacuum = append(vacuum, t)
			}
		} else if th.stats.Enabled {
			analyse = append(analyse, name)
		}
	}
	// The load's counters reach pg_stat_user_tables when its session
	// flushes them (PostgreSQL 15: about a second later, unless forced).
	_, _ = db.Exec(ctx, "SELECT pg_stat_force_next_flush()")
	began := time.Now()
	for {
		var waiting int
		err := db.QueryRow(ctx, `SELECT count(*) FROM pg_stat_user_tables
			WHERE schemaname = $1 AND (
				(relname = ANY($2) AND n_mod_since_analyze > GREATEST($4::float8, $5::float8 * n_live_tup))
				OR (relname = ANY($3) AND n_dead_tup > GREATEST($6::float8, $7::float8 * n_live_tup)))`,
			schema, analyse, vacuum, th.stats.MinChanges, th.stats.ChangeFraction,
			th.vacuum.MinDeadRows, th.vacuum.DeadFraction).Scan(&waiting)
		if err != nil {
			return 0, false, fmt.Errorf("--history: reading table statistics: %w", err)
		}
		took := time.Since(began).Seconds()
		if waiting == 0 {
			return took, true, nil
		}
		if time.Since(began) >= limit {
			return took, false, nil
		}
		select {
		case <-ctx.Done():
			return took, false, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
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
	// The load leaves its pages dirty and its WAL past max_wal_size: the
	// checkpoint PostgreSQL starts for it would flush them while the
	// scenarios run, and every page first touched after it costs a full
	// page image. A database that grew its history over months has neither;
	// the bench flushes them first (CHECKPOINT needs superuser or
	// pg_checkpoint; without it the figures include the flush).
	if _, err := db.Exec(ctx, "CHECKPOINT"); err != nil {
		fmt.Fprintf(out, "CHECKPOINT after the load failed (%v): the figures include flushing the load\n", err)
	} else {
		h.Checkpointed = true
	}
	if err := sys.startWorker(ctx, out, lang, f); err != nil {
		return nil, err
	}
	defer sys.stopWorker(out)
	// A history that grew over months was vacuumed and analysed by the
	// engine as it grew; one written in a minute has all its dead queue
	// rows and stale statistics at once. The scenarios wait for the
	// engine's own table vacuum and statistics keeper to catch up with it
	// (nothing is vacuumed or analysed by the bench).
	h.CatchUpSeconds, h.CaughtUp, err = waitForCatchUp(ctx, db, sys.schema, loaded.Rows, sys.catchUp, historyCatchUpLimit)
	if err != nil {
		return nil, err
	}
	if h.CaughtUp {
		fmt.Fprintf(out, "the engine's table vacuum and statistics keeper caught up with the load in %.1f s\n", h.CatchUpSeconds)
	} else {
		fmt.Fprintf(out, "the engine's table vacuum and statistics keeper had not caught up with the load after %.0f s: measuring anyway\n", h.CatchUpSeconds)
	}
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
	flushed := "not checkpointed"
	if h.Checkpointed {
		flushed = "checkpointed"
	}
	passed := fmt.Sprintf("the engine's vacuum and statistics keeper caught up with it in %.1f s", h.CatchUpSeconds)
	if !h.CaughtUp {
		passed = fmt.Sprintf("measured before the engine's vacuum and statistics keeper caught up with it (%.0f s)", h.CatchUpSeconds)
	}
	fmt.Fprintf(out, "\nhistory: %d finished steps (%d tasks) loaded in %.1f s, %s, not vacuumed or analysed by the bench; %s\n",
		h.Steps, h.Tasks, h.LoadSeconds, flushed, passed)
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
