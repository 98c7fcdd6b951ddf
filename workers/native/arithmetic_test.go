package native

import (
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/worker/workertest"
)

const (
	linearPrefix  = "tasker_example_rs::step_handlers::linear_workflow::"
	diamondPrefix = "tasker_example_rs::step_handlers::diamond_workflow::"
	treePrefix    = "tasker_example_rs::step_handlers::tree_workflow::"
	dagPrefix     = "tasker_example_rs::step_handlers::mixed_dag_workflow::"
)

func pow(base, exp int64) *big.Int {
	return new(big.Int).Exp(big.NewInt(base), big.NewInt(exp), nil)
}

func TestLinearStepsSquareInTurn(t *testing.T) {
	step1 := workertest.NewStep("linear_step_1").
		WithContext(map[string]any{"even_number": 6}).
		WithConfig(map[string]any{"operation": "square", "step_number": 1})
	v := valueOf(t, workertest.Execute(handler(t, linearPrefix+"LinearStep1Handler"), step1))
	require.Equal(t, map[string]any{"result": num("36"), "operation": "square", "input": num("6"),
		"source": "even_number", "step_number": num("1")}, v)

	// Each later step squares the "result" of the step before.
	prev := any(map[string]any{"result": 36})
	want := []string{"1296", "1679616", "2821109907456"}
	for i, name := range []string{"LinearStep2Handler", "LinearStep3Handler", "LinearStep4Handler"} {
		stepName := "linear_step_" + string(rune('2'+i))
		parent := "linear_step_" + string(rune('1'+i))
		step := workertest.NewStep(stepName).
			WithConfig(map[string]any{"step_number": i + 2}).
			WithDependency(parent, prev)
		v := valueOf(t, workertest.Execute(handler(t, linearPrefix+name), step))
		require.Equal(t, num(want[i]), v["result"], stepName)
		require.Equal(t, num(string(rune('2'+i))), v["step_number"])
		require.Equal(t, parent, v["source"])
		prev = v
	}
}

func TestLinearWorkflowEndsAtNToThe16th(t *testing.T) {
	tmpl := workflow("linear",
		stepDef{name: "linear_step_1", callable: linearPrefix + "LinearStep1Handler"},
		stepDef{name: "linear_step_2", callable: linearPrefix + "LinearStep2Handler", deps: []string{"linear_step_1"}},
		stepDef{name: "linear_step_3", callable: linearPrefix + "LinearStep3Handler", deps: []string{"linear_step_2"}},
		stepDef{name: "linear_step_4", callable: linearPrefix + "LinearStep4Handler", deps: []string{"linear_step_3"}},
	)
	for _, tc := range []struct {
		n    int64
		want any
	}{
		{6, num("2821109907456")},
		{8, num(pow(8, 16).String())},
		{10, num("10000000000000000")},
		{100, pow(100, 16).String()}, // 10^32 outgrows int64: a decimal string
	} {
		run := runWorkflow(t, tmpl, map[string]any{"even_number": tc.n})
		require.True(t, run.Complete())
		require.Equal(t, tc.want, valueOf(t, run.Step("linear_step_4").Result)["result"], "n=%d", tc.n)
	}
}

func TestFirstStepsRejectBadEvenNumber(t *testing.T) {
	firsts := []string{
		linearPrefix + "LinearStep1Handler", diamondPrefix + "DiamondStartHandler",
		treePrefix + "TreeRootHandler", dagPrefix + "DagInitHandler",
	}
	for _, ctx := range []any{
		map[string]any{},
		map[string]any{"even_number": 7},
		map[string]any{"even_number": nil},
		map[string]any{"even_number": "6"},
		map[string]any{"even_number": 6.5},
		map[string]any{"other": 6},
	} {
		for _, c := range firsts {
			res := workertest.Execute(handler(t, c), workertest.NewStep("first").WithContext(ctx))
			requireFailure(t, res, "ValidationError", false)
		}
	}
	// Negative even numbers and zero are even.
	v := valueOf(t, workertest.Execute(handler(t, firsts[0]), workertest.NewStep("s").WithContext(map[string]any{"even_number": -4})))
	require.Equal(t, num("16"), v["result"])
}

