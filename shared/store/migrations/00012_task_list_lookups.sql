-- +goose Up
-- The task list's lookups that the newest-first scan of
-- tasks_created_at_idx cannot answer quickly on a large table: a search by
-- correlation id (one task, or a few, among millions) and the tasks of one
-- initiator (which may be rare). Both columns are written once, when the
-- task is created, and never updated, so these indexes cost one entry per
-- insert and nothing on the state changes (those stay heap-only updates).
CREATE INDEX tasks_correlation_id_idx ON tasks (correlation_id);
CREATE INDEX tasks_initiator_idx ON tasks (initiator, created_at DESC, task_uuid DESC)
    WHERE initiator IS NOT NULL;

-- +goose Down
DROP INDEX tasks_initiator_idx;
DROP INDEX tasks_correlation_id_idx;
