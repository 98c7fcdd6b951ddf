-- +goose Up
-- Finished tasks by the time they finished, for the retention loop (the
-- oldest first). Only terminal rows are in it, so open tasks, which change
-- state all the time, never touch it.
CREATE INDEX tasks_finished_idx ON tasks (state_changed_at)
    WHERE state IN ('complete', 'error', 'cancelled', 'resolved_manually');

-- +goose Down
DROP INDEX tasks_finished_idx;
