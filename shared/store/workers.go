package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// WorkerRegistration is one worker process as it announces itself: what it
// serves, under the liveness lock it holds while it lives (see
// HoldLiveness).
type WorkerRegistration struct {
	// Lock is the process's liveness lock key; it identifies the row.
	Lock     int64
	WorkerID string
	// Namespaces are the namespaces whose queues the worker consumes.
	Namespaces []string
	// Callables are the handler callables the worker runs; nil means every
	// callable of its namespaces (it claims without routing).
	Callables []string
}

// workerGrace is how long the row of a worker whose liveness lock is free
// is kept: a live worker that lost its connection takes its lock back and
// registers again within it.
const workerGrace = time.Minute

// RegisterWorker records (or refreshes) a worker process in the workers
// registry and drops the rows of processes gone for more than a minute.
// Orchestration reads the registry to tell which waiting steps no live
// worker can run (UnservedSteps).
func (s *Store) RegisterWorker(ctx context.Context, w WorkerRegistration) error {
	if err := w.validate(); err != nil {
		return err
	}
	var callables []string
	if w.Callables != nil {
		callables = slices.Sorted(slices.Values(w.Callables))
		callables = slices.Compact(callables)
	}
	namespaces := slices.Compact(slices.Sorted(slices.Values(w.Namespaces)))
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO workers (liveness_lock, worker_id, namespaces, callables)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (liveness_lock) DO UPDATE SET worker_id = EXCLUDED.worker_id,
			namespaces = EXCLUDED.namespaces, callables = EXCLUDED.callables, last_seen_at = now()`,
		w.Lock, w.WorkerID, namespaces, callables)
	b.Queue(`DELETE FROM workers w WHERE w.last_seen_at < now() - $1 * interval '1 millisecond'
		AND NOT `+fmt.Sprintf(heldLockSQL, "w.liveness_lock"), workerGrace.Milliseconds())
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
			return fmt.Errorf("registering worker %s: the schema has no workers table (migration 00005): run `tasker migrate up`: %w",
				w.WorkerID, err)
		}
		return fmt.Errorf("registering worker %s: %w", w.WorkerID, err)
	}
	return nil
}

func (w WorkerRegistration) validate() error {
	var problems []string
	if w.Lock <= 0 {
		problems = append(problems, fmt.Sprintf("liveness lock must be positive, got %d", w.Lock))
	}
	if w.WorkerID == "" || len(w.WorkerID) > 128 || !utf8.ValidString(w.WorkerID) || strings.ContainsRune(w.WorkerID, 0) {
		problems = append(problems, "worker id must be 1-128 characters of UTF-8 without NUL")
	}
	if len(w.Namespaces) == 0 {
		problems = append(problems, "a worker serves at least one namespace")
	}
	for _, v := range append(slices.Clone(w.Namespaces), w.Callables...) {
		if v == "" || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			problems = append(problems, fmt.Sprintf("namespace or callable %q must be non-empty UTF-8 without NUL", v))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: registering worker: %s", ErrInvalidInput, strings.Join(problems, "; "))
	}
	return nil
}

// DeregisterWorker removes a worker process's row (it is stopping).
func (s *Store) DeregisterWorker(ctx context.Context, lock int64) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM workers WHERE liveness_lock = $1`, lock); err != nil {
		return fmt.Errorf("deregistering worker: %w", err)
	}
	return nil
}

// LiveWorker is a registered worker whose process is alive (it holds its
// liveness lock).
type LiveWorker struct {
	WorkerID   string    `json:"worker_id" db:"worker_id"`
	Namespaces []string  `json:"namespaces" db:"namespaces"`
	Callables  []string  `json:"callables" db:"callables"` // nil: every callable of its namespaces
	StartedAt  time.Time `json:"started_at" db:"started_at"`
	LastSeenAt time.Time `json:"last_seen_at" db:"last_seen_at"`
}

