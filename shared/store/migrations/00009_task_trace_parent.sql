-- +goose Up
-- The W3C traceparent of the span that created the task (the API request's,
-- when tracing is on; NULL otherwise). Every process that works on the task
-- later (the worker that claims a step, the orchestrator that processes its
-- result or finalizes the task) reads it with the rows it already loads and
-- starts its spans as children of it, so a task is one trace across
-- processes. Stored once per task rather than in every queue message: the
-- claim and result paths read the task row anyway, and no message format or
-- queue backend changes.
ALTER TABLE tasks ADD COLUMN trace_parent text;

-- +goose Down
ALTER TABLE tasks DROP COLUMN trace_parent;
