package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tasker-go/tasker/shared/state"
)

// A worker's completion normally takes two round trips: the first records
// the results, completes the steps and reads their tasks' graphs; Go plans
// from those graphs; the second applies the plan and commits. When the
// worker itself processed a task's previous completion, it knows the graph
// that completion left (graphCache), and when nothing else of the task can
// have moved since (every other step complete or pending), it knows the
// graph this completion will find: it plans in Go first and sends the
// whole completion, with a guard statement and its COMMIT, in one round
// trip. The guard (guardSQL) checks the prediction against the rows under
// the task's lock and aborts the transaction when it does not hold
// (SQLSTATE TK001, see migration 00015); the results are then completed
// the long way. A linear task's steps after the first complete in one
// round trip each.

// errMispredicted says a predicted completion was rolled back because the
// graph it predicted was not the one in the database.
var errMispredicted = errors.New("the predicted task graph does not hold")

// graphCacheSize bounds the graphs a store remembers: a task's entry lives
// from one completion to the next, so the tasks a worker has in flight
// at once is what it needs.
const graphCacheSize = 1024

// graphCache remembers, per task, the task row and graph as this store's
// last completion of one of its steps left them. An entry is taken (and
// removed) by the completion that uses it, and put back with what that
// completion left; entries of finished tasks are not kept. When full, a
// random entry makes room.
type graphCache struct {
	mu    sync.Mutex
	items map[uuid.UUID]cachedGraph
	// off is set when the database lacks the guard function (a worker
	// newer than its schema): predictions stop.
	off bool
}

type cachedGraph struct {
	task  lockedTask
	graph *taskGraph
}

func newGraphCache() *graphCache {
	return &graphCache{items: map[uuid.UUID]cachedGraph{}}
}

// put remembers the graph of each task of p that stays open, with the
// states the committed plan gave its steps: those it enqueued are
// enqueued, those a continuation claimed in progress.
func (c *graphCache) put(tasks map[uuid.UUID]*lockedTask, p *evalPlan, took *continued) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, t := range tasks {
		g := p.graphs[id]
		if g == nil || t.State.Terminal() || t.TraceParent != "" || g.HasBatches() {
			delete(c.items, id)
			continue
		}
		for _, step := range p.enqueue[id] {
			g.SetState(step, state.StepEnqueued)
		}
		if took != nil {
			for _, step := range took.steps {
				g.SetState(step, state.StepInProgress)
			}
		}
		if _, ok := c.items[id]; !ok && len(c.items) >= graphCacheSize {
			for k := range c.items {
				delete(c.items, k)
				break
			}
		}
		c.items[id] = cachedGraph{task: *t, graph: g}
	}
}

