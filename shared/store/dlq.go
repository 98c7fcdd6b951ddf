package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/state"
)

// StalenessThresholds are the default limits for how long a task may sit in
// a waiting state; a template's lifecycle block overrides them per task.
type StalenessThresholds struct {
	WaitingForDependencies time.Duration
	WaitingForRetry        time.Duration
	StepsInProcess         time.Duration
	MaxLifetime            time.Duration
}

// StaleTask is a task the staleness detector flagged.
type StaleTask struct {
	TaskUUID         uuid.UUID       `db:"task_uuid"`
	Namespace        string          `db:"namespace"`
	TaskName         string          `db:"task_name"`
	State            state.TaskState `db:"state"`
	StateChangedAt   time.Time       `db:"state_changed_at"`
	MinutesInState   float64         `db:"minutes_in_state"`
	ThresholdMinutes float64         `db:"threshold_minutes"`
	TaskAgeMinutes   float64         `db:"task_age_minutes"`
	CorrelationID    uuid.UUID       `db:"correlation_id"`
	Priority         int             `db:"priority"`
	RequestedAt      time.Time       `db:"requested_at"`
	CreatedAt        time.Time       `db:"created_at"`
	// HealthStatus is stale at or over the threshold, warning at 80 %.
	HealthStatus string `db:"health_status"`
	// StalenessAction, AutoDLQ and AutoFail are the template's lifecycle
	// staleness_action, auto_dlq_on_timeout and auto_fail_on_timeout
	// (empty or nil when the template does not set them).
	StalenessAction string `db:"staleness_action"`
	AutoDLQ         *bool  `db:"auto_dlq"`
	AutoFail        *bool  `db:"auto_fail"`
	// TraceParent is the task's stored W3C traceparent (empty when it was
	// created untraced).
	TraceParent string `db:"trace_parent"`
}

// lifecycleBool reads a boolean lifecycle field of a template (NULL when it
// is absent or not a boolean).
func lifecycleBool(field string) string {
	return `CASE WHEN jsonb_typeof(nt.configuration -> 'lifecycle' -> '` + field + `') = 'boolean'
		THEN (nt.configuration -> 'lifecycle' ->> '` + field + `')::boolean END`
}

// lifecycleMinutes reads a numeric lifecycle field of a template, ignoring
// anything that is not a number.
func lifecycleMinutes(field string) string {
	return `CASE WHEN jsonb_typeof(nt.configuration -> 'lifecycle' -> '` + field + `') = 'number'
		THEN (nt.configuration -> 'lifecycle' ->> '` + field + `')::float8 END`
}

var staleSelect = `
	SELECT t.task_uuid, t.namespace, nt.name AS task_name, t.state, t.state_changed_at,
		EXTRACT(EPOCH FROM now() - t.state_changed_at) / 60 AS minutes_in_state,
		th.minutes AS threshold_minutes, EXTRACT(EPOCH FROM now() - t.created_at) / 60 AS task_age_minutes,
		t.correlation_id, t.priority, t.requested_at, t.created_at,
		CASE WHEN EXTRACT(EPOCH FROM now() - t.state_changed_at) / 60 >= th.minutes THEN 'stale'
		     WHEN EXTRACT(EPOCH FROM now() - t.state_changed_at) / 60 >= th.minutes * 0.8 THEN 'warning'
		     ELSE 'healthy' END AS health_status,
		COALESCE(nt.configuration -> 'lifecycle' ->> 'staleness_action', '') AS staleness_action,
		` + `%[5]s` + ` AS auto_dlq, ` + `%[6]s` + ` AS auto_fail,
		COALESCE(t.trace_parent, '') AS trace_parent
	FROM tasks t JOIN named_tasks nt USING (named_task_uuid)
	CROSS JOIN LATERAL (SELECT CASE t.state
		WHEN 'waiting_for_dependencies' THEN COALESCE(` + `%[1]s` + `, $1)
		WHEN 'waiting_for_retry' THEN COALESCE(` + `%[2]s` + `, $2)
		ELSE COALESCE(` + `%[3]s` + `, $3) END AS minutes,
		COALESCE(` + `%[4]s` + `, $4) AS lifetime) th
	WHERE t.completed_at IS NULL
		AND t.state IN (` + waitingTaskStates + `)`

