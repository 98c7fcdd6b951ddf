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
	TotalTasks, ActiveTasks, CompletedTasks, FailedTasks int64
	// AverageTaskSeconds is creation to completion over completed tasks.
	AverageTaskSeconds float64
	// AverageStepSeconds is the handlers' reported execution time.
	AverageStepSeconds float64
	// StepResults counts the results workers reported for the window's
	// tasks.
	StepResults int64
	// Truncated is true when the window held more than MaxTasks tasks.
	Truncated bool
}

// PerformanceMetrics computes the key figures of a window.
func (s *Store) PerformanceMetrics(ctx context.Context, w AnalyticsWindow) (Performance, error) {
	var p Performance
	err := s.pool.QueryRow(ctx, `WITH t AS (`+windowTasksSQL+`),
		a AS (
			SELECT count(*) AS n, avg(a.execution_time_ms) / 1000.0 AS avg_s
			FROM t JOIN workflow_steps ws ON ws.task_uuid = t.task_uuid
			JOIN workflow_step_result_audit a ON a.workflow_step_uuid = ws.workflow_step_uuid
		)
		SELECT count(*),
			count(*) FILTER (WHERE t.state NOT IN (`+terminalTaskStates+`)),
			count(*) FILTER (WHERE t.state = 'complete'),
			count(*) FILTER (WHERE t.state = 'error'),
			COALESCE(avg(EXTRACT(EPOCH FROM t.completed_at - t.created_at))
				FILTER (WHERE t.state = 'complete' AND t.completed_at IS NOT NULL), 0)::float8,
			COALESCE((SELECT avg_s FROM a), 0)::float8, (SELECT n FROM a)
		FROM t`, w.Since, w.MaxTasks+1).Scan(&p.TotalTasks, &p.ActiveTasks, &p.CompletedTasks, &p.FailedTasks,
		&p.AverageTaskSeconds, &p.AverageStepSeconds, &p.StepResults)
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
	Namespace, TaskName, Version, StepName string
	AverageSeconds, MaxSeconds             float64
	Executions, Errors                     int64
	LastExecutedAt                         *time.Time
}

// SlowTask is one template by how long its tasks took.
type SlowTask struct {
	Namespace, TaskName, Version string
	AverageSeconds, MaxSeconds   float64
	Executions, Errors           int64
	AverageSteps                 float64
	LastExecutedAt               *time.Time
}

// SlowSteps returns the template steps of the window's tasks with the
// highest average execution time, among those with at least minExecutions
// reported results; at most limit.
func (s *Store) SlowSteps(ctx context.Context, w AnalyticsWindow, minExecutions, limit int) ([]SlowStep, error) {
	rows, err := s.pool.Query(ctx, `WITH t AS (`+windowTasksSQL+`)
		SELECT ns.name, nt.name, nt.version, ws.template_step_name,
			(avg(a.execution_time_ms) / 1000.0)::float8, (max(a.execution_time_ms) / 1000.0)::float8,
			count(*), count(*) FILTER (WHERE NOT a.success), max(a.recorded_at)
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
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SlowStep, error) {
		var x SlowStep
		err := r.Scan(&x.Namespace, &x.TaskName, &x.Version, &x.StepName, &x.AverageSeconds, &x.MaxSeconds,
			&x.Executions, &x.Errors, &x.LastExecutedAt)
		return x, err
	})
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
		SELECT ns.name, nt.name, nt.version, COALESCE(per.avg_s, 0)::float8, COALESCE(per.max_s, 0)::float8,
			per.n, per.errors, per.steps::float8, per.last_at
		FROM per JOIN named_tasks nt USING (named_task_uuid)
		JOIN task_namespaces ns ON ns.task_namespace_uuid = nt.task_namespace_uuid
		ORDER BY 4 DESC, 1, 2, 3 LIMIT $4`, w.Since, w.MaxTasks, minExecutions, limit)
	if err != nil {
		return nil, fmt.Errorf("finding slow tasks: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SlowTask, error) {
		var x SlowTask
		err := r.Scan(&x.Namespace, &x.TaskName, &x.Version, &x.AverageSeconds, &x.MaxSeconds, &x.Executions,
			&x.Errors, &x.AverageSteps, &x.LastExecutedAt)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("finding slow tasks: %w", err)
	}
	return out, nil
}

// WindowStateCounts counts the window's tasks and their steps by state.
func (s *Store) WindowStateCounts(ctx context.Context, w AnalyticsWindow) (StateCounts, error) {
	out := StateCounts{Tasks: map[state.TaskState]int64{}, Steps: map[state.StepState]int64{}}
	rows, err := s.pool.Query(ctx, `WITH t AS (`+windowTasksSQL+`)
		SELECT 't', state, count(*) FROM t GROUP BY state
		UNION ALL
		SELECT 's', ws.state, count(*) FROM t JOIN workflow_steps ws ON ws.task_uuid = t.task_uuid GROUP BY ws.state`,
		w.Since, w.MaxTasks)
	if err != nil {
		return out, fmt.Errorf("counting states: %w", err)
	}
	var kind, st string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&kind, &st, &n}, func() error {
		if kind == "t" {
			out.Tasks[state.TaskState(st)] = n
		} else {
			out.Steps[state.StepState(st)] = n
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("counting states: %w", err)
	}
	return out, nil
}

// InvestigationEntry is a pending DLQ entry ranked for investigation.
type InvestigationEntry struct {
	DLQEntry
	Namespace, TaskName, CurrentState string
	MinutesInDLQ                      float64
	MinutesInState                    float64
	Priority                          int
	Score                             float64
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
		SELECT d.*, t.namespace, nt.name, t.state,
			(EXTRACT(EPOCH FROM now() - d.dlq_timestamp) / 60)::float8 AS minutes,
			(EXTRACT(EPOCH FROM now() - t.state_changed_at) / 60)::float8, t.priority,
			((EXTRACT(EPOCH FROM now() - d.dlq_timestamp) / 60)
				* CASE d.dlq_reason WHEN 'dependency_cycle_detected' THEN 3.0 WHEN 'max_retries_exceeded' THEN 2.0
					WHEN 'worker_unavailable' THEN 1.5 WHEN 'staleness_timeout' THEN 1.0 ELSE 1.0 END
				* (1 + (t.priority + 100) / 200.0))::float8 AS score
		FROM d JOIN tasks t USING (task_uuid) JOIN named_tasks nt ON nt.named_task_uuid = t.named_task_uuid
		ORDER BY score DESC, d.dlq_timestamp LIMIT $1`, limit, investigationCandidates)
	if err != nil {
		return nil, fmt.Errorf("reading the investigation queue: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (InvestigationEntry, error) {
		var e InvestigationEntry
		d := &e.DLQEntry
		err := r.Scan(&d.UUID, &d.TaskUUID, &d.OriginalState, &d.Reason, &d.DLQTimestamp, &d.ResolutionStatus,
			&d.ResolutionTimestamp, &d.ResolutionNotes, &d.ResolvedBy, &d.TaskSnapshot, &d.Metadata, &d.CreatedAt,
			&d.UpdatedAt, &e.Namespace, &e.TaskName, &e.CurrentState, &e.MinutesInDLQ, &e.MinutesInState,
			&e.Priority, &e.Score)
		return e, err
	})
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
