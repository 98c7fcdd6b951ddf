package native

import (
	"context"
	"math/big"

	"github.com/tasker-go/tasker/worker"
)

// The arithmetic workflows start from the task context's even_number and
// square their way down the graph. Every step returns an object whose
// "result" field holds its number (an int64 JSON number, or a decimal
// string once it outgrows int64); the next steps read that field.

// Step names the arithmetic handlers read their inputs from (the step names
// of tasker-core's templates, which our own templates keep).
const (
	stepLinear1 = "linear_step_1"
	stepLinear2 = "linear_step_2"
	stepLinear3 = "linear_step_3"

	stepDiamondStart   = "diamond_start"
	stepDiamondBranchB = "diamond_branch_b"
	stepDiamondBranchC = "diamond_branch_c"

	stepTreeRoot        = "tree_root"
	stepTreeBranchLeft  = "tree_branch_left"
	stepTreeBranchRight = "tree_branch_right"
	stepTreeLeafD       = "tree_leaf_d"
	stepTreeLeafE       = "tree_leaf_e"
	stepTreeLeafF       = "tree_leaf_f"
	stepTreeLeafG       = "tree_leaf_g"

	stepDagInit         = "dag_init"
	stepDagProcessLeft  = "dag_process_left"
	stepDagProcessRight = "dag_process_right"
	stepDagValidate     = "dag_validate"
	stepDagTransform    = "dag_transform"
	stepDagAnalyze      = "dag_analyze"
)

// Operation names reported in results.
const (
	opSquare                 = "square"
	opMultiplyAndSquare      = "multiply_and_square"
	opMultiplyAllAndSquare   = "multiply_all_and_square"
	opMultiplyThreeAndSquare = "multiply_three_and_square"
)

// squareResult is the result of a step that squares one number.
type squareResult struct {
	Result     any    `json:"result"`
	Operation  string `json:"operation"`
	Input      any    `json:"input"`
	Source     string `json:"source"` // "even_number" or the step read
	StepNumber int    `json:"step_number,omitempty"`
}

// convergenceResult is the result of a step that multiplies several
// ancestors' numbers and squares the product.
type convergenceResult struct {
	Result    any            `json:"result"`
	Operation string         `json:"operation"`
	Inputs    map[string]any `json:"inputs"` // step name → its number
	Product   any            `json:"product"`
	// Saturated is set when the value was capped (mixed DAG only).
	Saturated bool `json:"saturated,omitempty"`
}

// squareInput squares the task's even_number: the first step of every
// arithmetic workflow. A missing, non-integer or odd even_number is a
// non-retryable ValidationError.
func squareInput(stepNumber int) worker.Handler {
	return worker.HandlerFunc(func(_ context.Context, step *worker.StepContext) worker.Result {
		n, err := evenNumber(step)
		if err != nil {
			return invalid("%s", err)
		}
		return worker.Success(squareResult{
			Result: intValue(square(n)), Operation: opSquare, Input: intValue(n),
			Source: "even_number", StepNumber: configStepNumber(step, stepNumber),
		}, nil)
	})
}

// squareOf squares the number produced by the ancestor step from.
func squareOf(from string, stepNumber int) worker.Handler {
	return worker.HandlerFunc(func(_ context.Context, step *worker.StepContext) worker.Result {
		n, err := dependencyInt(step, from)
		if err != nil {
			return brokenDependency(err)
		}
		return worker.Success(squareResult{
			Result: intValue(square(n)), Operation: opSquare, Input: intValue(n),
			Source: from, StepNumber: configStepNumber(step, stepNumber),
		}, nil)
	})
}

// convergeOptions shapes a multiply-and-square step's result.
type convergeOptions struct {
	operation string
	asString  bool     // always return the result as a decimal string
	ceiling   *big.Int // saturate at this value (nil: exact)
}

