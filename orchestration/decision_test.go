package orchestration_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/orchestration"

	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// routeByAmount plays conditional_approval_rust's handlers: the routing
// decision chooses its branches by amount, every other step succeeds.
func routeByAmount(cs store.ClaimedStep) outcome {
	if cs.Step.Name != "routing_decision" {
		return outcome{}
	}
	var ctx struct{ Amount int }
	_ = json.Unmarshal(cs.Task.Context, &ctx)
	steps := []string{"auto_approve"}
	switch {
	case ctx.Amount >= 5000:
		steps = []string{"manager_approval", "finance_review"}
	case ctx.Amount >= 1000:
		steps = []string{"manager_approval"}
	}
	return outcome{value: map[string]any{"amount": ctx.Amount,
		"decision_point_outcome": map[string]any{"type": "create_steps", "step_names": steps}}}
}

// TestDecisionPointCreatesChosenBranches: task creation makes only the
// steps up to the decision; the decision's result creates the chosen
// branches and the convergence step, joined only to the branches that
// exist, and the task completes with exactly those steps.
func TestDecisionPointCreatesChosenBranches(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/conditional_approval_rust.yaml", false)
	h.drive(tpl.NamespaceName, routeByAmount)
	for _, tc := range []struct {
		amount  int
		parents []string
	}{
		{500, []string{"auto_approve"}},
		{3000, []string{"manager_approval"}},
		{10000, []string{"finance_review", "manager_approval"}},
	} {
		task := h.create(tpl, fmt.Sprintf(`{"amount": %d, "requester": "r", "purpose": "p"}`, tc.amount))
		h.waitState(task.UUID, state.TaskComplete)
		steps := h.steps(task.UUID)
		require.Len(t, steps, 3+len(tc.parents), "amount %d", tc.amount)
		for name, s := range steps {
			require.Equal(t, state.StepComplete, s.State, "amount %d step %s", tc.amount, name)
		}
		require.Equal(t, tc.parents, steps["finalize_approval"].Parents, "amount %d", tc.amount)
		require.Equal(t, "deferred_convergence", steps["finalize_approval"].StepType)
		for _, b := range tc.parents {
			require.Equal(t, []string{"routing_decision"}, steps[b].Parents)
		}
	}
}

// TestDecisionTaskCreatesOnlyInitialSteps: before the decision runs, the
// task has only the steps up to it.
func TestDecisionTaskCreatesOnlyInitialSteps(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/conditional_approval_rust.yaml", false)
	ct, err := h.core.CreateTask(h.ctx, orchestration.TaskRequest{Namespace: tpl.NamespaceName, Name: tpl.Name,
		Version: tpl.Version, Context: json.RawMessage(`{"amount": 10000}`), IdentityKey: uuid.NewString()})
	require.NoError(t, err)
	var got []string
	for _, s := range ct.Steps {
		got = append(got, s.Name)
	}
	require.ElementsMatch(t, []string{"validate_request", "routing_decision"}, got)
}