func TestSquareAcceptsBareAndStringDependencies(t *testing.T) {
	h := handler(t, linearPrefix+"LinearStep2Handler")
	for _, dep := range []any{36, "36", map[string]any{"result": "36"}} {
		v := valueOf(t, workertest.Execute(h, workertest.NewStep("linear_step_2").WithDependency("linear_step_1", dep)))
		require.Equal(t, num("1296"), v["result"])
	}
	// A number past 2^53 survives exactly.
	large := "123456789012345678901234567890"
	v := valueOf(t, workertest.Execute(h, workertest.NewStep("linear_step_2").WithDependency("linear_step_1", map[string]any{"result": large})))
	n, _ := new(big.Int).SetString(large, 10)
	require.Equal(t, new(big.Int).Mul(n, n).String(), v["result"])
}

func TestMissingOrBrokenDependencyIsPermanent(t *testing.T) {
	h := handler(t, linearPrefix+"LinearStep3Handler")
	for _, b := range []*workertest.StepBuilder{
		workertest.NewStep("linear_step_3"),
		workertest.NewStep("linear_step_3").WithDependency("linear_step_2", map[string]any{"value": 3}),
		workertest.NewStep("linear_step_3").WithDependency("linear_step_2", map[string]any{"result": 2.5}),
		workertest.NewStep("linear_step_3").WithDependency("linear_step_2", []int{1}),
	} {
		res := workertest.Execute(h, b)
		requireFailure(t, res, "PermanentError", false)
		require.Equal(t, codeMissingDependency, res.ErrorCode())
	}
}

func TestDiamondEndsAtNToThe16th(t *testing.T) {
	end := workertest.NewStep("diamond_end").
		WithDependency("diamond_branch_b", map[string]any{"result": 1296}).
		WithDependency("diamond_branch_c", map[string]any{"result": 1296})
	v := valueOf(t, workertest.Execute(handler(t, diamondPrefix+"DiamondEndHandler"), end))
	require.Equal(t, num("2821109907456"), v["result"])
	require.Equal(t, num("1679616"), v["product"])
	require.Equal(t, "multiply_and_square", v["operation"])

	tmpl := workflow("diamond",
		stepDef{name: "diamond_start", callable: diamondPrefix + "DiamondStartHandler"},
		stepDef{name: "diamond_branch_b", callable: diamondPrefix + "DiamondBranchBHandler", deps: []string{"diamond_start"}},
		stepDef{name: "diamond_branch_c", callable: diamondPrefix + "DiamondBranchCHandler", deps: []string{"diamond_start"}},
		stepDef{name: "diamond_end", callable: diamondPrefix + "DiamondEndHandler", deps: []string{"diamond_branch_b", "diamond_branch_c"}},
	)
	run := runWorkflow(t, tmpl, map[string]any{"even_number": 6})
	require.True(t, run.Complete())
	require.Equal(t, num("1296"), valueOf(t, run.Step("diamond_branch_b").Result)["result"])
	require.Equal(t, num("2821109907456"), valueOf(t, run.Step("diamond_end").Result)["result"])
}

func treeWorkflow() []stepDef {
	return []stepDef{
		{name: "tree_root", callable: treePrefix + "TreeRootHandler"},
		{name: "tree_branch_left", callable: treePrefix + "TreeBranchLeftHandler", deps: []string{"tree_root"}},
		{name: "tree_branch_right", callable: treePrefix + "TreeBranchRightHandler", deps: []string{"tree_root"}},
		{name: "tree_leaf_d", callable: treePrefix + "TreeLeafDHandler", deps: []string{"tree_branch_left"}},
		{name: "tree_leaf_e", callable: treePrefix + "TreeLeafEHandler", deps: []string{"tree_branch_left"}},
		{name: "tree_leaf_f", callable: treePrefix + "TreeLeafFHandler", deps: []string{"tree_branch_right"}},
		{name: "tree_leaf_g", callable: treePrefix + "TreeLeafGHandler", deps: []string{"tree_branch_right"}},
		{name: "tree_final_convergence", callable: treePrefix + "TreeFinalConvergenceHandler",
			deps: []string{"tree_leaf_d", "tree_leaf_e", "tree_leaf_f", "tree_leaf_g"}},
	}
}

