package stepresult

import (
	"encoding/json"
	"errors"
	"fmt"
)

// DecisionOutcomeKey is the field of a decision step's result value that
// carries its DecisionOutcome.
const DecisionOutcomeKey = "decision_point_outcome"

// Decision outcome types.
const (
	// DecisionNoBranches: the decision creates nothing; the task goes on
	// with the steps it has.
	DecisionNoBranches = "no_branches"
	// DecisionCreateSteps: the decision creates the steps it names (and
	// what they bring with them).
	DecisionCreateSteps = "create_steps"
)

// DecisionOutcome is what a decision step chose:
// {"type":"no_branches"} or {"type":"create_steps","step_names":[…]}.
type DecisionOutcome struct {
	Type      string   `json:"type"`
	StepNames []string `json:"step_names,omitempty"`
}

// DecisionOutcomeOf reads the decision outcome from a decision step's
// result value, checking its shape: a create_steps outcome must name at
// least one step, and every name must be a non-empty string.
func DecisionOutcomeOf(value json.RawMessage) (DecisionOutcome, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(value, &obj); err != nil || obj == nil {
		return DecisionOutcome{}, errors.New("decision step result is not a JSON object")
	}
	raw, ok := obj[DecisionOutcomeKey]
	if !ok || string(raw) == "null" {
		return DecisionOutcome{}, fmt.Errorf("decision step result has no %s", DecisionOutcomeKey)
	}
	var out DecisionOutcome
	if err := json.Unmarshal(raw, &out); err != nil {
		return DecisionOutcome{}, fmt.Errorf("%s is not {\"type\":…,\"step_names\":[…]}: %w", DecisionOutcomeKey, err)
	}
	switch out.Type {
	case DecisionNoBranches:
		if len(out.StepNames) > 0 {
			return DecisionOutcome{}, fmt.Errorf("%s is no_branches but names steps %v", DecisionOutcomeKey, out.StepNames)
		}
	case DecisionCreateSteps:
		if len(out.StepNames) == 0 {
			return DecisionOutcome{}, fmt.Errorf("%s is create_steps but names no step (a decision that creates nothing returns no_branches)",
				DecisionOutcomeKey)
		}
		for _, n := range out.StepNames {
			if n == "" {
				return DecisionOutcome{}, fmt.Errorf("%s names a step with an empty name", DecisionOutcomeKey)
			}
		}
	default:
		return DecisionOutcome{}, fmt.Errorf("%s has type %q (want no_branches or create_steps)", DecisionOutcomeKey, out.Type)
	}
	return out, nil
}
