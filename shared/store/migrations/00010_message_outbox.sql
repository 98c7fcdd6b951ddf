-- +goose Up
-- Messages waiting to be published to a message broker (the rabbitmq queue
-- backend). A row is written in the transaction that makes the state change
-- the message announces, so the message exists exactly when the change
-- commits; a relay publishes due rows with publisher confirms and deletes
-- them afterwards. A relay that dies between the broker's confirm and the
-- delete publishes the row again: consumers tolerate duplicates because
-- every state transition they make is a compare-and-swap. deliver_at holds a
-- message back until its time (exact delays, however long). Rows live
-- seconds, so the table stays small; the index serves the relay's "due rows
-- in order" read.
CREATE TABLE message_outbox (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue      text        NOT NULL,
    payload    jsonb       NOT NULL,
    deliver_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX message_outbox_due_idx ON message_outbox (deliver_at, id);

-- +goose Down
DROP TABLE message_outbox;