// multiplySquare multiplies the numbers of the ancestor steps from and
// squares the product.
func multiplySquare(opts convergeOptions, from ...string) worker.Handler {
	return worker.HandlerFunc(func(_ context.Context, step *worker.StepContext) worker.Result {
		ns, err := dependencyInts(step, from)
		if err != nil {
			return brokenDependency(err)
		}
		inputs := make(map[string]any, len(from))
		product := big.NewInt(1)
		for i, name := range from {
			inputs[name] = intValue(ns[i])
			product.Mul(product, ns[i])
		}
		v := square(product)
		res := convergenceResult{Operation: opts.operation, Inputs: inputs}
		if opts.ceiling != nil {
			v, res.Saturated = saturate(v, opts.ceiling)
			var productSaturated bool
			product, productSaturated = saturate(product, opts.ceiling)
			res.Saturated = res.Saturated || productSaturated
		}
		res.Result, res.Product = intValue(v), intValue(product)
		if opts.asString {
			res.Result = v.String()
		}
		return worker.Success(res, nil)
	})
}

// saturate caps v at ceiling and reports whether it had to.
func saturate(v, ceiling *big.Int) (*big.Int, bool) {
	if v.Cmp(ceiling) > 0 {
		return new(big.Int).Set(ceiling), true
	}
	return v, false
}

// configStepNumber is the step_number of the step's configuration, or def.
func configStepNumber(step *worker.StepContext, def int) int {
	var n int
	if err := step.DecodeConfig("step_number", &n); err == nil && n > 0 {
		return n
	}
	return def
}

// arithmeticHandlers are the linear, diamond, tree and mixed-DAG handlers.
func arithmeticHandlers() map[string]worker.Handler {
	const (
		linear  = "tasker_example_rs::step_handlers::linear_workflow::"
		diamond = "tasker_example_rs::step_handlers::diamond_workflow::"
		tree    = "tasker_example_rs::step_handlers::tree_workflow::"
		dag     = "tasker_example_rs::step_handlers::mixed_dag_workflow::"
	)
	return map[string]worker.Handler{
		linear + "LinearStep1Handler": squareInput(1),
		linear + "LinearStep2Handler": squareOf(stepLinear1, 2),
		linear + "LinearStep3Handler": squareOf(stepLinear2, 3),
		linear + "LinearStep4Handler": squareOf(stepLinear3, 4),

		diamond + "DiamondStartHandler":   squareInput(0),
		diamond + "DiamondBranchBHandler": squareOf(stepDiamondStart, 0),
		diamond + "DiamondBranchCHandler": squareOf(stepDiamondStart, 0),
		diamond + "DiamondEndHandler": multiplySquare(convergeOptions{operation: opMultiplyAndSquare},
			stepDiamondBranchB, stepDiamondBranchC),

		tree + "TreeRootHandler":        squareInput(0),
		tree + "TreeBranchLeftHandler":  squareOf(stepTreeRoot, 0),
		tree + "TreeBranchRightHandler": squareOf(stepTreeRoot, 0),
		tree + "TreeLeafDHandler":       squareOf(stepTreeBranchLeft, 0),
		tree + "TreeLeafEHandler":       squareOf(stepTreeBranchLeft, 0),
		tree + "TreeLeafFHandler":       squareOf(stepTreeBranchRight, 0),
		tree + "TreeLeafGHandler":       squareOf(stepTreeBranchRight, 0),
		// The tree's final value (n^64) is always returned as a decimal
		// string, as tasker-core does.
		tree + "TreeFinalConvergenceHandler": multiplySquare(convergeOptions{operation: opMultiplyAllAndSquare, asString: true},
			stepTreeLeafD, stepTreeLeafE, stepTreeLeafF, stepTreeLeafG),

		dag + "DagInitHandler":         squareInput(0),
		dag + "DagProcessLeftHandler":  squareOf(stepDagInit, 0),
		dag + "DagProcessRightHandler": squareOf(stepDagInit, 0),
		dag + "DagValidateHandler": multiplySquare(convergeOptions{operation: opMultiplyAndSquare},
			stepDagProcessLeft, stepDagProcessRight),
		dag + "DagTransformHandler": squareOf(stepDagProcessLeft, 0),
		dag + "DagAnalyzeHandler":   squareOf(stepDagProcessRight, 0),
		// tasker-core finalizes the mixed DAG in u128 with saturating
		// multiplication; we compute exactly with math/big and cap the
		// product and the square at 2^128-1, setting "saturated". For
		// even_number 2 the result is exactly 2^64; from 4 on it saturates.
		dag + "DagFinalizeHandler": multiplySquare(convergeOptions{operation: opMultiplyThreeAndSquare, ceiling: u128Max},
			stepDagValidate, stepDagTransform, stepDagAnalyze),
	}
}
