package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The stages of a step's latency, in the order a step passes them. Each
// boundary is a timestamp the system writes anyway: the step's transition
// rows (clock_timestamp() when the row is written, inside its transaction,
// so a commit's cost lands in the stage that follows it), and the handler's
// start and end from the result's metadata.
const (
	stageToEnqueued   = "to enqueued"        // step 1: client's POST → enqueued; later steps: parent processed → enqueued
	stageToClaimed    = "enqueued → claim"   // enqueued → in_progress (the worker's claim)
	stageToStart      = "claim → handler"    // in_progress → handler started
	stageHandler      = "handler runs"       // handler started → handler ended
	stageToResult     = "handler → result"   // handler ended → result written (enqueued_for_orchestration)
	stageToProcessed  = "result → processed" // result written → step complete
	stageToClientSeen = "processed → client" // last step complete → the client's event stream ends
	stageCreate       = "API → committed"    // the client's POST /v1/tasks, until it returns (the task committed)
)

var stageOrder = []string{stageToEnqueued, stageToClaimed, stageToStart, stageHandler, stageToResult, stageToProcessed}

// stageBreakdown is linear 4's latency split per step and stage: the
// median over the measured tasks of each step's time in each stage.
type stageBreakdown struct {
	Tasks int `json:"tasks"`
	// Steps are the steps in order (step names); P50MS[stage][i] is the
	// median of step i in that stage, in ms (absent: no samples).
	Steps []string              `json:"steps"`
	P50MS map[string][]*float64 `json:"p50_ms"`
	Tail  map[string]float64    `json:"tail_p50_ms"` // after the last step: processed → client
	raw   map[string]map[int][]time.Duration
}

// taskTiming is one measured task: when the client started it and when its
// event stream said it ended.
type taskTiming struct {
	id         uuid.UUID
	start, end time.Time
	created    time.Duration // the POST's round trip
}

// stepTimes are one step's boundaries, read from the database.
type stepTimes struct {
	task                                   uuid.UUID
	name                                   string
	enqueued, claimed, resulted, processed *time.Time
	handlerStart, handlerEnd               *time.Time
}

// stageSQL reads the boundaries of every step of the given tasks: the last
// time it reached each state (the last attempt), and the handler's start
// and end from its stored result.
const stageSQL = `SELECT s.task_uuid, s.name,
	max(tr.created_at) FILTER (WHERE tr.to_state = 'enqueued'),
	max(tr.created_at) FILTER (WHERE tr.to_state = 'in_progress'),
	max(tr.created_at) FILTER (WHERE tr.to_state = 'enqueued_for_orchestration'),
	max(tr.created_at) FILTER (WHERE tr.to_state = 'complete'),
	(s.results -> 'metadata' ->> 'started_at')::timestamptz,
	(s.results -> 'metadata' ->> 'completed_at')::timestamptz
FROM %[1]s.workflow_steps s JOIN %[1]s.workflow_step_transitions tr ON tr.workflow_step_uuid = s.workflow_step_uuid
WHERE s.task_uuid = ANY($1)
GROUP BY s.workflow_step_uuid, s.task_uuid, s.name`

// readStages reads the step boundaries of tasks from schema and computes
// the breakdown.
func readStages(ctx context.Context, db *pgx.Conn, schema string, tasks []taskTiming) (*stageBreakdown, error) {
	if db == nil || schema == "" || len(tasks) == 0 {
		return nil, nil
	}
	ids := make([]uuid.UUID, len(tasks))
	for i, t := range tasks {
		ids[i] = t.id
	}
	rows, err := db.Query(ctx, fmt.Sprintf(stageSQL, pgx.Identifier{schema}.Sanitize()), ids)
	if err != nil {
		return nil, fmt.Errorf("reading the step history: %w", err)
	}
	steps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (stepTimes, error) {
		var s stepTimes
		err := r.Scan(&s.task, &s.name, &s.enqueued, &s.claimed, &s.resulted, &s.processed, &s.handlerStart, &s.handlerEnd)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the step history: %w", err)
	}
	return breakdown(tasks, steps), nil
}