// TestDecisionOutcomeErrors: a decision that chooses no branch completes
// the task with the steps it has; one whose outcome is missing, names no
// step or names a step it does not own fails the decision step with a
// reason naming the problem.
func TestDecisionOutcomeErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/conditional_approval_rust.yaml", false)
	outcomes := map[string]any{
		"none":    map[string]any{"type": "no_branches"},
		"missing": nil,
		"empty":   map[string]any{"type": "create_steps", "step_names": []string{}},
		"foreign": map[string]any{"type": "create_steps", "step_names": []string{"validate_request"}},
		"unknown": map[string]any{"type": "create_steps", "step_names": []string{"escalate"}},
	}
	h.drive(tpl.NamespaceName, func(cs store.ClaimedStep) outcome {
		if cs.Step.Name != "routing_decision" {
			return outcome{}
		}
		var ctx struct{ Case string }
		_ = json.Unmarshal(cs.Task.Context, &ctx)
		v := map[string]any{"case": ctx.Case}
		if o := outcomes[ctx.Case]; o != nil {
			v["decision_point_outcome"] = o
		}
		return outcome{value: v}
	})
	for c, reason := range map[string]string{
		"missing": "decision outcome: decision step result has no decision_point_outcome",
		"empty":   "names no step",
		"foreign": `chose step "validate_request", which is not one of its descendants`,
		"unknown": `chose step "escalate", which template conditional_approval_rust/approval_routing/1.0.0 does not have`,
	} {
		task := h.create(tpl, fmt.Sprintf(`{"case": %q}`, c))
		h.waitState(task.UUID, state.TaskError)
		steps := h.steps(task.UUID)
		require.Len(t, steps, 2, c)
		require.Equal(t, state.StepError, steps["routing_decision"].State, c)
		hist, err := h.store.StepTransitions(h.ctx, task.UUID, steps["routing_decision"].UUID)
		require.NoError(t, err)
		last := hist[len(hist)-1]
		require.Equal(t, "error", last.ToState)
		var md struct{ Reason string }
		require.NoError(t, json.Unmarshal(last.Metadata, &md))
		require.Contains(t, md.Reason, reason, c)
	}
	task := h.create(tpl, `{"case": "none"}`)
	h.waitState(task.UUID, state.TaskComplete)
	require.Len(t, h.steps(task.UUID), 2, "no_branches creates nothing")
}

// deepChain has a decision whose chosen branch is a chain ending in a
// second decision, a convergence step over both branches, a step after the
// convergence and one that waits for the convergence and for a branch of
// the second decision.
const deepChain = `name: deep_chain
namespace_name: dyn_deep
version: "1.0.0"
steps:
  - {name: start, handler: {callable: h}}
  - {name: d1, type: decision, dependencies: [start], handler: {callable: h}}
  - {name: a1, dependencies: [d1], handler: {callable: h}}
  - {name: a2, dependencies: [a1], handler: {callable: h}}
  - {name: a3, dependencies: [a2], handler: {callable: h}}
  - {name: d2, type: decision, dependencies: [a3], handler: {callable: h}}
  - {name: x, dependencies: [d2], handler: {callable: h}}
  - {name: b1, dependencies: [d1], handler: {callable: h}}
  - {name: join, type: deferred_convergence, dependencies: [a3, b1], handler: {callable: h}}
  - {name: after, dependencies: [join], handler: {callable: h}}
  - {name: after_both, dependencies: [join, x], handler: {callable: h}}
`

// TestDecisionDeepChain: the first decision creates its whole chain down to
// the second decision, the convergence step (over the branch that exists)
// and what follows it; the second decision adds its branch and the step
// waiting for both it and the convergence step.
func TestDecisionDeepChain(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpls, err := template.Parse([]byte(deepChain), "deep.yaml", template.ParseOptions{})
	require.NoError(t, err)
	tpl := tpls[0]
	h.register(tpl)
	h.drive(tpl.NamespaceName, func(cs store.ClaimedStep) outcome {
		switch cs.Step.Name {
		case "d1":
			return outcome{value: map[string]any{"decision_point_outcome": map[string]any{"type": "create_steps", "step_names": []string{"a1"}}}}
		case "d2":
			return outcome{value: map[string]any{"decision_point_outcome": map[string]any{"type": "create_steps", "step_names": []string{"x"}}}}
		}
		return outcome{}
	})
	task := h.create(tpl, `{}`)
	h.waitState(task.UUID, state.TaskComplete)
	steps := h.steps(task.UUID)
	parents := map[string][]string{}
	for name, s := range steps {
		require.Equal(t, state.StepComplete, s.State, name)
		parents[name] = s.Parents
	}
	require.Equal(t, map[string][]string{
		"start": {}, "d1": {"start"}, "a1": {"d1"}, "a2": {"a1"}, "a3": {"a2"}, "d2": {"a3"},
		"join": {"a3"}, "after": {"join"}, "x": {"d2"}, "after_both": {"join", "x"},
	}, parents, "b1 was not chosen: join waits for a3 only")
	hist, err := h.store.StepTransitions(h.ctx, task.UUID, steps["after_both"].UUID)
	require.NoError(t, err)
	require.Equal(t, "create", hist[0].Event)
	require.JSONEq(t, `{"created_by":"d2"}`, string(hist[0].Metadata))
}
