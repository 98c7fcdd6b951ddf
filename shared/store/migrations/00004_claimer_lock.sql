-- +goose Up
-- The liveness lock key of the worker process holding a step's claim: a
-- session-level advisory lock that process holds on a connection of its own
-- for as long as it lives. Orchestration reclaims the steps of a claimer
-- whose lock is free (its process is gone) without waiting for the claim
-- deadline. Set by every claim; meaningful only while the step is
-- in_progress. NULL: the claimer holds no liveness lock (only the claim
-- deadline applies). Not indexed: in-flight claims are found through their
-- hidden queue messages, and an index on a column that claims change would
-- cost workflow_steps its HOT updates.
ALTER TABLE workflow_steps ADD COLUMN claimer_lock bigint;

-- +goose Down
ALTER TABLE workflow_steps DROP COLUMN claimer_lock;
