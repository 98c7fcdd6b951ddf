package stepresult

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecisionOutcomeOf(t *testing.T) {
	out, err := DecisionOutcomeOf(json.RawMessage(`{"route":"x","decision_point_outcome":{"type":"create_steps","step_names":["a","b"]}}`))
	require.NoError(t, err)
	require.Equal(t, DecisionOutcome{Type: DecisionCreateSteps, StepNames: []string{"a", "b"}}, out)
	out, err = DecisionOutcomeOf(json.RawMessage(`{"decision_point_outcome":{"type":"no_branches"}}`))
	require.NoError(t, err)
	require.Equal(t, DecisionOutcome{Type: DecisionNoBranches}, out)
	for raw, msg := range map[string]string{
		`[1]`:                             "not a JSON object",
		`null`:                            "not a JSON object",
		`{}`:                              "has no decision_point_outcome",
		`{"decision_point_outcome":null}`: "has no decision_point_outcome",
		`{"decision_point_outcome":"auto_approve"}`:                            "is not {",
		`{"decision_point_outcome":{"type":"create_steps"}}`:                   "names no step",
		`{"decision_point_outcome":{"type":"create_steps","step_names":[]}}`:   "names no step",
		`{"decision_point_outcome":{"type":"create_steps","step_names":[""]}}`: "empty name",
		`{"decision_point_outcome":{"type":"no_branches","step_names":["a"]}}`: "no_branches but names steps",
		`{"decision_point_outcome":{"type":"CreateSteps","step_names":["a"]}}`: `has type "CreateSteps"`,
	} {
		_, err := DecisionOutcomeOf(json.RawMessage(raw))
		require.ErrorContains(t, err, msg, raw)
	}
}