// breakdown orders each task's steps by when they were enqueued and
// measures every stage of every step.
func breakdown(tasks []taskTiming, steps []stepTimes) *stageBreakdown {
	byTask := map[uuid.UUID][]stepTimes{}
	for _, s := range steps {
		if s.enqueued != nil {
			byTask[s.task] = append(byTask[s.task], s)
		}
	}
	b := &stageBreakdown{P50MS: map[string][]*float64{}, Tail: map[string]float64{},
		raw: map[string]map[int][]time.Duration{}}
	add := func(stage string, i int, from, to *time.Time) {
		if from == nil || to == nil {
			return
		}
		if b.raw[stage] == nil {
			b.raw[stage] = map[int][]time.Duration{}
		}
		b.raw[stage][i] = append(b.raw[stage][i], to.Sub(*from))
	}
	var tails, creates []time.Duration
	for _, t := range tasks {
		ss := byTask[t.id]
		if len(ss) == 0 {
			continue
		}
		b.Tasks++
		if t.created > 0 {
			creates = append(creates, t.created)
		}
		sort.Slice(ss, func(i, j int) bool { return ss[i].enqueued.Before(*ss[j].enqueued) })
		for i, s := range ss {
			if i >= len(b.Steps) {
				b.Steps = append(b.Steps, s.name)
			}
			if i == 0 {
				start := t.start
				add(stageToEnqueued, i, &start, s.enqueued)
			} else {
				add(stageToEnqueued, i, ss[i-1].processed, s.enqueued)
			}
			add(stageToClaimed, i, s.enqueued, s.claimed)
			add(stageToStart, i, s.claimed, s.handlerStart)
			add(stageHandler, i, s.handlerStart, s.handlerEnd)
			add(stageToResult, i, s.handlerEnd, s.resulted)
			add(stageToProcessed, i, s.resulted, s.processed)
		}
		if last := ss[len(ss)-1].processed; last != nil && !t.end.IsZero() {
			tails = append(tails, t.end.Sub(*last))
		}
	}
	for _, stage := range stageOrder {
		cells := make([]*float64, len(b.Steps))
		for i := range b.Steps {
			if ds := b.raw[stage][i]; len(ds) > 0 {
				v := percentilesOf(ds).P50
				cells[i] = &v
			}
		}
		b.P50MS[stage] = cells
	}
	if len(tails) > 0 {
		b.Tail[stageToClientSeen] = percentilesOf(tails).P50
	}
	if len(creates) > 0 {
		b.Tail[stageCreate] = percentilesOf(creates).P50
	}
	return b
}

// printStages prints a breakdown: a row per stage, a column per step, and
// the stage's total over the steps.
func printStages(out io.Writer, title string, b *stageBreakdown) {
	if b == nil || b.Tasks == 0 {
		return
	}
	fmt.Fprintf(out, "\n%s: where linear 4's time goes (p50 per step over %d tasks, ms)\n", title, b.Tasks)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"stage"}
	for i := range b.Steps {
		head = append(head, fmt.Sprintf("step %d", i+1))
	}
	fmt.Fprintln(tw, strings.Join(append(head, "sum"), "\t")+"\t")
	if v, ok := b.Tail[stageCreate]; ok {
		// Part of step 1's "to enqueued" (which runs to the enqueue, inside
		// the creation's transaction): not added to the sum.
		fmt.Fprintf(tw, "(%s)\t%.2f\t%s\t\n", stageCreate, v, strings.Repeat("\t", len(b.Steps)-1))
	}
	var total float64
	for _, stage := range stageOrder {
		row := []string{stage}
		var sum float64
		for _, v := range b.P50MS[stage] {
			if v == nil {
				row = append(row, "-")
				continue
			}
			sum += *v
			row = append(row, fmt.Sprintf("%.2f", *v))
		}
		total += sum
		fmt.Fprintln(tw, strings.Join(append(row, fmt.Sprintf("%.2f", sum)), "\t")+"\t")
	}
	if v, ok := b.Tail[stageToClientSeen]; ok {
		total += v
		row := []string{stageToClientSeen}
		for range b.Steps {
			row = append(row, "")
		}
		fmt.Fprintln(tw, strings.Join(append(row, fmt.Sprintf("%.2f", v)), "\t")+"\t")
	}
	fmt.Fprintf(tw, "sum of medians\t%s%.2f\t\n", strings.Repeat("\t", len(b.Steps)), total)
	_ = tw.Flush()
}

