-- +goose Up
-- The history tables (step and task transitions), the result audit and the
-- edges are written only by statements that write the step or task row
-- they describe (in the same statement or transaction), and deleted only
-- by retention, which now deletes them explicitly with their task (see
-- PurgeFinishedTasks). Their foreign keys checked, for every row inserted,
-- what the statement that inserted it had just written: ~28 checks per
-- linear four-step task, 6-7 µs of trigger work each on the hot path,
-- about a tenth of the database's CPU per step. Steps keep theirs to tasks
-- (written once per step, at creation), as do DLQ entries and domain
-- events (not on the hot path).
ALTER TABLE workflow_step_transitions DROP CONSTRAINT workflow_step_transitions_workflow_step_uuid_fkey;
ALTER TABLE workflow_step_result_audit DROP CONSTRAINT workflow_step_result_audit_workflow_step_uuid_fkey;
ALTER TABLE task_transitions DROP CONSTRAINT task_transitions_task_uuid_fkey;
ALTER TABLE workflow_step_edges DROP CONSTRAINT workflow_step_edges_task_uuid_fkey;

-- +goose Down
-- NOT VALID: rows left by a purge interrupted halfway would fail the
-- check; new rows are checked.
ALTER TABLE workflow_step_edges ADD CONSTRAINT workflow_step_edges_task_uuid_fkey
    FOREIGN KEY (task_uuid) REFERENCES tasks ON DELETE CASCADE NOT VALID;
ALTER TABLE task_transitions ADD CONSTRAINT task_transitions_task_uuid_fkey
    FOREIGN KEY (task_uuid) REFERENCES tasks ON DELETE CASCADE NOT VALID;
ALTER TABLE workflow_step_result_audit ADD CONSTRAINT workflow_step_result_audit_workflow_step_uuid_fkey
    FOREIGN KEY (workflow_step_uuid) REFERENCES workflow_steps ON DELETE CASCADE NOT VALID;
ALTER TABLE workflow_step_transitions ADD CONSTRAINT workflow_step_transitions_workflow_step_uuid_fkey
    FOREIGN KEY (workflow_step_uuid) REFERENCES workflow_steps ON DELETE CASCADE NOT VALID;
