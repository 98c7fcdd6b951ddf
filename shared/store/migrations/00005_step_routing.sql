-- +goose Up
-- Steps are routed to the workers that can run them: every step message
-- carries its handler callable ("callable" in the message JSON), the queue
-- tables keep it in a column of their own with a partial index on
-- (callable, msg_id), and a worker claims only the callables it serves.
--
-- The queue tables (mq_<queue>) are created at run time by the Postgres
-- queue backend with the column and the index; this gives them to the
-- tables that exist now, and fills in the callable of the step messages
-- already waiting (sent before messages carried it) from their steps.
-- +goose StatementBegin
DO $$
DECLARE
    q record;
BEGIN
    FOR q IN SELECT c.relname FROM pg_class c
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
               AND c.relname LIKE 'mq\_%'
               AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'message' AND NOT a.attisdropped)
               AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'msg_id' AND NOT a.attisdropped)
    LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS callable text', q.relname);
        IF q.relname LIKE 'mq\_worker\_%\_queue' THEN
            EXECUTE format($u$
                UPDATE %I m SET callable = s.handler_callable,
                    message = m.message || jsonb_build_object('callable', s.handler_callable)
                FROM workflow_steps s
                WHERE m.callable IS NULL AND s.workflow_step_uuid::text = m.message->>'step_uuid'$u$, q.relname);
        END IF;
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (callable, msg_id) WHERE callable IS NOT NULL',
                       q.relname || '_callable', q.relname);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- The workers serving steps, one row per worker process (keyed by its
-- liveness lock, which the process holds for as long as it lives: a row
-- whose lock is free belongs to a process that is gone). Orchestration
-- reads it to tell which waiting steps no live worker can run (the
-- unserved steps of /health/detailed and tasker_unserved_steps).
CREATE TABLE workers (
    liveness_lock bigint       PRIMARY KEY,
    worker_id     varchar(128) NOT NULL,
    namespaces    text[]       NOT NULL,
    -- NULL: the worker runs every callable of its namespaces (its executor
    -- does not list what it can run, so it claims without routing).
    callables     text[],
    started_at    timestamptz  NOT NULL DEFAULT now(),
    last_seen_at  timestamptz  NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE workers;
-- +goose StatementBegin
DO $$
DECLARE
    q record;
BEGIN
    FOR q IN SELECT tablename FROM pg_tables
             WHERE schemaname = current_schema() AND tablename LIKE 'mq\_%'
    LOOP
        EXECUTE format('DROP INDEX IF EXISTS %I', q.tablename || '_callable');
        EXECUTE format('ALTER TABLE %I DROP COLUMN IF EXISTS callable', q.tablename);
    END LOOP;
END
$$;
-- +goose StatementEnd
