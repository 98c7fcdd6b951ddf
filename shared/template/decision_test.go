package template

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecisionStepsConditionalApproval(t *testing.T) {
	tpl := parseFixture(t, "rust/conditional_approval_rust.yaml", "")
	require.Equal(t, []string{"validate_request", "routing_decision"}, stepNames(tpl.InitialSteps()))
	for _, tc := range []struct {
		chosen []string
		want   []string
	}{
		{[]string{"auto_approve"}, []string{"finalize_approval", "auto_approve"}},
		{[]string{"manager_approval"}, []string{"finalize_approval", "manager_approval"}},
		{[]string{"manager_approval", "finance_review"}, []string{"finalize_approval", "manager_approval", "finance_review"}},
	} {
		got, err := tpl.DecisionSteps("routing_decision", tc.chosen)
		require.NoError(t, err)
		require.Equal(t, tc.want, stepNames(got), "chose %v", tc.chosen)
	}
	got, err := tpl.DecisionSteps("routing_decision", nil)
	require.NoError(t, err)
	require.Empty(t, got)
	for _, tc := range []struct {
		decision string
		chosen   []string
		err      string
	}{
		{"routing_decision", []string{"nope"}, `chose step "nope", which template conditional_approval_rust/approval_routing/1.0.0 does not have`},
		{"routing_decision", []string{"validate_request"}, `chose step "validate_request", which is not one of its descendants`},
		{"routing_decision", []string{"finalize_approval"}, `a deferred_convergence step the engine creates itself`},
		{"validate_request", []string{"auto_approve"}, `step "validate_request" is a standard step, not a decision`},
		{"ghost", nil, `decision step "ghost" is not in template`},
	} {
		_, err := tpl.DecisionSteps(tc.decision, tc.chosen)
		require.ErrorContains(t, err, tc.err)
	}
}

// TestDecisionStepsDeepChains: a chosen branch brings its whole chain down
// to the next decision (whose own branches wait for it), convergence steps
// with any created parent, and what follows a convergence step once all its
// parents are in.
func TestDecisionStepsDeepChains(t *testing.T) {
	tpl := mustParse(t, `name: deep
namespace_name: ns
version: "1"
steps:
  - {name: start, handler: {callable: S}}
  - {name: d1, type: decision, dependencies: [start], handler: {callable: D}}
  - {name: a1, dependencies: [d1], handler: {callable: A}}
  - {name: a2, dependencies: [a1], handler: {callable: A}}
  - {name: a3, dependencies: [a2], handler: {callable: A}}
  - {name: d2, type: decision, dependencies: [a3], handler: {callable: D}}
  - {name: x, dependencies: [d2], handler: {callable: X}}
  - {name: b1, dependencies: [d1], handler: {callable: B}}
  - {name: join, type: deferred_convergence, dependencies: [a3, b1], handler: {callable: J}}
  - {name: after, dependencies: [join], handler: {callable: F}}
  - {name: after_both, dependencies: [join, x], handler: {callable: F}}
`)
	require.Equal(t, []string{"start", "d1"}, stepNames(tpl.InitialSteps()))
	got, err := tpl.DecisionSteps("d1", []string{"a1"})
	require.NoError(t, err)
	require.Equal(t, []string{"a1", "a2", "a3", "d2", "join", "after"}, stepNames(got))
	got, err = tpl.DecisionSteps("d1", []string{"b1"})
	require.NoError(t, err)
	require.Equal(t, []string{"b1", "join", "after"}, stepNames(got))
	// x's child after_both also waits for join: orchestration joins it to
	// join when join exists by then, else to d2.
	got, err = tpl.DecisionSteps("d2", []string{"x"})
	require.NoError(t, err)
	require.Equal(t, []string{"x", "after_both"}, stepNames(got))
	_, err = tpl.DecisionSteps("d1", []string{"x"})
	require.ErrorContains(t, err, `chose step "x", which is not one of its descendants`, "x belongs to d2")
	_, err = tpl.DecisionSteps("d2", []string{"a2"})
	require.ErrorContains(t, err, "not one of its descendants")
}