// LiveWorkers lists the registered workers whose process is alive.
func (s *Store) LiveWorkers(ctx context.Context) ([]LiveWorker, error) {
	rows, err := s.pool.Query(ctx, `SELECT worker_id, namespaces, callables, started_at, last_seen_at
		FROM workers w WHERE `+fmt.Sprintf(heldLockSQL, "w.liveness_lock")+` ORDER BY worker_id, started_at`)
	if err != nil {
		return nil, fmt.Errorf("listing live workers: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[LiveWorker])
	if err != nil {
		return nil, fmt.Errorf("listing live workers: %w", err)
	}
	return out, nil
}

// UnservedSteps counts, for one namespace and callable, the step messages
// waiting in the namespace's queue that no live worker can run.
type UnservedSteps struct {
	Namespace string `json:"namespace"`
	// Callable is the steps' handler callable ("" for messages that carry
	// none: only a worker that claims without routing takes them).
	Callable string `json:"callable"`
	Steps    int64  `json:"steps"`
	// OldestAge is how long the oldest of them has waited.
	OldestAge time.Duration `json:"oldest_age"`
}

// UnservedSteps reports the steps waiting in the worker queues whose
// callable no live worker of their namespace serves (a live worker is a
// registered one whose process holds its liveness lock). They are not
// failed: they wait in their queue, and run as soon as a worker that has
// their handler starts. Only messages of steps that can still run count
// (enqueued, waiting for a retry, or in progress, of a task not finished):
// a leftover message of a finished step is dropped by the next claim that
// meets it. One statement over every worker queue; it needs the PostgreSQL
// queue.
func (s *Store) UnservedSteps(ctx context.Context) ([]UnservedSteps, error) {
	if s.tables == nil {
		return nil, fmt.Errorf("counting unserved steps: %w", errNoTables)
	}
	// The tables are listed afresh: a namespace's queue that appeared a
	// moment ago is counted at once.
	tables, err := s.listWorkerQueueTables(ctx)
	if err != nil || len(tables) == 0 {
		return nil, err
	}
	parts := make([]string, len(tables))
	for i, t := range tables {
		// The queue name was validated (letters, digits, underscores), and
		// a worker queue's name always has this shape.
		ns := strings.TrimSuffix(strings.TrimPrefix(t.queue, "worker_"), "_queue")
		parts[i] = `SELECT '` + ns + `'::text AS namespace, callable, message->>'step_uuid' AS step, enqueued_at
			FROM ` + t.table
	}
	rows, err := s.pool.Query(ctx, `WITH live AS MATERIALIZED (
			SELECT namespaces, callables FROM workers w WHERE `+fmt.Sprintf(heldLockSQL, "w.liveness_lock")+`
		), m AS (`+strings.Join(parts, "\n\t\t\tUNION ALL ")+`
		), waiting AS (
			SELECT m.namespace, m.callable, count(DISTINCT s.workflow_step_uuid) AS steps, min(m.enqueued_at) AS oldest
			FROM m
			JOIN workflow_steps s ON s.workflow_step_uuid = `+messageStepSQL+`
			JOIN tasks t ON t.task_uuid = s.task_uuid
			WHERE s.state IN ('enqueued', 'waiting_for_retry', 'in_progress')
			  AND t.state NOT IN (`+terminalTaskStates+`)
			GROUP BY 1, 2
		)
		SELECT q.namespace, COALESCE(q.callable, '') AS callable, q.steps,
			GREATEST(EXTRACT(EPOCH FROM now() - q.oldest), 0)::float8 AS oldest_seconds
		FROM waiting q
		WHERE NOT EXISTS (SELECT 1 FROM live l WHERE q.namespace = ANY(l.namespaces)
			AND (l.callables IS NULL OR q.callable = ANY(l.callables)))
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("counting unserved steps: %w", err)
	}
	type unservedRow struct {
		Namespace     string  `db:"namespace"`
		Callable      string  `db:"callable"`
		Steps         int64   `db:"steps"`
		OldestSeconds float64 `db:"oldest_seconds"`
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (UnservedSteps, error) {
		u, err := pgx.RowToStructByName[unservedRow](r)
		return UnservedSteps{Namespace: u.Namespace, Callable: u.Callable, Steps: u.Steps,
			OldestAge: time.Duration(u.OldestSeconds * float64(time.Second))}, err
	})
	if err != nil {
		return nil, fmt.Errorf("counting unserved steps: %w", err)
	}
	return out, nil
}