// statementStat is one statement's share of the database time of the
// throughput run (pg_stat_statements, the difference of two snapshots, so
// other databases' and earlier runs' statements do not count).
type statementStat struct {
	Query   string  `json:"query"`
	Calls   int64   `json:"calls"`
	TotalMS float64 `json:"total_ms"`
	MeanMS  float64 `json:"mean_ms"`
	Share   float64 `json:"share_pct"`
}

type statementSnapshot map[int64]statementStat

// enableStatements creates pg_stat_statements in the database when the
// server preloads it (the private cluster of --embedded-postgres does when
// the library is installed); it reports whether the view can be read.
func enableStatements(ctx context.Context, db *pgx.Conn) bool {
	if db == nil {
		return false
	}
	var preload string
	if err := db.QueryRow(ctx, `SHOW shared_preload_libraries`).Scan(&preload); err == nil && strings.Contains(preload, "pg_stat_statements") {
		_, _ = db.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`)
	}
	_, err := db.Exec(ctx, `SELECT 1 FROM pg_stat_statements LIMIT 1`)
	return err == nil
}

// snapshotStatements reads this database's statements.
func snapshotStatements(ctx context.Context, db *pgx.Conn) (statementSnapshot, error) {
	rows, err := db.Query(ctx, `SELECT queryid, calls, total_exec_time, query FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND queryid IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	snap := statementSnapshot{}
	var id int64
	var s statementStat
	_, err = pgx.ForEachRow(rows, []any{&id, &s.Calls, &s.TotalMS, &s.Query}, func() error {
		old := snap[id] // a statement can appear once per user: add them up
		s.Calls += old.Calls
		s.TotalMS += old.TotalMS
		snap[id] = s
		return nil
	})
	return snap, err
}

// topStatements is the n statements that took the most time between two
// snapshots.
func topStatements(before, after statementSnapshot, n int) []statementStat {
	var all []statementStat
	var total float64
	for id, a := range after {
		b := before[id]
		d := statementStat{Query: strings.Join(strings.Fields(a.Query), " "), Calls: a.Calls - b.Calls, TotalMS: a.TotalMS - b.TotalMS}
		if d.Calls <= 0 || d.TotalMS <= 0 {
			continue
		}
		total += d.TotalMS
		all = append(all, d)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].TotalMS > all[j].TotalMS })
	for i := range all {
		all[i].MeanMS = round2(all[i].TotalMS / float64(all[i].Calls))
		all[i].Share = round2(100 * all[i].TotalMS / total)
		all[i].TotalMS = round2(all[i].TotalMS)
	}
	return all[:min(n, len(all))]
}

func printStatements(out io.Writer, top []statementStat) {
	if len(top) == 0 {
		return
	}
	fmt.Fprintln(out, "\nthroughput: top statements by total database time (pg_stat_statements)")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  total ms\tshare\tcalls\tmean ms\tstatement")
	for _, s := range top {
		q := s.Query
		if len(q) > 110 {
			q = q[:107] + "..."
		}
		fmt.Fprintf(tw, "  %.0f\t%.1f %%\t%d\t%.3f\t%s\n", s.TotalMS, s.Share, s.Calls, s.MeanMS, q)
	}
	_ = tw.Flush()
}
