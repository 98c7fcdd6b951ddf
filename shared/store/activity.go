package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/state"
)

// Activity is the system's recent history and present load, for the
// dashboard's overview: tasks per state now, tasks created and finished
// per time bucket with the finished tasks' latency, and the live workers
// with the steps each is running. Every part reads an index bounded by the
// window or by the open tasks, except the per-state count, which is one
// statement over the tasks table.
type Activity struct {
	// TasksByState counts every task by its state.
	TasksByState map[state.TaskState]int64
	Buckets      []ActivityBucket
	Workers      []WorkerLoad
}

// ActivityBucket is one time bucket of the window.
type ActivityBucket struct {
	Start time.Time
	// Created counts the tasks created in the bucket; Finished the tasks
	// that reached each terminal state in it (by the time of their last
	// transition).
	Created  int64
	Finished map[state.TaskState]int64
	// LatencyP50 and LatencyP95 are the creation-to-completion times of
	// the tasks that completed in the bucket, in seconds (nil: none did).
	LatencyP50, LatencyP95 *float64
}

// WorkerLoad is a live worker with the steps it holds in progress.
type WorkerLoad struct {
	LiveWorker
	InProgressSteps int64
}

// ActivityWindow bounds an Activity read: Buckets buckets of Bucket each,
// ending now.
type ActivityWindow struct {
	Buckets int
	Bucket  time.Duration
}

// Activity reads the overview figures in one round trip.
func (s *Store) Activity(ctx context.Context, w ActivityWindow) (Activity, error) {
	if w.Buckets < 1 || w.Buckets > 1000 || w.Bucket < time.Second {
		return Activity{}, fmt.Errorf("%w: activity window of %d buckets of %s (1-1000 buckets of at least a second)",
			ErrInvalidInput, w.Buckets, w.Bucket)
	}
	bucketSec := int64(w.Bucket / time.Second)
	// The window ends at the end of the current bucket, aligned to the
	// bucket size, so successive reads share their buckets.
	end := time.Unix((time.Now().Unix()/bucketSec+1)*bucketSec, 0).UTC()
	since := end.Add(-time.Duration(w.Buckets) * time.Duration(bucketSec) * time.Second)
	out := Activity{TasksByState: map[state.TaskState]int64{}}
	for _, st := range state.TaskStates {
		out.TasksByState[st] = 0
	}
	out.Buckets = make([]ActivityBucket, w.Buckets)
	for i := range out.Buckets {
		out.Buckets[i] = ActivityBucket{Start: since.Add(time.Duration(int64(i)*bucketSec) * time.Second),
			Finished: map[state.TaskState]int64{}}
	}
	bucketOf := func(i int) *ActivityBucket {
		if i < 0 || i >= len(out.Buckets) {
			return nil
		}
		return &out.Buckets[i]
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT state, count(*) FROM tasks GROUP BY state`).Query(func(rows pgx.Rows) error {
		var st string
		var n int64
		_, err := pgx.ForEachRow(rows, []any{&st, &n}, func() error {
			out.TasksByState[state.TaskState(st)] = n
			return nil
		})
		return err
	})
	b.Queue(`SELECT floor(extract(epoch FROM created_at - $1::timestamptz) / $2::bigint)::int, count(*)
		FROM tasks WHERE created_at >= $1::timestamptz GROUP BY 1`, since, bucketSec).Query(func(rows pgx.Rows) error {
		var i int
		var n int64
		_, err := pgx.ForEachRow(rows, []any{&i, &n}, func() error {
			if bk := bucketOf(i); bk != nil {
				bk.Created = n
			}
			return nil
		})
		return err
	})
	// The condition repeats tasks_finished_idx's predicate so that the
	// planner can read that index.
	b.Queue(`SELECT floor(extract(epoch FROM state_changed_at - $1::timestamptz) / $2::bigint)::int AS i, state, count(*),
			percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - created_at)::float8)
				FILTER (WHERE state = 'complete' AND completed_at IS NOT NULL),
			percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - created_at)::float8)
				FILTER (WHERE state = 'complete' AND completed_at IS NOT NULL)
		FROM tasks WHERE state IN (`+terminalTaskStates+`) AND state_changed_at >= $1::timestamptz
		GROUP BY 1, 2`, since, bucketSec).Query(func(rows pgx.Rows) error {
		var i int
		var st string
		var n int64
		var p50, p95 *float64
		_, err := pgx.ForEachRow(rows, []any{&i, &st, &n, &p50, &p95}, func() error {
			bk := bucketOf(i)
			if bk == nil {
				return nil
			}
			bk.Finished[state.TaskState(st)] = n
			if st == string(state.TaskComplete) {
				bk.LatencyP50, bk.LatencyP95 = p50, p95
			}
			return nil
		})
		return err
	})
	// In-progress steps are found through the open tasks (tasks_open_idx):
	// a finished task holds none.
	inProgress := map[int64]int64{}
	b.Queue(`SELECT ws.claimer_lock, count(*) FROM tasks t
		JOIN workflow_steps ws ON ws.task_uuid = t.task_uuid
		WHERE t.state NOT IN (` + terminalTaskStates + `) AND ws.state = 'in_progress' AND ws.claimer_lock IS NOT NULL
		GROUP BY 1`).Query(func(rows pgx.Rows) error {
		var lock, n int64
		_, err := pgx.ForEachRow(rows, []any{&lock, &n}, func() error {
			inProgress[lock] = n
			return nil
		})
		return err
	})
	var locks []int64
	b.Queue(`SELECT liveness_lock, worker_id, namespaces, callables, started_at, last_seen_at,
			max_concurrent, concurrency_limit
		FROM workers w WHERE ` + fmt.Sprintf(heldLockSQL, "w.liveness_lock") + ` ORDER BY worker_id, started_at`).
		Query(func(rows pgx.Rows) error {
			var lock int64
			var lw LiveWorker
			_, err := pgx.ForEachRow(rows, []any{&lock, &lw.WorkerID, &lw.Namespaces, &lw.Callables, &lw.StartedAt, &lw.LastSeenAt,
				&lw.MaxConcurrent, &lw.ConcurrencyLimit},
				func() error {
					locks = append(locks, lock)
					out.Workers = append(out.Workers, WorkerLoad{LiveWorker: lw})
					return nil
				})
			return err
		})
	if err := s.sendPlannedForArgs(ctx, b); err != nil {
		return Activity{}, fmt.Errorf("reading activity: %w", err)
	}
	for i, lock := range locks {
		out.Workers[i].InProgressSteps = inProgress[lock]
	}
	return out, nil
}

// DLQHistory lists every DLQ entry of a task, newest first: the open
// investigation, if any, and the earlier ones.
func (s *Store) DLQHistory(ctx context.Context, taskID uuid.UUID) ([]DLQEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+dlqColumns+` FROM tasks_dlq WHERE task_uuid = $1
		ORDER BY dlq_timestamp DESC, dlq_entry_uuid`, taskID)
	if err != nil {
		return nil, fmt.Errorf("listing the DLQ entries of task %s: %w", taskID, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[DLQEntry])
	if err != nil {
		return nil, fmt.Errorf("listing the DLQ entries of task %s: %w", taskID, err)
	}
	return out, nil
}