func staleQuery(extra string) string {
	return fmt.Sprintf(staleSelect,
		lifecycleMinutes("max_waiting_for_dependencies_minutes"),
		lifecycleMinutes("max_waiting_for_retry_minutes"),
		lifecycleMinutes("max_steps_in_process_minutes"),
		lifecycleMinutes("max_duration_minutes"),
		lifecycleBool("auto_dlq_on_timeout"),
		lifecycleBool("auto_fail_on_timeout")) + extra
}

// liveStepSQL selects a step of task t that shows its task is still being
// worked on: running under a claim that has not lapsed (the worker's
// heartbeat extends it), or waiting for a retry whose time has not come. It
// only runs for tasks past their state threshold, and probes each one's
// steps through the (task_uuid, name) index. OFFSET 0 keeps it
// that way: without it the planner may hash the whole workflow_steps table
// instead (it cannot see how few tasks get this far).
const liveStepSQL = `SELECT 1 FROM workflow_steps s WHERE s.task_uuid = t.task_uuid
	AND ((s.state = 'in_progress' AND s.claim_deadline > now())
	     OR (s.state = 'waiting_for_retry' AND s.next_retry_at > now()))
	OFFSET 0`

// reopenedSQL is when an operator last re-opened task t after it ended in
// error (a step reset or resolved by hand moves the task out of error): the
// maximum lifetime counts from then, so re-driving an old task does not get
// it flagged again on the next pass. It reads the task's own history
// through its (task_uuid, id) index, and only for tasks already past their
// lifetime since creation.
const reopenedSQL = `SELECT max(tt.created_at) FROM task_transitions tt
	WHERE tt.task_uuid = t.task_uuid AND tt.from_state = 'error'`

func (th StalenessThresholds) args() []any {
	return []any{th.WaitingForDependencies.Minutes(), th.WaitingForRetry.Minutes(), th.StepsInProcess.Minutes(),
		th.MaxLifetime.Minutes()}
}

// pastStalenessSQL selects the stale tasks (the thresholds' args, $5
// limit).
var pastStalenessSQL = staleQuery(`
		AND NOT EXISTS (SELECT 1 FROM tasks_dlq d WHERE d.task_uuid = t.task_uuid AND d.resolution_status = 'pending')
		AND ((now() - t.created_at >= th.lifetime * interval '1 minute'
		      AND now() - COALESCE((` + reopenedSQL + `), t.created_at) >= th.lifetime * interval '1 minute')
		     OR (now() - t.state_changed_at >= th.minutes * interval '1 minute'
		         AND NOT EXISTS (` + liveStepSQL + `)))
		ORDER BY t.state_changed_at LIMIT $5`)

