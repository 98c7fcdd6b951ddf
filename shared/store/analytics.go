package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/state"
)

// The analytics queries read the tasks created within a window, newest
// first and at most AnalyticsWindow.MaxTasks of them (through
// tasks_created_at_idx), with their steps (through the workflow_steps
// (task_uuid, …) unique index) and their audit rows (through
// workflow_step_result_audit_step_idx). No query scans a history table
// whole, so an answer costs the same however long the history is.

// AnalyticsWindow bounds an analytics query.
type AnalyticsWindow struct {
	// Since is the window's start: tasks created at or after it.
	Since time.Time
	// MaxTasks caps the tasks read (the newest first).
	MaxTasks int
}

// windowTasksSQL selects the window's tasks ($1 since, $2 limit).
const windowTasksSQL = `SELECT task_uuid, named_task_uuid, state, created_at, completed_at FROM tasks
	WHERE created_at >= $1 ORDER BY created_at DESC LIMIT $2`

// Performance are the key figures of a window.
type Performance struct {
	TotalTasks     int64 `db:"total_tasks"`
	ActiveTasks    int64 `db:"active_tasks"`
	CompletedTasks int64 `db:"completed_tasks"`
	FailedTasks    int64 `db:"failed_tasks"`
	// AverageTaskSeconds is creation to completion over completed tasks.
	AverageTaskSeconds float64 `db:"average_task_seconds"`
	// AverageStepSeconds is the handlers' reported execution time.
	AverageStepSeconds float64 `db:"average_step_seconds"`
	// StepResults counts the results workers reported for the window's
	// tasks.
	StepResults int64 `db:"step_results"`
	// Truncated is true when the window held more than MaxTasks tasks.
	Truncated bool `db:"-"`
}

// PerformanceMetrics computes the key figures of a window.
func (s *Store) PerformanceMetrics(ctx context.Context, w AnalyticsWindow) (Performance, error) {
	rows, err := s.pool.Query(ctx, `WITH t AS (`+windowTasksSQL+`),
		a AS (
			SELECT count(*) AS n, avg(a.execution_time_ms) / 1000.0 AS avg_s
			FROM t JOIN workflow_steps ws ON ws.task_uuid = t.task_uuid
			JOIN workflow_step_result_audit a ON a.workflow_step_uuid = ws.workflow_step_uuid
		)
		SELECT count(*) AS total_tasks,
			count(*) FILTER (WHERE t.state NOT IN (`+terminalTaskStates+`)) AS active_tasks,
			count(*) FILTER (WHERE t.state = 'complete') AS completed_tasks,
			count(*) FILTER (WHERE t.state = 'error') AS failed_tasks,
			COALESCE(avg(EXTRACT(EPOCH FROM t.completed_at - t.created_at))
				FILTER (WHERE t.state = 'complete' AND t.completed_at IS NOT NULL), 0)::float8 AS average_task_seconds,
			COALESCE((SELECT avg_s FROM a), 0)::float8 AS average_step_seconds, (SELECT n FROM a) AS step_results
		FROM t`, w.Since, w.MaxTasks+1)
	var p Performance
	if err == nil {
		p, err = pgx.CollectOneRow(rows, pgx.RowToStructByName[Performance])
	}
	if err != nil {
		return Performance{}, fmt.Errorf("computing performance metrics: %w", err)
	}
	// One task more than the cap was read to tell whether the window holds
	// more; the figures keep it (one task in MaxTasks does not move them).
	if p.TotalTasks > int64(w.MaxTasks) {
		p.Truncated = true
	}
	return p, nil
}

// SlowStep is one template step by its handlers' execution time.
type SlowStep struct {
	Namespace      string     `db:"namespace"`
	TaskName       string     `db:"task_name"`
	Version        string     `db:"version"`
	StepName       string     `db:"step_name"`
	AverageSeconds float64    `db:"average_seconds"`
	MaxSeconds     float64    `db:"max_seconds"`
	Executions     int64      `db:"executions"`
	Errors         int64      `db:"errors"`
	LastExecutedAt *time.Time `db:"last_executed_at"`
}

