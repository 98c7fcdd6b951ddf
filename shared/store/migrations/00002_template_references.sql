-- +goose Up
-- Every task references its template (named_tasks) and every step its
-- named step. As foreign keys, each insert takes a FOR KEY SHARE lock on the
-- referenced row; with many concurrent creations of the same template that
-- one row is locked by every open transaction at once, which PostgreSQL
-- records as a multixact rewritten on each insert. Under load this was the
-- largest single cost of task creation (measured with tasker bench and
-- pg_stat_statements: 1.0 ms per 4-step insert with the keys, 0.3-0.5 ms
-- without).
--
-- The keys only ever guarded against deleting a template that tasks still
-- use. Tasker never deletes templates (registration is an upsert), so the
-- keys are replaced by triggers that refuse DELETE and TRUNCATE of these
-- tables outright, which protects every task's reference without a lock on
-- the hot path. Inserts take their ids from rows that exist (looked up or
-- created by the same code path before the task is written).

ALTER TABLE tasks DROP CONSTRAINT tasks_named_task_uuid_fkey;
ALTER TABLE workflow_steps DROP CONSTRAINT workflow_steps_named_step_uuid_fkey;

-- +goose StatementBegin
CREATE FUNCTION tasker_refuse_template_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rows of % are never deleted: tasks reference them (register a new version instead)', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER named_tasks_no_delete BEFORE DELETE OR TRUNCATE ON named_tasks
    FOR EACH STATEMENT EXECUTE FUNCTION tasker_refuse_template_delete();
CREATE TRIGGER named_steps_no_delete BEFORE DELETE OR TRUNCATE ON named_steps
    FOR EACH STATEMENT EXECUTE FUNCTION tasker_refuse_template_delete();

-- +goose Down
DROP TRIGGER named_steps_no_delete ON named_steps;
DROP TRIGGER named_tasks_no_delete ON named_tasks;
DROP FUNCTION tasker_refuse_template_delete();
ALTER TABLE workflow_steps ADD CONSTRAINT workflow_steps_named_step_uuid_fkey
    FOREIGN KEY (named_step_uuid) REFERENCES named_steps;
ALTER TABLE tasks ADD CONSTRAINT tasks_named_task_uuid_fkey
    FOREIGN KEY (named_task_uuid) REFERENCES named_tasks;
