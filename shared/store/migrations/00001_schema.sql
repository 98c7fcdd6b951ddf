-- +goose Up
-- Tasker schema. Every object is created unqualified: the connection's
-- search_path names the schema (default "tasker"; tests use one per test).
--
-- Current state lives in a column on tasks and workflow_steps; the
-- *_transitions tables are append-only history. Queue tables are created at
-- run time by the Postgres queue backend (see shared/messaging/pgqueue).

CREATE TABLE task_namespaces (
    task_namespace_uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                varchar(64)  NOT NULL UNIQUE,
    description         varchar(255),
    created_at          timestamptz  NOT NULL DEFAULT now(),
    updated_at          timestamptz  NOT NULL DEFAULT now()
);

CREATE TABLE named_tasks (
    named_task_uuid     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_namespace_uuid uuid         NOT NULL REFERENCES task_namespaces,
    name                varchar(255) NOT NULL,
    version             varchar(50)  NOT NULL,
    description         text,
    configuration       jsonb        NOT NULL,
    identity_strategy   varchar(20)  NOT NULL DEFAULT 'strict'
        CHECK (identity_strategy IN ('strict', 'caller_provided', 'always_unique')),
    created_at          timestamptz  NOT NULL DEFAULT now(),
    updated_at          timestamptz  NOT NULL DEFAULT now(),
    UNIQUE (task_namespace_uuid, name, version)
);

CREATE INDEX named_tasks_lifecycle_idx ON named_tasks USING gin ((configuration -> 'lifecycle'));

CREATE TABLE named_steps (
    named_step_uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name            varchar(128) NOT NULL UNIQUE,
    description     text,
    created_at      timestamptz  NOT NULL DEFAULT now()
);

