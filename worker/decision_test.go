package worker_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/worker"
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
