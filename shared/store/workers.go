package store

import (
	"context"
	"errors"
	"fmt"
	"math"
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
	// MaxConcurrent is the most step handlers the worker runs at once (its
	// handlers.max_concurrent); ConcurrencyLimit the limit in force now
	// (at most MaxConcurrent; lower while an adaptive worker has scaled
	// down). 0 means unknown.
	MaxConcurrent, ConcurrencyLimit int
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
	b.Queue(`INSERT INTO workers (liveness_lock, worker_id, namespaces, callables, max_concurrent, concurrency_limit)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (liveness_lock) DO UPDATE SET worker_id = EXCLUDED.worker_id,
			namespaces = EXCLUDED.namespaces, callables = EXCLUDED.callables,
			max_concurrent = EXCLUDED.max_concurrent, concurrency_limit = EXCLUDED.concurrency_limit, last_seen_at = now()`,
		w.Lock, w.WorkerID, namespaces, callables, w.MaxConcurrent, w.ConcurrencyLimit)
	b.Queue(`DELETE FROM workers w WHERE w.last_seen_at < now() - $1 * interval '1 millisecond'
		AND NOT `+fmt.Sprintf(heldLockSQL, "w.liveness_lock"), workerGrace.Milliseconds())
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
			return fmt.Errorf("registering worker %s: the schema has no workers table (migration 00005): run `tasker migrate up`: %w",
				w.WorkerID, err)
		}
		if errors.As(err, &pe) && pe.Code == "42703" { // undefined_column
			return fmt.Errorf("registering worker %s: the workers table has no capacity columns (migration 00014): run `tasker migrate up`: %w",
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
	problems = append(problems, capacityProblems(w.MaxConcurrent, w.ConcurrencyLimit)...)
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

// capacityProblems checks a worker's handler capacity: both figures at
// least 0 (0: unknown), the limit in force at most the ceiling.
func capacityProblems(maxConcurrent, limit int) []string {
	var problems []string
	if maxConcurrent < 0 || limit < 0 {
		problems = append(problems, fmt.Sprintf("max concurrent (%d) and concurrency limit (%d) must not be negative", maxConcurrent, limit))
	} else if maxConcurrent > 0 && limit > maxConcurrent {
		problems = append(problems, fmt.Sprintf("concurrency limit %d exceeds max concurrent %d", limit, maxConcurrent))
	}
	if maxConcurrent > math.MaxInt32 || limit > math.MaxInt32 {
		problems = append(problems, "max concurrent and concurrency limit must fit in 32 bits")
	}
	return problems
}

// UpdateWorkerConcurrency records the handler limit now in force of a
// registered worker (its adaptive limit changed). It writes nothing per
// step: a worker calls it only when the limit moves. A worker with no row
// (not registered yet, or its row was dropped) is left alone: its next
// registration writes the limit.
func (s *Store) UpdateWorkerConcurrency(ctx context.Context, lock int64, limit int) error {
	if problems := capacityProblems(0, limit); lock <= 0 || len(problems) > 0 {
		return fmt.Errorf("%w: updating worker concurrency: liveness lock %d, limit %d (lock positive, limit 0 or more)",
			ErrInvalidInput, lock, limit)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE workers SET concurrency_limit = $2
		WHERE liveness_lock = $1 AND (max_concurrent = 0 OR $2 <= max_concurrent)`, lock, limit); err != nil {
		return fmt.Errorf("updating worker concurrency: %w", err)
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
	// MaxConcurrent and ConcurrencyLimit are the worker's handler ceiling
	// and the limit in force (see WorkerRegistration); 0: unknown.
	MaxConcurrent    int `json:"max_concurrent" db:"max_concurrent"`
	ConcurrencyLimit int `json:"concurrency_limit" db:"concurrency_limit"`
}

// LiveWorkers lists the registered workers whose process is alive.
func (s *Store) LiveWorkers(ctx context.Context) ([]LiveWorker, error) {
	rows, err := s.pool.Query(ctx, `SELECT worker_id, namespaces, callables, started_at, last_seen_at,
			max_concurrent, concurrency_limit
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
// meets it. One statement over every worker queue; with a driver that has
// no queue tables, one statement over the steps of the open tasks (the
// same steps: those whose message is still out).
func (s *Store) UnservedSteps(ctx context.Context) ([]UnservedSteps, error) {
	if s.tables == nil {
		return s.unservedStepsOfOpenTasks(ctx)
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
	out, err := pgx.CollectRows(rows, rowToUnserved)
	if err != nil {
		return nil, fmt.Errorf("counting unserved steps: %w", err)
	}
	return out, nil
}

// rowToUnserved reads a row (namespace, callable, steps, oldest_seconds)
// of an unserved steps count.
func rowToUnserved(r pgx.CollectableRow) (UnservedSteps, error) {
	type unservedRow struct {
		Namespace     string  `db:"namespace"`
		Callable      string  `db:"callable"`
		Steps         int64   `db:"steps"`
		OldestSeconds float64 `db:"oldest_seconds"`
	}
	u, err := pgx.RowToStructByName[unservedRow](r)
	return UnservedSteps{Namespace: u.Namespace, Callable: u.Callable, Steps: u.Steps,
		OldestAge: time.Duration(u.OldestSeconds * float64(time.Second))}, err
}
