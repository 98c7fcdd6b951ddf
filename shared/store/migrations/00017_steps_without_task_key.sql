-- +goose Up
-- A task's steps are written by the statement batch that writes the task
-- (CreateTask) or, for steps added at run time, by a statement that locks
-- the task first (decision points, batches); they are deleted only with
-- their task, by retention, which now deletes them explicitly in its
-- statement (see PurgeFinishedTasks). The foreign key checked, for every
-- step inserted, the task row the same batch had just written: a
-- SELECT ... FOR KEY SHARE per step through a plan each session caches,
-- and a lock record in the WAL per task. Measured on the creation
-- transaction alone: 10-20 % of the steps insert. A cached plan made while
-- tasks was small also read the whole table once history had grown (4.5 ms
-- per step insert until the next ANALYZE).
ALTER TABLE workflow_steps DROP CONSTRAINT workflow_steps_task_uuid_fkey;

-- +goose Down
-- NOT VALID: steps left by a purge interrupted halfway would fail the
-- check; new rows are checked.
ALTER TABLE workflow_steps ADD CONSTRAINT workflow_steps_task_uuid_fkey
    FOREIGN KEY (task_uuid) REFERENCES tasks ON DELETE CASCADE NOT VALID;
