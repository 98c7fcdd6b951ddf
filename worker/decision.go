package worker

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/tasker-go/tasker/shared/stepresult"
)

// Decision is what the handler of a decision step (type: decision in the
// template) returns: the steps it chose, which orchestration then creates
// with everything that follows them (their own descendants, and the
// deferred convergence steps waiting for them), or no branch at all. Build
// one with CreateSteps or NoBranches, and add the fields dependent steps
// should read with With.
//
// It is stored as the step's result: the fields, plus
// "decision_point_outcome": {"type":"create_steps","step_names":[…]} (or
// {"type":"no_branches"}), the shape tasker-core's handlers return. A
// chosen step must be a descendant of the decision in the template; a name
// that is not, or CreateSteps with no name, fails the decision step.
type Decision struct {
	outcome stepresult.DecisionOutcome
	fields  map[string]any
}

// CreateSteps is a decision choosing the named steps.
func CreateSteps(names ...string) Decision {
	return Decision{outcome: stepresult.DecisionOutcome{Type: stepresult.DecisionCreateSteps, StepNames: slices.Clone(names)}}
}

// NoBranches is a decision choosing no step: the task goes on with the
// steps it has.
func NoBranches() Decision {
	return Decision{outcome: stepresult.DecisionOutcome{Type: stepresult.DecisionNoBranches}}
}

// With returns d with one more result field (decision_point_outcome is
// reserved).
func (d Decision) With(key string, value any) Decision {
	f := make(map[string]any, len(d.fields)+1)
	maps.Copy(f, d.fields)
	f[key] = value
	d.fields = f
	return d
}

// Steps returns the chosen step names (none for NoBranches).
func (d Decision) Steps() []string { return slices.Clone(d.outcome.StepNames) }

// Field returns one result field set with With.
func (d Decision) Field(key string) (any, bool) {
	v, ok := d.fields[key]
	return v, ok
}

// MarshalJSON writes the fields and the decision_point_outcome.
func (d Decision) MarshalJSON() ([]byte, error) {
	if _, ok := d.fields[stepresult.DecisionOutcomeKey]; ok {
		return nil, fmt.Errorf("decision field %q is reserved for the outcome", stepresult.DecisionOutcomeKey)
	}
	if d.outcome.Type == "" {
		return nil, fmt.Errorf("decision has no outcome: build it with CreateSteps or NoBranches")
	}
	m := make(map[string]any, len(d.fields)+1)
	maps.Copy(m, d.fields)
	m[stepresult.DecisionOutcomeKey] = d.outcome
	return json.Marshal(m)
}

// UnmarshalJSON reads a decision step's stored result (dependent steps can
// read it with Dependency[worker.Decision]).
func (d *Decision) UnmarshalJSON(b []byte) error {
	outcome, err := stepresult.DecisionOutcomeOf(b)
	if err != nil {
		return err
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	delete(fields, stepresult.DecisionOutcomeKey)
	*d = Decision{outcome: outcome}
	if len(fields) > 0 {
		d.fields = fields
	}
	return nil
}
