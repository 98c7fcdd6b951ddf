-- +goose Up
-- Domain events handlers published, one row per event, written in the
-- transaction that commits the step result that carried them (durable
-- events are also sent to their namespace's queue in it). event_uuid is
-- unique so that nothing is recorded twice. Read a task at a time, for the
-- API, the CLI and the task's live event stream.
CREATE TABLE domain_events (
    id                 bigint      GENERATED ALWAYS AS IDENTITY,
    event_uuid         uuid        NOT NULL,
    task_uuid          uuid        NOT NULL REFERENCES tasks ON DELETE CASCADE,
    workflow_step_uuid uuid        NOT NULL,
    name               text        NOT NULL,
    delivery_mode      varchar(16) NOT NULL,
    envelope           jsonb       NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE UNIQUE INDEX domain_events_event_uuid_idx ON domain_events (event_uuid);
CREATE INDEX domain_events_task_idx ON domain_events (task_uuid, id);

-- +goose Down
DROP TABLE domain_events;
