package template

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func mustParse(t *testing.T, src string) *Template {
	t.Helper()
	tpls, err := Parse([]byte(src), "t.yaml", ParseOptions{})
	require.NoError(t, err)
	require.Len(t, tpls, 1)
	return tpls[0]
}

func TestTopologicalOrderIsStable(t *testing.T) {
	tpl := mustParse(t, `name: demo
namespace_name: ns
version: "1"
steps:
  - {name: z, dependencies: [y, x], handler: {callable: Z}}
  - {name: y, dependencies: [w], handler: {callable: Y}}
  - {name: x, handler: {callable: X}}
  - {name: w, handler: {callable: W}}
`)
	require.Equal(t, []string{"x", "w", "y", "z"}, tpl.TopologicalOrder())
	require.Equal(t, []string{"x", "w"}, stepNames(tpl.Roots()))
	require.Equal(t, []string{"y", "z"}, stepNames(tpl.Descendants("w")))
	require.Nil(t, tpl.Descendants("nope"))
	require.Nil(t, tpl.Dependents("nope"))
}

func TestTopologicalOrderWithCycle(t *testing.T) {
	tpl := mustParse(t, `name: demo
namespace_name: ns
version: "1"
steps:
  - {name: a, dependencies: [c], handler: {callable: A}}
  - {name: b, dependencies: [a], handler: {callable: B}}
  - {name: c, dependencies: [b], handler: {callable: C}}
  - {name: d, dependencies: [ghost], handler: {callable: D}}
`)
	require.Equal(t, []string{"d", "a", "b", "c"}, tpl.TopologicalOrder())
	require.Equal(t, []string{
		"t.yaml:5: steps[0].dependencies: cycle: a -> b -> c -> a",
		`t.yaml:8: steps[3].dependencies[0]: unknown step "ghost"`,
	}, errorLines(tpl.Validate()))
}

func TestInitialStepsLeavesOutWhatComesLater(t *testing.T) {
	tpl := mustParse(t, `name: demo
namespace_name: ns
version: "1"
steps:
  - {name: load, type: batchable, handler: {callable: L}}
  - {name: work, type: batch_worker, dependencies: [load], handler: {callable: W}, batch_config: {worker_template: work}}
  - {name: merge, type: deferred_convergence, dependencies: [work], handler: {callable: M}}
  - {name: report, dependencies: [merge], handler: {callable: R}}
  - {name: audit, dependencies: [load], handler: {callable: A}}
  - {name: route, type: decision, dependencies: [audit], handler: {callable: D}}
  - {name: left, dependencies: [route], handler: {callable: X}}
  - {name: after_left, dependencies: [left], handler: {callable: Y}}
`)
	require.NoError(t, tpl.Validate())
	require.Equal(t, []string{"load", "audit", "route"}, stepNames(tpl.InitialSteps()))
}