// TasksPastStaleness finds tasks that have no open DLQ entry and either outlived
// their maximum lifetime (counted from creation, or from the last time an
// operator re-opened the task after an error), or sat in a waiting state
// past their threshold with no sign of life: a task with a step running
// under a claim that has not lapsed (its worker heartbeats), or with a step
// whose retry time has not come, is not stale for its time in state.
func (s *Store) TasksPastStaleness(ctx context.Context, th StalenessThresholds, limit int) ([]StaleTask, error) {
	args := append(th.args(), limit)
	rows, err := s.pool.Query(ctx, pastStalenessSQL, args...)
	if err != nil {
		return nil, fmt.Errorf("finding stale tasks: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[StaleTask])
	if err != nil {
		return nil, fmt.Errorf("finding stale tasks: %w", err)
	}
	return out, nil
}

// StalenessMonitor lists waiting tasks with their health against the
// thresholds (for proactive monitoring), most at risk first.
func (s *Store) StalenessMonitor(ctx context.Context, th StalenessThresholds, limit int) ([]StaleTask, error) {
	args := append(th.args(), limit)
	rows, err := s.pool.Query(ctx, staleQuery(`
		ORDER BY EXTRACT(EPOCH FROM now() - t.state_changed_at) / 60 / NULLIF(th.minutes, 0) DESC NULLS LAST
		LIMIT $5`), args...)
	if err != nil {
		return nil, fmt.Errorf("reading staleness: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[StaleTask])
	if err != nil {
		return nil, fmt.Errorf("reading staleness: %w", err)
	}
	return out, nil
}

// StaleAction says what the detector does with a stale task.
type StaleAction struct {
	// DLQ opens an investigation entry.
	DLQ bool
	// Fail moves the task, and every step it had not finished, to error.
	Fail bool
}

// HandleStaleTask acts on one flagged task in one transaction, but only if
// it is still in the state it was flagged in (a task that moved on since is
// left alone). Failing the task also fails every step it had not finished
// (see failUnfinishedSteps). It reports whether anything was done.
func (s *Store) HandleStaleTask(ctx context.Context, st StaleTask, act StaleAction) (bool, error) {
	done := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tasks, err := lockTasks(ctx, tx, []uuid.UUID{st.TaskUUID})
		if err != nil {
			return err
		}
		t := tasks[st.TaskUUID]
		if t == nil || t.State != st.State {
			return nil
		}
		snapshot, _ := json.Marshal(map[string]any{
			"task_uuid": st.TaskUUID, "namespace": st.Namespace, "task_name": st.TaskName,
			"current_state": st.State, "time_in_state_minutes": st.MinutesInState,
			"threshold_minutes": st.ThresholdMinutes, "snapshot_timestamp": time.Now().UTC(),
			"task_details": map[string]any{"correlation_id": st.CorrelationID, "priority": st.Priority,
				"requested_at": st.RequestedAt, "created_at": st.CreatedAt},
		})
		meta, _ := json.Marshal(map[string]any{"detection_method": "automatic_staleness",
			"time_in_state_minutes": st.MinutesInState, "threshold_minutes": st.ThresholdMinutes})
		if act.DLQ {
			tag, err := tx.Exec(ctx, `INSERT INTO tasks_dlq (task_uuid, original_state, dlq_reason, task_snapshot, metadata)
				VALUES ($1, $2, 'staleness_timeout', $3, $4)
				ON CONFLICT (task_uuid) WHERE resolution_status = 'pending' DO NOTHING`,
				st.TaskUUID, st.State, snapshot, meta)
			if err != nil {
				return fmt.Errorf("opening DLQ entry: %w", err)
			}
			done = done || tag.RowsAffected() > 0
		}
		if act.Fail {
			var tr taskTransitionRows
			tr.add(st.TaskUUID, st.State, state.TaskError, []state.TaskTransition{
				{From: st.State, Event: state.TaskEventStalenessTimeout, To: state.TaskError}})
			tr.hMeta[len(tr.hMeta)-1] = string(meta)
			if err := s.applyTaskTransitions(ctx, tx, &tr, nil); err != nil {
				return err
			}
			if err := failUnfinishedSteps(ctx, tx, st); err != nil {
				return err
			}
			if err := s.notifyTasks(ctx, tx, []uuid.UUID{st.TaskUUID}); err != nil {
				return err
			}
			done = true
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("handling stale task %s: %w", st.TaskUUID, err)
	}
	return done, nil
}

// failUnfinishedSteps moves every step of a task the staleness detector
// failed that had not finished to error, clearing its claim, with a history
// row saying why. Nothing would ever move them otherwise (claims skip
// finished tasks); in error, an operator can reset them for retry, which
// re-opens the task. A worker still running such a step finds its result
// stale (the result is a compare-and-swap on in_progress) and it is dropped.
func failUnfinishedSteps(ctx context.Context, tx pgx.Tx, st StaleTask) error {
	sources := state.StepSourcesFor(state.StepEventStalenessTimeout)
	from := make([]string, len(sources))
	for i, src := range sources {
		from[i] = string(src)
	}
	meta, _ := json.Marshal(map[string]any{"reason": "task_staleness_timeout", "task_state": st.State,
		"time_in_state_minutes": st.MinutesInState, "threshold_minutes": st.ThresholdMinutes,
		"task_age_minutes": st.TaskAgeMinutes})
	_, err := tx.Exec(ctx, `
		WITH upd AS (
			UPDATE workflow_steps w SET state = 'error', in_process = false, claimed_by = NULL,
				claim_deadline = NULL, next_retry_at = NULL, state_changed_at = now(), updated_at = now()
			FROM (SELECT workflow_step_uuid, state AS old_state FROM workflow_steps
			      WHERE task_uuid = $1 AND state = ANY($2) FOR UPDATE) old
			WHERE w.workflow_step_uuid = old.workflow_step_uuid AND w.state = old.old_state
			RETURNING w.workflow_step_uuid, old.old_state
		)
		INSERT INTO workflow_step_transitions (workflow_step_uuid, task_uuid, from_state, to_state, event, metadata)
		SELECT workflow_step_uuid, $1, old_state, 'error', $3, $4 FROM upd`,
		st.TaskUUID, from, string(state.StepEventStalenessTimeout), meta)
	if err != nil {
		return fmt.Errorf("failing unfinished steps: %w", err)
	}
	return nil
}

// dlqColumns are the columns of a DLQEntry, named as its db tags say.
const dlqColumns = `dlq_entry_uuid, task_uuid, original_state, dlq_reason, dlq_timestamp, resolution_status,
	resolution_timestamp, resolution_notes, resolved_by, task_snapshot, COALESCE(metadata, '{}') AS metadata,
	created_at, updated_at`

// collectDLQ scans the one entry a query of dlqColumns returned, by column
// name (pgx.ErrNoRows when there is none).
func collectDLQ(rows pgx.Rows, err error) (DLQEntry, error) {
	if err != nil {
		return DLQEntry{}, err
	}
	return pgx.CollectOneRow(rows, pgx.RowToStructByName[DLQEntry])
}

// ListDLQ lists DLQ entries newest first, optionally of one resolution status.
func (s *Store) ListDLQ(ctx context.Context, status string, limit, offset int) ([]DLQEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+dlqColumns+` FROM tasks_dlq
		WHERE $1 = '' OR resolution_status = $1 ORDER BY dlq_timestamp DESC, dlq_entry_uuid LIMIT $2 OFFSET $3`,
		status, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("listing DLQ: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[DLQEntry])
	if err != nil {
		return nil, fmt.Errorf("listing DLQ: %w", err)
	}
	return out, nil
}

// DLQForTask returns the task's most recent DLQ entry.
func (s *Store) DLQForTask(ctx context.Context, taskID uuid.UUID) (DLQEntry, error) {
	d, err := collectDLQ(s.pool.Query(ctx, `SELECT `+dlqColumns+` FROM tasks_dlq WHERE task_uuid = $1
		ORDER BY dlq_timestamp DESC LIMIT 1`, taskID))
	if err != nil {
		return DLQEntry{}, notFound("DLQ entry for task "+taskID.String(), err)
	}
	return d, nil
}

// DLQUpdate changes an investigation record; nil fields stay as they are.
type DLQUpdate struct {
	ResolutionStatus *string
	ResolutionNotes  *string
	ResolvedBy       *string
	Metadata         json.RawMessage
}

// UpdateDLQ updates an entry. Moving it out of pending stamps the resolution
// time.
func (s *Store) UpdateDLQ(ctx context.Context, id uuid.UUID, u DLQUpdate) (DLQEntry, error) {
	var meta any
	if len(u.Metadata) > 0 {
		meta = u.Metadata
	}
	d, err := collectDLQ(s.pool.Query(ctx, `UPDATE tasks_dlq SET
			resolution_status = COALESCE($2, resolution_status),
			resolution_notes = COALESCE($3, resolution_notes),
			resolved_by = COALESCE($4, resolved_by),
			metadata = COALESCE(metadata, '{}'::jsonb) || COALESCE($5::jsonb, '{}'::jsonb),
			resolution_timestamp = CASE WHEN COALESCE($2, resolution_status) <> 'pending'
				THEN COALESCE(resolution_timestamp, now()) ELSE NULL END,
			updated_at = now()
		WHERE dlq_entry_uuid = $1 RETURNING `+dlqColumns, id, u.ResolutionStatus, u.ResolutionNotes, u.ResolvedBy, meta))
	if err != nil {
		if isUniqueViolation(err, "tasks_dlq_pending_idx") {
			return DLQEntry{}, fmt.Errorf("the task already has an open DLQ entry: %w", ErrConflict)
		}
		return DLQEntry{}, notFound("DLQ entry "+id.String(), err)
	}
	return d, nil
}

// DLQStat summarises entries of one reason.
type DLQStat struct {
	Reason                   string     `db:"dlq_reason"`
	Total                    int        `db:"total"`
	Pending                  int        `db:"pending"`
	ManuallyResolved         int        `db:"manually_resolved"`
	PermanentlyFailed        int        `db:"permanently_failed"`
	Cancelled                int        `db:"cancelled"`
	Oldest                   *time.Time `db:"oldest"`
	Newest                   *time.Time `db:"newest"`
	AverageResolutionMinutes *float64   `db:"average_resolution_minutes"`
}

// DLQStats summarises the DLQ per reason.
func (s *Store) DLQStats(ctx context.Context) ([]DLQStat, error) {
	rows, err := s.pool.Query(ctx, `SELECT dlq_reason, count(*) AS total,
			count(*) FILTER (WHERE resolution_status = 'pending') AS pending,
			count(*) FILTER (WHERE resolution_status = 'manually_resolved') AS manually_resolved,
			count(*) FILTER (WHERE resolution_status = 'permanently_failed') AS permanently_failed,
			count(*) FILTER (WHERE resolution_status = 'cancelled') AS cancelled,
			min(dlq_timestamp) AS oldest, max(dlq_timestamp) AS newest,
			avg(EXTRACT(EPOCH FROM resolution_timestamp - dlq_timestamp) / 60)
				FILTER (WHERE resolution_timestamp IS NOT NULL) AS average_resolution_minutes
		FROM tasks_dlq GROUP BY dlq_reason ORDER BY dlq_reason`)
	if err != nil {
		return nil, fmt.Errorf("reading DLQ stats: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[DLQStat])
	if err != nil {
		return nil, fmt.Errorf("reading DLQ stats: %w", err)
	}
	return out, nil
}

// StateCounts counts tasks and steps by state (for metrics and health).
type StateCounts struct {
	Tasks map[state.TaskState]int64
	Steps map[state.StepState]int64
}

// stateCount is one row of a count of tasks (kind t) or steps (kind s) by
// state.
type stateCount struct {
	Kind  string `db:"kind"`
	State string `db:"state"`
	N     int64  `db:"n"`
}

// CountStates counts every task and step by state.
func (s *Store) CountStates(ctx context.Context) (StateCounts, error) {
	out := StateCounts{Tasks: map[state.TaskState]int64{}, Steps: map[state.StepState]int64{}}
	rows, err := s.pool.Query(ctx, `SELECT 't' AS kind, state, count(*) AS n FROM tasks GROUP BY state
		UNION ALL SELECT 's', state, count(*) FROM workflow_steps GROUP BY state`)
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
