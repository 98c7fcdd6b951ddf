package worker_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/workertest"
)

func TestDecisionRoundTripAndErrors(t *testing.T) {
	b, err := json.Marshal(worker.CreateSteps("a", "b").With("why", 3))
	require.NoError(t, err)
	var d worker.Decision
	require.NoError(t, json.Unmarshal(b, &d))
	require.Equal(t, []string{"a", "b"}, d.Steps())
	v, ok := d.Field("why")
	require.True(t, ok)
	require.EqualValues(t, 3, v)

	_, err = json.Marshal(worker.Decision{})
	require.ErrorContains(t, err, "decision has no outcome")
	_, err = json.Marshal(worker.NoBranches().With("decision_point_outcome", 1))
	require.ErrorContains(t, err, "reserved")
	require.ErrorContains(t, json.Unmarshal([]byte(`{"x":1}`), &d), "has no decision_point_outcome")
}

// TestDecodedResultKeepsTheDecisionOutcome: a result reported as JSON (the
// C ABI's, Ruby's, Python's) keeps decision_point_outcome as it was sent.
func TestDecodedResultKeepsTheDecisionOutcome(t *testing.T) {
	in := `{"route":"dual","decision_point_outcome":{"type":"create_steps","step_names":["manager_approval","finance_review"]}}`
	r, err := worker.DecodeResult([]byte(`{"success":true,"result":` + in + `}`))
	require.NoError(t, err)
	v, err := workertest.Value(r)
	require.NoError(t, err)
	require.JSONEq(t, in, string(v))
	var d worker.Decision
	require.NoError(t, json.Unmarshal(v, &d))
	require.Equal(t, []string{"manager_approval", "finance_review"}, d.Steps())
}