CREATE TABLE tasks (
    task_uuid             uuid PRIMARY KEY,
    named_task_uuid       uuid         NOT NULL REFERENCES named_tasks,
    namespace             varchar(64)  NOT NULL,
    state                 varchar(32)  NOT NULL DEFAULT 'pending' CHECK (state IN (
        'pending', 'initializing', 'enqueuing_steps', 'steps_in_process', 'evaluating_results',
        'waiting_for_dependencies', 'waiting_for_retry', 'blocked_by_failures',
        'complete', 'error', 'cancelled', 'resolved_manually')),
    complete              boolean      NOT NULL DEFAULT false,
    requested_at          timestamptz  NOT NULL DEFAULT now(),
    completed_at          timestamptz,
    initiator             varchar(128),
    source_system         varchar(128),
    reason                varchar(128),
    tags                  jsonb        NOT NULL DEFAULT '[]',
    context               jsonb        NOT NULL DEFAULT '{}',
    identity_hash         varchar(128) NOT NULL,
    priority              integer      NOT NULL DEFAULT 0,
    correlation_id        uuid         NOT NULL,
    parent_correlation_id uuid,
    state_changed_at      timestamptz  NOT NULL DEFAULT now(),
    created_at            timestamptz  NOT NULL DEFAULT now(),
    updated_at            timestamptz  NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX tasks_identity_hash_idx ON tasks (identity_hash);
CREATE INDEX tasks_created_at_idx ON tasks (created_at DESC);
-- Pollers (readiness, staleness, reconciler) only look at open tasks.
CREATE INDEX tasks_open_idx ON tasks (state, state_changed_at)
    WHERE state NOT IN ('complete', 'error', 'cancelled', 'resolved_manually');

CREATE TABLE workflow_steps (
    workflow_step_uuid      uuid PRIMARY KEY,
    task_uuid               uuid         NOT NULL REFERENCES tasks ON DELETE CASCADE,
    named_step_uuid         uuid         NOT NULL REFERENCES named_steps,
    name                    varchar(128) NOT NULL,
    template_step_name      varchar(128) NOT NULL,
    step_type               varchar(32)  NOT NULL DEFAULT 'standard',
    state                   varchar(48)  NOT NULL DEFAULT 'pending' CHECK (state IN (
        'pending', 'enqueued', 'in_progress', 'enqueued_for_orchestration',
        'enqueued_as_error_for_orchestration', 'waiting_for_retry', 'complete', 'error',
        'cancelled', 'resolved_manually')),
    handler_callable        varchar(500) NOT NULL,
    handler_method          varchar(128) NOT NULL DEFAULT 'call',
    retryable               boolean      NOT NULL DEFAULT true,
    max_attempts            integer      NOT NULL DEFAULT 3,
    backoff                 varchar(16)  NOT NULL DEFAULT 'exponential',
    backoff_base_ms         integer      NOT NULL DEFAULT 1000,
    max_backoff_ms          integer      NOT NULL DEFAULT 30000,
    backoff_jitter          boolean      NOT NULL DEFAULT true,
    timeout_seconds         integer      NOT NULL DEFAULT 0,
    attempts                integer      NOT NULL DEFAULT 0,
    in_process              boolean      NOT NULL DEFAULT false,
    processed               boolean      NOT NULL DEFAULT false,
    processed_at            timestamptz,
    last_attempted_at       timestamptz,
    backoff_request_seconds integer,
    next_retry_at           timestamptz,
    claimed_by              varchar(128),
    claim_deadline          timestamptz,
    -- last time the readiness poller looked at this step (and re-sent its
    -- message if it was gone)
    nudged_at               timestamptz,
    inputs                  jsonb        NOT NULL DEFAULT '{}',
    results                 jsonb,
    checkpoint              jsonb,
    priority                integer      NOT NULL DEFAULT 0,
    state_changed_at        timestamptz  NOT NULL DEFAULT now(),
    created_at              timestamptz  NOT NULL DEFAULT now(),
    updated_at              timestamptz  NOT NULL DEFAULT now(),
    UNIQUE (task_uuid, named_step_uuid)
);

CREATE TABLE workflow_step_edges (
    task_uuid      uuid        NOT NULL,
    from_step_uuid uuid        NOT NULL REFERENCES workflow_steps ON DELETE CASCADE,
    to_step_uuid   uuid        NOT NULL REFERENCES workflow_steps ON DELETE CASCADE,
    name           varchar(64) NOT NULL DEFAULT 'provides',
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (from_step_uuid, to_step_uuid, name),
    CHECK (from_step_uuid <> to_step_uuid)
);

-- Edges are read a task at a time (readiness and ancestry are computed from
-- the task's whole graph).
CREATE INDEX workflow_step_edges_task_idx ON workflow_step_edges (task_uuid);

-- History tables are append-only logs read a task or a step at a time: no
-- primary key index (the identity column is unique by construction), just
-- the lookup index.
CREATE TABLE task_transitions (
    id                   bigint GENERATED ALWAYS AS IDENTITY,
    task_transition_uuid uuid        NOT NULL DEFAULT gen_random_uuid(),
    task_uuid            uuid        NOT NULL REFERENCES tasks ON DELETE CASCADE,
    from_state           varchar(32),
    to_state             varchar(32) NOT NULL,
    event                varchar(48) NOT NULL,
    metadata             jsonb,
    processor_id         varchar(128),
    created_at           timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX task_transitions_task_idx ON task_transitions (task_uuid, id);

CREATE TABLE workflow_step_transitions (
    id                            bigint GENERATED ALWAYS AS IDENTITY,
    workflow_step_transition_uuid uuid        NOT NULL DEFAULT gen_random_uuid(),
    workflow_step_uuid            uuid        NOT NULL REFERENCES workflow_steps ON DELETE CASCADE,
    task_uuid                     uuid        NOT NULL,
    from_state                    varchar(48),
    to_state                      varchar(48) NOT NULL,
    event                         varchar(48) NOT NULL,
    metadata                      jsonb,
    created_at                    timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX workflow_step_transitions_step_idx ON workflow_step_transitions (workflow_step_uuid, id);

-- One row per result a worker reported (every attempt), with the result
-- itself: workflow_steps.results only keeps the latest.
CREATE TABLE workflow_step_result_audit (
    id                              bigint GENERATED ALWAYS AS IDENTITY,
    workflow_step_result_audit_uuid uuid         NOT NULL DEFAULT gen_random_uuid(),
    workflow_step_uuid              uuid         NOT NULL REFERENCES workflow_steps ON DELETE CASCADE,
    task_uuid                       uuid         NOT NULL,
    attempt                         integer      NOT NULL,
    worker_id                       varchar(128),
    correlation_id                  uuid,
    success                         boolean      NOT NULL,
    execution_time_ms               bigint,
    from_state                      varchar(48)  NOT NULL,
    to_state                        varchar(48)  NOT NULL,
    result                          jsonb,
    recorded_at                     timestamptz  NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX workflow_step_result_audit_step_idx ON workflow_step_result_audit (workflow_step_uuid, id);

CREATE TABLE tasks_dlq (
    dlq_entry_uuid       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_uuid            uuid        NOT NULL REFERENCES tasks ON DELETE CASCADE,
    original_state       varchar(50) NOT NULL,
    dlq_reason           varchar(40) NOT NULL CHECK (dlq_reason IN (
        'staleness_timeout', 'max_retries_exceeded', 'dependency_cycle_detected',
        'worker_unavailable', 'manual_dlq')),
    dlq_timestamp        timestamptz NOT NULL DEFAULT now(),
    resolution_status    varchar(30) NOT NULL DEFAULT 'pending' CHECK (resolution_status IN (
        'pending', 'manually_resolved', 'permanently_failed', 'cancelled')),
    resolution_timestamp timestamptz,
    resolution_notes     text,
    resolved_by          varchar(255),
    task_snapshot        jsonb       NOT NULL,
    metadata             jsonb,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- One open investigation per task; resolved entries stay as history.
CREATE UNIQUE INDEX tasks_dlq_pending_idx ON tasks_dlq (task_uuid) WHERE resolution_status = 'pending';
CREATE INDEX tasks_dlq_status_idx ON tasks_dlq (resolution_status, dlq_timestamp);

-- The hot tables churn: every step updates its row several times and the
-- history tables only grow. Vacuum and analyze them early so bloat stays low
-- and plans see real sizes soon after a fresh start.
ALTER TABLE workflow_steps SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02,
    autovacuum_analyze_threshold = 200, fillfactor = 85);
ALTER TABLE tasks SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02,
    autovacuum_analyze_threshold = 200, fillfactor = 85);
ALTER TABLE workflow_step_edges SET (autovacuum_analyze_scale_factor = 0.05, autovacuum_analyze_threshold = 200);
-- No planner statistics on JSON payload columns: no query filters on them,
-- and skipping them keeps ANALYZE of the hot tables cheap enough to run
-- often.
ALTER TABLE workflow_steps ALTER COLUMN inputs SET STATISTICS 0, ALTER COLUMN results SET STATISTICS 0,
    ALTER COLUMN checkpoint SET STATISTICS 0;
ALTER TABLE tasks ALTER COLUMN context SET STATISTICS 0, ALTER COLUMN tags SET STATISTICS 0;
ALTER TABLE workflow_step_transitions ALTER COLUMN metadata SET STATISTICS 0;
ALTER TABLE task_transitions ALTER COLUMN metadata SET STATISTICS 0;
ALTER TABLE workflow_step_result_audit ALTER COLUMN result SET STATISTICS 0;
ALTER TABLE workflow_step_transitions SET (autovacuum_analyze_scale_factor = 0.05, autovacuum_analyze_threshold = 500);
ALTER TABLE task_transitions SET (autovacuum_analyze_scale_factor = 0.05, autovacuum_analyze_threshold = 500);

-- +goose Down
-- The queue tables (mq_<queue>) are created at run time by the Postgres
-- queue backend; they go with the schema's tables.
-- +goose StatementBegin
DO $$
DECLARE
    q record;
BEGIN
    FOR q IN SELECT tablename FROM pg_tables
             WHERE schemaname = current_schema() AND tablename LIKE 'mq\_%'
    LOOP
        EXECUTE format('DROP TABLE %I', q.tablename);
    END LOOP;
END
$$;
-- +goose StatementEnd
DROP TABLE tasks_dlq;
DROP TABLE workflow_step_result_audit;
DROP TABLE workflow_step_transitions;
DROP TABLE task_transitions;
DROP TABLE workflow_step_edges;
DROP TABLE workflow_steps;
DROP TABLE tasks;
DROP TABLE named_steps;
DROP TABLE named_tasks;
DROP TABLE task_namespaces;
