-- +goose Up
-- A worker that completes the steps of a task whose graph it has seen (it
-- processed the task's previous step) predicts the task's state and its
-- steps' states after the completion, plans in Go from the prediction, and
-- sends the whole completion with its COMMIT in one round trip. A guard
-- statement in that transaction checks the prediction against the rows and
-- calls this function, which aborts the transaction when it does not hold;
-- the worker then completes the same results the long way (read the graph,
-- plan, apply). SQLSTATE TK001 tells that abort from any other error.
-- +goose StatementBegin
CREATE FUNCTION tasker_expect(ok boolean, what text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION '%', what USING ERRCODE = 'TK001';
    END IF;
    RETURN true;
END;
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION tasker_expect(boolean, text);
