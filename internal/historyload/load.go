// Package historyload writes finished workflow history into a Tasker
// schema with COPY, fast: the rows a completed run of linear tasks leaves
// (tasks, steps, edges, transitions, result audit, and the dead rows of
// the messages acked in the queue tables). tasker bench --history
// and the dashboard's page-load benchmark use it to measure the system with
// a large database.
package historyload

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Result is what Load wrote.
type Result struct {
	Steps       int     `json:"steps"`
	Tasks       int     `json:"tasks"`
	LoadSeconds float64 `json:"load_seconds"`
	// Rows are the rows written, per table.
	Rows map[string]int64 `json:"rows"`
}

// Initiator is the initiator of every loaded task.
const Initiator = "tasker-bench-history"

// Spacing is the time between two loaded tasks' creation: the history
// ends an hour before the load.
const Spacing = 10 * time.Millisecond

// linearSteps are the steps of the examples_linear template, in order.
var linearSteps = []string{"linear_step_1", "linear_step_2", "linear_step_3", "linear_step_4"}

// taskUUID is a version 7 UUID at ts whose random bits are kind, task
// and step: the rows of one history task can be generated table by table.
func taskUUID(ts time.Time, kind byte, task, step int) uuid.UUID {
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

// Load writes steps/4 finished linear tasks (4 steps each) into
// schema with COPY: tasks, their steps, edges, transitions and result
// audit rows, as a completed run leaves them. Nothing is vacuumed or
// analysed afterwards.
func Load(ctx context.Context, db *pgx.Conn, schema string, steps int) (*Result, error) {
	if steps < len(linearSteps) {
		return nil, fmt.Errorf("history: at least %d steps (one linear task)", len(linearSteps))
	}
	tasks := steps / len(linearSteps)
	res := &Result{Steps: tasks * len(linearSteps), Tasks: tasks, Rows: map[string]int64{}}
	sch := pgx.Identifier{schema}.Sanitize()
	var namedTask uuid.UUID
	err := db.QueryRow(ctx, `SELECT nt.named_task_uuid FROM `+sch+`.named_tasks nt
		JOIN `+sch+`.task_namespaces ns ON ns.task_namespace_uuid = nt.task_namespace_uuid
		WHERE ns.name = 'examples_linear' AND nt.name = 'square_chain' ORDER BY nt.created_at DESC LIMIT 1`).Scan(&namedTask)
	if err != nil {
		return nil, fmt.Errorf("history: the examples_linear template is not registered: %w", err)
	}
	namedSteps := make([]uuid.UUID, len(linearSteps))
	for i, name := range linearSteps {
		if err := db.QueryRow(ctx, `SELECT named_step_uuid FROM `+sch+`.named_steps WHERE name = $1`, name).Scan(&namedSteps[i]); err != nil {
			return nil, fmt.Errorf("history: named step %s: %w", name, err)
		}
	}
	const callable = "tasker_example_rs::step_handlers::linear_workflow::LinearStep%dHandler"
	begin := time.Now().Add(-time.Hour - time.Duration(tasks)*Spacing).UTC()
	at := func(task int, offset time.Duration) time.Time {
		return begin.Add(time.Duration(task)*Spacing + offset)
	}
	const (
		kindTask byte = iota + 1
		kindStep
	)
	taskID := func(i int) uuid.UUID { return taskUUID(at(i, 0), kindTask, i, 0) }
	stepID := func(i, j int) uuid.UUID { return taskUUID(at(i, 0), kindStep, i, j) }
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
				return []any{id, namedTask, "examples_linear", "complete", true, at(i, 0), done, Initiator,
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
			return nil, fmt.Errorf("history: loading %s: %w", t.name, err)
		}
		res.Rows[t.name] = n
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	if err := churnQueues(ctx, db, schema, res); err != nil {
		return nil, err
	}
	res.LoadSeconds = math.Round(time.Since(start).Seconds()*100) / 100
	return res, nil
}

// churnedQueues are the queue tables a run of linear tasks moves one
// message per step through: the worker queue of examples_linear and the
// results queue.
var churnedQueues = []string{"mq_worker_examples_linear_queue", "mq_orchestration_step_results"}

// churnQueues leaves in each queue table the dead rows its messages leave
// once acked (one per step), as the run that made the history would have
// left them before any vacuum: every claim walks past them until one runs.
// Queues that are not tables of the schema (the broker backend) are
// skipped.
func churnQueues(ctx context.Context, db *pgx.Conn, schema string, res *Result) error {
	for _, q := range churnedQueues {
		table := pgx.Identifier{schema, q}.Sanitize()
		var exists bool
		if err := db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists); err != nil {
			return fmt.Errorf("history: %w", err)
		}
		if !exists {
			continue
		}
		err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			var top int64
			if err := tx.QueryRow(ctx, `SELECT COALESCE(max(msg_id), 0) FROM `+table).Scan(&top); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+table+` (message) SELECT '{}'::jsonb FROM generate_series(1, $1)`,
				res.Steps); err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE msg_id > $1 AND message = '{}'::jsonb`, top)
			res.Rows[q+" (dead)"] = tag.RowsAffected()
			return err
		})
		if err != nil {
			return fmt.Errorf("history: leaving the dead rows of %s: %w", q, err)
		}
	}
	return nil
}
