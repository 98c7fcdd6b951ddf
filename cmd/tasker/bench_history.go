package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// historyResult is the --history scenario: the same measurements with N
// finished steps of history in the database, beside the fresh database's.
type historyResult struct {
	Steps       int     `json:"steps"`
	Tasks       int     `json:"tasks"`
	LoadSeconds float64 `json:"load_seconds"`
	// Rows are the rows written, per table.
	Rows map[string]int64 `json:"rows"`
	Run  *handlerRun      `json:"run"`
}

// historySpacing is the time between two history tasks' creation: the
// history ends an hour before the run.
const historySpacing = 10 * time.Millisecond

// linearSteps are the steps of the examples_linear template, in order.
var linearSteps = []string{"linear_step_1", "linear_step_2", "linear_step_3", "linear_step_4"}

// historyUUID is a version 7 UUID at ts whose random bits are kind, task
// and step: the rows of one history task can be generated table by table.
func historyUUID(ts time.Time, kind byte, task, step int) uuid.UUID {
	var u uuid.UUID
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(ts.UnixMilli())) //nolint:gosec // a time after 1970
	copy(u[:6], ms[2:])
	u[6] = 0x70 | kind&0x0f
	u[7] = byte(step) //nolint:gosec // a step index, below 4
	u[8] = 0x80
	binary.BigEndian.PutUint32(u[9:13], uint32(task)) //nolint:gosec // a task index, below 2^32 tasks
	u[13] = kind
	return u
}