// drop forgets the tasks of results a completion did not process (a
// failure, a busy task, a stale result...): orchestration moves those
// tasks on, so what the cache holds of them is no longer what the next
// completion will find.
func (c *graphCache) drop(results []StepResult, processed []uuid.UUID) {
	if c == nil {
		return
	}
	done := make(map[uuid.UUID]bool, len(processed))
	for _, id := range processed {
		done[id] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range results {
		if !done[r.StepUUID] {
			delete(c.items, r.TaskUUID)
		}
	}
}

// prediction is what a completion expects to find, and the plan made
// from it.
type prediction struct {
	tasks  map[uuid.UUID]*lockedTask
	graphs map[uuid.UUID]*taskGraph
	// The guard's arguments: each task's state, each of their steps'
	// state after the completion, and the steps it completes.
	taskIDs, stepIDs       []uuid.UUID
	taskStates, stepStates []string
	completed              []uuid.UUID
}

// predict takes from the cache what a completion of results needs to plan
// before it runs: it applies when every result is a plain success (see
// processCandidatesOf) of a task whose graph is cached and of which
// nothing else is in flight (every other step complete or pending). The
// entries used are removed; ok is false (and the cache untouched) when
// the completion does not qualify.
func (c *graphCache) predict(results []StepResult) (*prediction, bool) {
	if c == nil || len(results) == 0 {
		return nil, false
	}
	byTask := map[uuid.UUID][]uuid.UUID{}
	for _, r := range results {
		if !r.Success || bytes.Contains(r.Result, []byte(`"domain_events"`)) {
			return nil, false
		}
		byTask[r.TaskUUID] = append(byTask[r.TaskUUID], r.StepUUID)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.off {
		return nil, false
	}
	for id, steps := range byTask {
		e, ok := c.items[id]
		if !ok {
			return nil, false
		}
		for _, step := range steps {
			if e.graph.State(step) == "" {
				return nil, false
			}
		}
		for step, st := range e.graph.States() {
			if st != state.StepComplete && st != state.StepPending && !slices.Contains(steps, step) {
				return nil, false
			}
		}
	}
	pr := &prediction{tasks: map[uuid.UUID]*lockedTask{}, graphs: map[uuid.UUID]*taskGraph{}}
	for _, id := range slices.SortedFunc(maps.Keys(byTask), compareUUID) {
		e := c.items[id]
		delete(c.items, id)
		g := &taskGraph{Graph: e.graph.Clone(), callables: e.graph.callables}
		for _, step := range byTask[id] {
			g.SetState(step, state.StepComplete)
			pr.completed = append(pr.completed, step)
		}
		t := e.task
		pr.tasks[id], pr.graphs[id] = &t, g
		pr.taskIDs = append(pr.taskIDs, id)
		pr.taskStates = append(pr.taskStates, string(t.State))
		for step, st := range g.States() {
			pr.stepIDs = append(pr.stepIDs, step)
			pr.stepStates = append(pr.stepStates, string(st))
		}
	}
	return pr, true
}

// guardSQL holds when the tasks ($1) are in the states predicted ($2),
// their steps are exactly $3 in the states $4 (each predicted step is in
// its state, and the tasks have as many steps as predicted), and this
// transaction completed the steps $5 (recordProcessSQL, earlier in it,
// sets processed_at to its start); otherwise it aborts the transaction
// with SQLSTATE TK001. Every read is by primary key or by task (OFFSET 0
// keeps each lookup a nested index probe whatever the statistics say: a
// generic plan hashed the whole tasks table). The tasks are locked by then
// (a task whose lock was skipped has its step not completed, which fails
// the guard).
const guardSQL = `SELECT tasker_expect(
		(SELECT count(*) FROM unnest($1::uuid[], $2::text[]) AS e(task_uuid, state)
			CROSS JOIN LATERAL (SELECT state FROM tasks WHERE task_uuid = e.task_uuid OFFSET 0) t
			WHERE t.state::text = e.state) = cardinality($1::uuid[])
		AND (SELECT count(*) FROM unnest($3::uuid[], $4::text[]) AS e(step_uuid, state)
			CROSS JOIN LATERAL (SELECT state FROM workflow_steps WHERE workflow_step_uuid = e.step_uuid OFFSET 0) w
			WHERE w.state::text = e.state) = cardinality($3::uuid[])
		AND (SELECT count(*) FROM workflow_steps WHERE task_uuid = ANY($1::uuid[])) = cardinality($3::uuid[])
		AND (SELECT count(*) FROM workflow_steps WHERE workflow_step_uuid = ANY($5::uuid[])
			AND state = 'complete' AND processed_at = now()) = cardinality($5::uuid[]),
		'the completion''s predicted task graph does not hold')`

// completePredicted is CompleteAndProcessSteps on a prediction: record,
// complete, guard, apply the plan made from the prediction, claim (next),
// ack, announce and commit, in one round trip. It returns errMispredicted
// when the guard aborted it (nothing was written).
func (s *Store) completePredicted(ctx context.Context, results []StepResult, pr *prediction, next *Continuation) (CompleteOutcome, error) {
	out := CompleteOutcome{Acked: map[string][]int64{}, Predicted: true}
	payload, err := json.Marshal(results)
	if err != nil {
		return out, fmt.Errorf("encoding results: %w", err)
	}
	receipts := stepReceipts(results, out.Acked)
	cand := processCandidatesOf(results)
	p := s.plan(pr.tasks, pr.graphs, false)
	var took *continued
	err = s.inTxOutbox(ctx, func(o *outbox) error {
		o.b.Queue(recordProcessSQL, payload, stepIDsOf(results), cand.steps, uniqueSorted(cand.tasks))
		o.b.Queue(guardSQL, pr.taskIDs, pr.taskStates, pr.stepIDs, pr.stepStates, pr.completed)
		var err error
		if took, err = s.takeReady(o, pr.tasks, &p, next); err != nil {
			return err
		}
		if err := s.queuePlan(o, pr.tasks, p); err != nil {
			return err
		}
		if err := o.ackAll(receipts); err != nil {
			return err
		}
		touched := make([]string, 0, len(results))
		for _, r := range results {
			touched = append(touched, r.TaskUUID.String())
		}
		o.notify(touched)
		return nil
	})
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			switch pe.Code {
			case "TK001":
				return CompleteOutcome{}, errMispredicted
			case "42883": // undefined_function: the schema predates migration 00015
				s.graphs.mu.Lock()
				s.graphs.off = true
				s.graphs.mu.Unlock()
				s.log.Warn("completions take two round trips: the database lacks tasker_expect (migration 00015); run `tasker migrate up` and restart the worker")
				return CompleteOutcome{}, errMispredicted
			}
		}
		return CompleteOutcome{}, fmt.Errorf("completing steps: %w", err)
	}
	out.Recorded = stepIDsOf(results)
	out.Processed = out.Recorded
	out.Tasks = p.outcomes
	s.graphs.put(pr.tasks, &p, took)
	if out.Claimed, err = took.claimed(); err != nil {
		out.ClaimErr = err
		s.log.Error("steps claimed with a completion cannot be read; the worker releases them", "err", err)
	}
	return out, nil
}
