-- +goose Up
-- A step is known within its task by its name. Steps created while a task
-- runs (the branches a decision point chooses, the workers of a batch) are
-- inserted with ON CONFLICT on this index, so a result processed twice, or
-- by two orchestrators at once, creates each step exactly once. Batch
-- worker instances share their template step's named step, so the
-- (task_uuid, named_step_uuid) pair is no longer unique; probes of a
-- task's steps use this index instead.
CREATE UNIQUE INDEX workflow_steps_task_name_idx ON workflow_steps (task_uuid, name);
ALTER TABLE workflow_steps DROP CONSTRAINT workflow_steps_task_uuid_named_step_uuid_key;

-- +goose Down
ALTER TABLE workflow_steps ADD CONSTRAINT workflow_steps_task_uuid_named_step_uuid_key
    UNIQUE (task_uuid, named_step_uuid);
DROP INDEX workflow_steps_task_name_idx;