// loadHistory writes tasks finished linear tasks (4 steps each) into
// schema with COPY: tasks, their steps, edges, transitions and result
// audit rows, as a completed run leaves them. Nothing is vacuumed or
// analysed afterwards.
func loadHistory(ctx context.Context, db *pgx.Conn, schema string, steps int) (*historyResult, error) {
	if steps < len(linearSteps) {
		return nil, fmt.Errorf("--history: at least %d steps (one linear task)", len(linearSteps))
	}
	tasks := steps / len(linearSteps)
	res := &historyResult{Steps: tasks * len(linearSteps), Tasks: tasks, Rows: map[string]int64{}}
	sch := pgx.Identifier{schema}.Sanitize()
	var namedTask uuid.UUID
	err := db.QueryRow(ctx, `SELECT nt.named_task_uuid FROM `+sch+`.named_tasks nt
		JOIN `+sch+`.task_namespaces ns ON ns.task_namespace_uuid = nt.task_namespace_uuid
		WHERE ns.name = 'examples_linear' AND nt.name = 'square_chain' ORDER BY nt.created_at DESC LIMIT 1`).Scan(&namedTask)
	if err != nil {
		return nil, fmt.Errorf("--history: the examples_linear template is not registered: %w", err)
	}
	namedSteps := make([]uuid.UUID, len(linearSteps))
	for i, name := range linearSteps {
		if err := db.QueryRow(ctx, `SELECT named_step_uuid FROM `+sch+`.named_steps WHERE name = $1`, name).Scan(&namedSteps[i]); err != nil {
			return nil, fmt.Errorf("--history: named step %s: %w", name, err)
		}
	}
	const callable = "tasker_example_rs::step_handlers::linear_workflow::LinearStep%dHandler"
	begin := time.Now().Add(-time.Hour - time.Duration(tasks)*historySpacing).UTC()
	at := func(task int, offset time.Duration) time.Time {
		return begin.Add(time.Duration(task)*historySpacing + offset)
	}
	const (
		kindTask byte = iota + 1
		kindStep
	)
	taskID := func(i int) uuid.UUID { return historyUUID(at(i, 0), kindTask, i, 0) }
	stepID := func(i, j int) uuid.UUID { return historyUUID(at(i, 0), kindStep, i, j) }
	stepAt := func(i, j int, k int) time.Time { return at(i, time.Duration(j*4+k+1)*time.Millisecond) }
	value := func(j int) int64 { // 6 squared j+1 times
		v := int64(6)
		for range j + 1 {
			v *= v
		}
		return v
	}

	type table struct {
		name    string
		columns []string
		perTask int
		row     func(i, k int) []any
	}
	tables := []table{
		{"tasks", []string{"task_uuid", "named_task_uuid", "namespace", "state", "complete", "requested_at", "completed_at",
			"initiator", "context", "identity_hash", "correlation_id", "state_changed_at", "created_at", "updated_at"}, 1,
			func(i, _ int) []any {
				id, done := taskID(i), at(i, 20*time.Millisecond)
				return []any{id, namedTask, "examples_linear", "complete", true, at(i, 0), done, "tasker-bench-history",
					`{"even_number":6}`, id.String(), id, done, at(i, 0), done}
			}},
		{"task_transitions", []string{"task_uuid", "from_state", "to_state", "event", "created_at"}, 6,
			func(i, k int) []any {
				tr := [6][3]any{{nil, "pending", "initialize"}, {"pending", "initializing", "start"},
					{"initializing", "enqueuing_steps", "ready_steps_found"}, {"enqueuing_steps", "steps_in_process", "steps_enqueued"},
					{"steps_in_process", "evaluating_results", "step_completed"}, {"evaluating_results", "complete", "all_steps_successful"}}[k]
				ts := at(i, 0)
				if k >= 4 {
					ts = at(i, 20*time.Millisecond)
				}
				return []any{taskID(i), tr[0], tr[1], tr[2], ts}
			}},
		{"workflow_steps", []string{"workflow_step_uuid", "task_uuid", "named_step_uuid", "name", "template_step_name", "state",
			"handler_callable", "attempts", "processed", "processed_at", "last_attempted_at", "results", "state_changed_at",
			"created_at", "updated_at"}, 4,
			func(i, j int) []any {
				done := stepAt(i, j, 3)
				result := fmt.Sprintf(`{"success":true,"status":"completed","result":{"result":%d,"operation":"square"},"metadata":{"attempt":1}}`, value(j))
				return []any{stepID(i, j), taskID(i), namedSteps[j], linearSteps[j], linearSteps[j], "complete",
					fmt.Sprintf(callable, j+1), 1, true, done, stepAt(i, j, 1), result, done, at(i, 0), done}
			}},
		{"workflow_step_edges", []string{"task_uuid", "from_step_uuid", "to_step_uuid", "name", "created_at"}, 3,
			func(i, j int) []any { return []any{taskID(i), stepID(i, j), stepID(i, j+1), "provides", at(i, 0)} }},
		{"workflow_step_transitions", []string{"workflow_step_uuid", "task_uuid", "from_state", "to_state", "event", "created_at"}, 16,
			func(i, k int) []any {
				j, n := k/4, k%4
				tr := [4][3]string{{"pending", "enqueued", "enqueue"}, {"enqueued", "in_progress", "start"},
					{"in_progress", "enqueued_for_orchestration", "enqueue_for_orchestration"},
					{"enqueued_for_orchestration", "complete", "complete"}}[n]
				return []any{stepID(i, j), taskID(i), tr[0], tr[1], tr[2], stepAt(i, j, n)}
			}},
		{"workflow_step_result_audit", []string{"workflow_step_uuid", "task_uuid", "attempt", "worker_id", "success",
			"execution_time_ms", "from_state", "to_state", "result", "recorded_at"}, 4,
			func(i, j int) []any {
				return []any{stepID(i, j), taskID(i), 1, "tasker-bench-history", true, 0, "in_progress",
					"enqueued_for_orchestration", fmt.Sprintf(`{"result":%d}`, value(j)), stepAt(i, j, 2)}
			}},
	}
	start := time.Now()
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	for _, t := range tables {
		i, k := 0, 0
		n, err := tx.CopyFrom(ctx, pgx.Identifier{schema, t.name}, t.columns, pgx.CopyFromFunc(func() ([]any, error) {
			if i >= tasks {
				return nil, nil
			}
			row := t.row(i, k)
			if k++; k == t.perTask {
				i, k = i+1, 0
			}
			return row, nil
		}))
		if err != nil {
			return nil, fmt.Errorf("--history: loading %s: %w", t.name, err)
		}
		res.Rows[t.name] = n
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	res.LoadSeconds = math.Round(time.Since(start).Seconds()*100) / 100
	return res, nil
}

// runHistory loads the history into the embedded system's schema and
// measures again with the first worker language.
func runHistory(ctx context.Context, out io.Writer, sys *benchSystem, c benchRunner, db *pgx.Conn, f benchFlags, lang string) (*historyResult, error) {
	if db == nil || sys == nil {
		return nil, errors.New("--history needs --embedded")
	}
	fmt.Fprintf(out, "loading %d finished steps of history (COPY)...\n", f.history)
	h, err := loadHistory(ctx, db, sys.schema, f.history)
	if err != nil {
		return nil, err
	}
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
	fmt.Fprintf(out, "\nhistory: %d finished steps (%d tasks) loaded in %.1f s, not vacuumed or analysed\n", h.Steps, h.Tasks, h.LoadSeconds)
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
