-- +goose Up
-- Each worker records how many step handlers it runs at once, so the
-- dashboard's overview can show how saturated every worker is:
-- max_concurrent is its ceiling (handlers.max_concurrent), concurrency_limit
-- the limit in force now (below the ceiling while an adaptive worker runs
-- at a lower limit). The worker writes them when it registers and when its
-- adaptive limit changes, never per step. 0 means unknown: the row of a
-- worker older than this migration.
ALTER TABLE workers
    ADD COLUMN max_concurrent    integer NOT NULL DEFAULT 0 CHECK (max_concurrent >= 0),
    ADD COLUMN concurrency_limit integer NOT NULL DEFAULT 0 CHECK (concurrency_limit >= 0);

-- +goose Down
ALTER TABLE workers DROP COLUMN concurrency_limit, DROP COLUMN max_concurrent;
