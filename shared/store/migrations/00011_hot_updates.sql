-- +goose Up
-- Task and step rows are updated in place (HOT) on the hot path.
--
-- PostgreSQL updates a row "heap-only" (HOT) when no column that any index
-- of the table refers to (as a key, in an expression or in a partial
-- index's predicate) changes value, and the new version fits on the row's
-- page. A HOT update writes no index entry, and the version it replaces is
-- pruned from its page by the next reader, without vacuum. Every other
-- update adds an entry to every index of the table, and the old entries
-- stay until vacuum removes them.
--
-- Rule for tasks and workflow_steps from here on: no index may refer to a
-- column that a transition changes (state, state_changed_at, updated_at,
-- attempts, claimed_by, claim_deadline, claimer_lock, in_process, processed,
-- processed_at, results, checkpoint, next_retry_at, nudged_at, ...). The one
-- exception is tasks.completed_at, set once when a task finishes (and
-- cleared if an operator re-opens it): the open-tasks index is defined by
-- it, so a task's finishing update is its only update that is not HOT. An
-- index for a new query (task-list filters, keyset paging) keys on columns
-- fixed at creation (created_at, namespace, named_task_uuid, initiator, ...)
-- and, for open tasks only, adds "WHERE completed_at IS NULL"; it must not
-- key on or filter by state. TestTaskAndStepUpdatesAreHOT (shared/store)
-- counts HOT updates and fails when an index breaks this.

-- The open tasks, for the pollers (readiness, staleness, reconciler), the
-- unserved-steps count and task lists filtered to open states. It was
-- (state, state_changed_at) WHERE state NOT IN (terminal states), which
-- every task transition changes, so no task update was HOT. Keyed on
-- created_at (fixed at creation, and the task list's order); its queries
-- say "completed_at IS NULL" for the planner to match the predicate and
-- filter on state from the row.
DROP INDEX tasks_open_idx;
CREATE INDEX tasks_open_idx ON tasks (created_at) WHERE completed_at IS NULL;

-- Finished tasks by the time they finished, for retention only (it runs a
-- few times an hour). Its predicate names state, so it blocked HOT updates
-- too, and it grew with every finished task. Retention now walks
-- tasks_created_at_idx over the tasks created before its cutoff (a task
-- finishes after it is created), which also serves the task list and the
-- analytics window.
DROP INDEX tasks_finished_idx;

-- Edges go with their task. They referenced both of their steps, ON
-- DELETE CASCADE, and nothing indexes to_step_uuid: deleting a task's
-- steps (retention) ran a sequential scan of all edges per step, a cost
-- that grew with the history. Steps are only ever deleted with their task,
-- so the edges now reference the task instead, through the
-- (task_uuid) index retention's cascade uses. It also saves the two
-- foreign-key checks on workflow_steps every edge insert made.
ALTER TABLE workflow_step_edges DROP CONSTRAINT workflow_step_edges_from_step_uuid_fkey,
    DROP CONSTRAINT workflow_step_edges_to_step_uuid_fkey;
ALTER TABLE workflow_step_edges ADD CONSTRAINT workflow_step_edges_task_uuid_fkey
    FOREIGN KEY (task_uuid) REFERENCES tasks ON DELETE CASCADE;

-- Deleting a task deletes its DLQ entries: the cascade looks them up by
-- task_uuid, which only the partial index of pending entries had.
CREATE INDEX tasks_dlq_task_idx ON tasks_dlq (task_uuid);

-- completed_at is what tells an open task from a finished one to the index
-- above: an open task always has none. Tasks written before every terminal
-- transition set it get the time of their last transition.
UPDATE tasks SET completed_at = state_changed_at
    WHERE completed_at IS NULL AND state IN ('complete', 'error', 'cancelled', 'resolved_manually');
UPDATE tasks SET completed_at = NULL
    WHERE completed_at IS NOT NULL AND state NOT IN ('complete', 'error', 'cancelled', 'resolved_manually');
ALTER TABLE tasks ADD CONSTRAINT tasks_open_has_no_completed_at
    CHECK (completed_at IS NULL OR state IN ('complete', 'error', 'cancelled', 'resolved_manually'));

-- Room on each page for the new versions of its rows (it was 85): a step
-- row gets three or four new versions within a second or two (enqueued,
-- claimed, result, processed; the result makes it longer), several in one
-- transaction when a batch touches steps that share a page, and the old
-- versions are pruned only once the transactions that wrote them are over.
-- A task row changes less often. Applies to pages written from now on.
ALTER TABLE workflow_steps SET (fillfactor = 70);
ALTER TABLE tasks SET (fillfactor = 70);

-- +goose Down
DROP INDEX tasks_dlq_task_idx;
ALTER TABLE workflow_step_edges DROP CONSTRAINT workflow_step_edges_task_uuid_fkey;
ALTER TABLE workflow_step_edges ADD CONSTRAINT workflow_step_edges_from_step_uuid_fkey
    FOREIGN KEY (from_step_uuid) REFERENCES workflow_steps ON DELETE CASCADE;
ALTER TABLE workflow_step_edges ADD CONSTRAINT workflow_step_edges_to_step_uuid_fkey
    FOREIGN KEY (to_step_uuid) REFERENCES workflow_steps ON DELETE CASCADE;
ALTER TABLE tasks SET (fillfactor = 85);
ALTER TABLE workflow_steps SET (fillfactor = 85);
ALTER TABLE tasks DROP CONSTRAINT tasks_open_has_no_completed_at;
CREATE INDEX tasks_finished_idx ON tasks (state_changed_at)
    WHERE state IN ('complete', 'error', 'cancelled', 'resolved_manually');
DROP INDEX tasks_open_idx;
CREATE INDEX tasks_open_idx ON tasks (state, state_changed_at)
    WHERE state NOT IN ('complete', 'error', 'cancelled', 'resolved_manually');