// SlowTask is one template by how long its tasks took.
type SlowTask struct {
	Namespace      string     `db:"namespace"`
	TaskName       string     `db:"task_name"`
	Version        string     `db:"version"`
	AverageSeconds float64    `db:"average_seconds"`
	MaxSeconds     float64    `db:"max_seconds"`
	Executions     int64      `db:"executions"`
	Errors         int64      `db:"errors"`
	AverageSteps   float64    `db:"average_steps"`
	LastExecutedAt *time.Time `db:"last_executed_at"`
}

// SlowSteps returns the template steps of the window's tasks with the
// highest average execution time, among those with at least minExecutions
// reported results; at most limit.
func (s *Store) SlowSteps(ctx context.Context, w AnalyticsWindow, minExecutions, limit int) ([]SlowStep, error) {
	rows, err := s.pool.Query(ctx, `WITH t AS (`+windowTasksSQL+`)
		SELECT ns.name AS namespace, nt.name AS task_name, nt.version, ws.template_step_name AS step_name,
			(avg(a.execution_time_ms) / 1000.0)::float8 AS average_seconds,
			(max(a.execution_time_ms) / 1000.0)::float8 AS max_seconds,
			count(*) AS executions, count(*) FILTER (WHERE NOT a.success) AS errors,
			max(a.recorded_at) AS last_executed_at
		FROM t JOIN workflow_steps ws ON ws.task_uuid = t.task_uuid
		JOIN workflow_step_result_audit a ON a.workflow_step_uuid = ws.workflow_step_uuid
		JOIN named_tasks nt ON nt.named_task_uuid = t.named_task_uuid
		JOIN task_namespaces ns ON ns.task_namespace_uuid = nt.task_namespace_uuid
		WHERE a.execution_time_ms IS NOT NULL
		GROUP BY ns.name, nt.name, nt.version, ws.template_step_name
		HAVING count(*) >= $3
		ORDER BY 5 DESC, 1, 2, 3, 4 LIMIT $4`, w.Since, w.MaxTasks, minExecutions, limit)
	if err != nil {
		return nil, fmt.Errorf("finding slow steps: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[SlowStep])
	if err != nil {
		return nil, fmt.Errorf("finding slow steps: %w", err)
	}
	return out, nil
}

// SlowTasks returns the templates whose tasks in the window took longest
// on average (creation to completion of the completed ones), among those
// with at least minExecutions tasks; at most limit.
func (s *Store) SlowTasks(ctx context.Context, w AnalyticsWindow, minExecutions, limit int) ([]SlowTask, error) {
	rows, err := s.pool.Query(ctx, `WITH t AS (`+windowTasksSQL+`),
		per AS (
			SELECT t.named_task_uuid, count(*) AS n,
				count(*) FILTER (WHERE t.state = 'error') AS errors,
				avg(EXTRACT(EPOCH FROM t.completed_at - t.created_at)) FILTER (WHERE t.completed_at IS NOT NULL) AS avg_s,
				max(EXTRACT(EPOCH FROM t.completed_at - t.created_at)) AS max_s,
				max(t.created_at) AS last_at,
				avg((SELECT count(*) FROM workflow_steps ws WHERE ws.task_uuid = t.task_uuid)) AS steps
			FROM t GROUP BY t.named_task_uuid HAVING count(*) >= $3
		)
		SELECT ns.name AS namespace, nt.name AS task_name, nt.version,
			COALESCE(per.avg_s, 0)::float8 AS average_seconds, COALESCE(per.max_s, 0)::float8 AS max_seconds,
			per.n AS executions, per.errors, per.steps::float8 AS average_steps, per.last_at AS last_executed_at
		FROM per JOIN named_tasks nt USING (named_task_uuid)
		JOIN task_namespaces ns ON ns.task_namespace_uuid = nt.task_namespace_uuid
		ORDER BY 4 DESC, 1, 2, 3 LIMIT $4`, w.Since, w.MaxTasks, minExecutions, limit)
	if err != nil {
		return nil, fmt.Errorf("finding slow tasks: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[SlowTask])
	if err != nil {
		return nil, fmt.Errorf("finding slow tasks: %w", err)
	}
	return out, nil
}

// WindowStateCounts counts the window's tasks and their steps by state.
func (s *Store) WindowStateCounts(ctx context.Context, w AnalyticsWindow) (StateCounts, error) {
	out := StateCounts{Tasks: map[state.TaskState]int64{}, Steps: map[state.StepState]int64{}}
	rows, err := s.pool.Query(ctx, `WITH t AS (`+windowTasksSQL+`)
		SELECT 't' AS kind, state, count(*) AS n FROM t GROUP BY state
		UNION ALL
		SELECT 's', ws.state, count(*) FROM t JOIN workflow_steps ws ON ws.task_uuid = t.task_uuid GROUP BY ws.state`,
		w.Since, w.MaxTasks)
	if err != nil {
		return out, fmt.Errorf("counting states: %w", err)
	}
	counts, err := pgx.CollectRows(rows, pgx.RowToStructByName[stateCount])
	if err != nil {
		return out, fmt.Errorf("counting states: %w", err)
	}
	for _, c := range counts {
		if c.Kind == "t" {
			out.Tasks[state.TaskState(c.State)] = c.N
		} else {
			out.Steps[state.StepState(c.State)] = c.N
		}
	}
	return out, nil
}

// InvestigationEntry is a pending DLQ entry ranked for investigation.
type InvestigationEntry struct {
	DLQEntry
	Namespace      string  `db:"namespace"`
	TaskName       string  `db:"task_name"`
	CurrentState   string  `db:"current_state"`
	MinutesInDLQ   float64 `db:"minutes_in_dlq"`
	MinutesInState float64 `db:"minutes_in_state"`
	Priority       int     `db:"priority"`
	Score          float64 `db:"score"`
}

// investigationCandidates caps the pending entries ranked: the oldest
// first, which the score favours anyway.
const investigationCandidates = 10000

// InvestigationQueue ranks pending DLQ entries: score = minutes in the DLQ
// × the reason's weight × (1 + (priority + 100) / 200), highest first; at
// most limit. Only the investigationCandidates oldest pending entries are
// ranked.
func (s *Store) InvestigationQueue(ctx context.Context, limit int) ([]InvestigationEntry, error) {
	rows, err := s.pool.Query(ctx, `WITH d AS (
			SELECT `+dlqColumns+` FROM tasks_dlq WHERE resolution_status = 'pending'
			ORDER BY dlq_timestamp LIMIT $2
		)
		SELECT d.*, t.namespace, nt.name AS task_name, t.state AS current_state,
			(EXTRACT(EPOCH FROM now() - d.dlq_timestamp) / 60)::float8 AS minutes_in_dlq,
			(EXTRACT(EPOCH FROM now() - t.state_changed_at) / 60)::float8 AS minutes_in_state, t.priority,
			((EXTRACT(EPOCH FROM now() - d.dlq_timestamp) / 60)
				* CASE d.dlq_reason WHEN 'dependency_cycle_detected' THEN 3.0 WHEN 'max_retries_exceeded' THEN 2.0
					WHEN 'worker_unavailable' THEN 1.5 WHEN 'staleness_timeout' THEN 1.0 ELSE 1.0 END
				* (1 + (t.priority + 100) / 200.0))::float8 AS score
		FROM d JOIN tasks t USING (task_uuid) JOIN named_tasks nt ON nt.named_task_uuid = t.named_task_uuid
		ORDER BY score DESC, d.dlq_timestamp LIMIT $1`, limit, investigationCandidates)
	if err != nil {
		return nil, fmt.Errorf("reading the investigation queue: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[InvestigationEntry])
	if err != nil {
		return nil, fmt.Errorf("reading the investigation queue: %w", err)
	}
	return out, nil
}

// WindowTruncated reports whether the window holds more than MaxTasks
// tasks (reading at most one more).
func (s *Store) WindowTruncated(ctx context.Context, w AnalyticsWindow) (bool, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM tasks WHERE created_at >= $1
		ORDER BY created_at DESC LIMIT $2) x`, w.Since, w.MaxTasks+1).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("sizing the analytics window: %w", err)
	}
	return n > w.MaxTasks, nil
}