func TestTreeFinalIsNToThe64thAsString(t *testing.T) {
	tmpl := workflow("tree", treeWorkflow()...)
	run := runWorkflow(t, tmpl, map[string]any{"even_number": 2})
	require.True(t, run.Complete())
	require.Equal(t, num("256"), valueOf(t, run.Step("tree_leaf_g").Result)["result"])
	final := valueOf(t, run.Step("tree_final_convergence").Result)
	require.Equal(t, "18446744073709551616", final["result"])
	require.Equal(t, "multiply_all_and_square", final["operation"])

	// Even when it fits in an int64, the tree's final value is a string.
	small := workertest.NewStep("tree_final_convergence").
		WithDependency("tree_leaf_d", map[string]any{"result": 1}).
		WithDependency("tree_leaf_e", map[string]any{"result": 2}).
		WithDependency("tree_leaf_f", map[string]any{"result": 3}).
		WithDependency("tree_leaf_g", map[string]any{"result": 4})
	require.Equal(t, "576", valueOf(t, workertest.Execute(handler(t, treePrefix+"TreeFinalConvergenceHandler"), small))["result"])

	run = runWorkflow(t, tmpl, map[string]any{"even_number": 6})
	require.Equal(t, pow(6, 64).String(), valueOf(t, run.Step("tree_final_convergence").Result)["result"])
}

func dagWorkflow() []stepDef {
	return []stepDef{
		{name: "dag_init", callable: dagPrefix + "DagInitHandler"},
		{name: "dag_process_left", callable: dagPrefix + "DagProcessLeftHandler", deps: []string{"dag_init"}},
		{name: "dag_process_right", callable: dagPrefix + "DagProcessRightHandler", deps: []string{"dag_init"}},
		{name: "dag_validate", callable: dagPrefix + "DagValidateHandler", deps: []string{"dag_process_left", "dag_process_right"}},
		{name: "dag_transform", callable: dagPrefix + "DagTransformHandler", deps: []string{"dag_process_left"}},
		{name: "dag_analyze", callable: dagPrefix + "DagAnalyzeHandler", deps: []string{"dag_process_right"}},
		{name: "dag_finalize", callable: dagPrefix + "DagFinalizeHandler", deps: []string{"dag_validate", "dag_transform", "dag_analyze"}},
	}
}

func TestComplexDAGFinalizesInSaturatingU128(t *testing.T) {
	tmpl := workflow("dag", dagWorkflow()...)

	run := runWorkflow(t, tmpl, map[string]any{"even_number": 2})
	require.True(t, run.Complete())
	require.Equal(t, num("16"), valueOf(t, run.Step("dag_process_left").Result)["result"])
	require.Equal(t, num("65536"), valueOf(t, run.Step("dag_validate").Result)["result"]) // 2^16
	require.Equal(t, num("256"), valueOf(t, run.Step("dag_transform").Result)["result"])  // 2^8
	require.Equal(t, num("256"), valueOf(t, run.Step("dag_analyze").Result)["result"])
	final := valueOf(t, run.Step("dag_finalize").Result)
	require.Equal(t, "18446744073709551616", final["result"]) // 2^64 fits in u128 exactly
	require.Equal(t, num("4294967296"), final["product"])     // 2^32
	require.NotContains(t, final, "saturated")

	// 6^64 is far past 2^128: the value saturates, as u128 would.
	run = runWorkflow(t, tmpl, map[string]any{"even_number": 6})
	final = valueOf(t, run.Step("dag_finalize").Result)
	require.Equal(t, "340282366920938463463374607431768211455", final["result"])
	require.Equal(t, true, final["saturated"])
	require.Equal(t, num(pow(6, 16).String()), valueOf(t, run.Step("dag_validate").Result)["result"])
}
