package native

import (
	"context"
	"errors"
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
// permanent ValidationError.
func squareInput(stepNumber int) worker.HandlerFunc[evenInput, squareResult] {
	return func(_ context.Context, step *worker.Step[evenInput]) (squareResult, error) {
		n, err := step.Input.number()
		if err != nil {
			return squareResult{}, invalid("%s", err)
		}
		return squareResult{
			Result: intValue(square(n)), Operation: opSquare, Input: intValue(n),
			Source: "even_number", StepNumber: configStepNumber(step, stepNumber),
		}, nil
	}
}

// squareOf squares the number produced by the ancestor step from.
func squareOf(from string, stepNumber int) worker.HandlerFunc[struct{}, squareResult] {
	return func(_ context.Context, step *worker.Step[struct{}]) (squareResult, error) {
		n, err := dependencyInt(step, from)
		if err != nil {
			return squareResult{}, err
		}
		return squareResult{
			Result: intValue(square(n)), Operation: opSquare, Input: intValue(n),
			Source: from, StepNumber: configStepNumber(step, stepNumber),
		}, nil
	}
}

// convergeOptions shapes a multiply-and-square step's result.
type convergeOptions struct {
	operation string
	asString  bool     // always return the result as a decimal string
	ceiling   *big.Int // saturate at this value (nil: exact)
}

// multiplySquare multiplies the numbers of the ancestor steps from and
// squares the product.
func multiplySquare(opts convergeOptions, from ...string) worker.HandlerFunc[struct{}, convergenceResult] {
	return func(_ context.Context, step *worker.Step[struct{}]) (convergenceResult, error) {
		ns, err := dependencyInts(step, from)
		if err != nil {
			return convergenceResult{}, err
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
		return res, nil
	}
}

// saturate caps v at ceiling and reports whether it had to.
func saturate(v, ceiling *big.Int) (*big.Int, bool) {
	if v.Cmp(ceiling) > 0 {
		return new(big.Int).Set(ceiling), true
	}
	return v, false
}

// stepNumberConfig is the part of the arithmetic steps' configuration
// (handler.initialization) they read.
type stepNumberConfig struct {
	StepNumber int `json:"step_number"`
}

// configStepNumber is the positive step_number of the step's
// configuration, or def (also when the configuration does not have one
// that reads as an integer: it only labels the result).
func configStepNumber[In any](step *worker.Step[In], def int) int {
	if cfg, err := worker.Config[stepNumberConfig](step); err == nil && cfg.StepNumber > 0 {
		return cfg.StepNumber
	}
	return def
}

// registerArithmetic registers the linear, diamond, tree and mixed-DAG
// handlers.
func registerArithmetic(r *worker.Registry) error {
	const (
		linear  = "tasker_example_rs::step_handlers::linear_workflow::"
		diamond = "tasker_example_rs::step_handlers::diamond_workflow::"
		tree    = "tasker_example_rs::step_handlers::tree_workflow::"
		dag     = "tasker_example_rs::step_handlers::mixed_dag_workflow::"
	)
	return errors.Join(
		worker.Register(r, linear+"LinearStep1Handler", squareInput(1)),
		worker.Register(r, linear+"LinearStep2Handler", squareOf(stepLinear1, 2)),
		worker.Register(r, linear+"LinearStep3Handler", squareOf(stepLinear2, 3)),
		worker.Register(r, linear+"LinearStep4Handler", squareOf(stepLinear3, 4)),

		worker.Register(r, diamond+"DiamondStartHandler", squareInput(0)),
		worker.Register(r, diamond+"DiamondBranchBHandler", squareOf(stepDiamondStart, 0)),
		worker.Register(r, diamond+"DiamondBranchCHandler", squareOf(stepDiamondStart, 0)),
		worker.Register(r, diamond+"DiamondEndHandler", multiplySquare(convergeOptions{operation: opMultiplyAndSquare},
			stepDiamondBranchB, stepDiamondBranchC)),

		worker.Register(r, tree+"TreeRootHandler", squareInput(0)),
		worker.Register(r, tree+"TreeBranchLeftHandler", squareOf(stepTreeRoot, 0)),
		worker.Register(r, tree+"TreeBranchRightHandler", squareOf(stepTreeRoot, 0)),
		worker.Register(r, tree+"TreeLeafDHandler", squareOf(stepTreeBranchLeft, 0)),
		worker.Register(r, tree+"TreeLeafEHandler", squareOf(stepTreeBranchLeft, 0)),
		worker.Register(r, tree+"TreeLeafFHandler", squareOf(stepTreeBranchRight, 0)),
		worker.Register(r, tree+"TreeLeafGHandler", squareOf(stepTreeBranchRight, 0)),
		// The tree's final value (n^64) is always returned as a decimal
		// string, as tasker-core does.
		worker.Register(r, tree+"TreeFinalConvergenceHandler", multiplySquare(convergeOptions{operation: opMultiplyAllAndSquare, asString: true},
			stepTreeLeafD, stepTreeLeafE, stepTreeLeafF, stepTreeLeafG)),

		worker.Register(r, dag+"DagInitHandler", squareInput(0)),
		worker.Register(r, dag+"DagProcessLeftHandler", squareOf(stepDagInit, 0)),
		worker.Register(r, dag+"DagProcessRightHandler", squareOf(stepDagInit, 0)),
		worker.Register(r, dag+"DagValidateHandler", multiplySquare(convergeOptions{operation: opMultiplyAndSquare},
			stepDagProcessLeft, stepDagProcessRight)),
		worker.Register(r, dag+"DagTransformHandler", squareOf(stepDagProcessLeft, 0)),
		worker.Register(r, dag+"DagAnalyzeHandler", squareOf(stepDagProcessRight, 0)),
		// tasker-core finalizes the mixed DAG in u128 with saturating
		// multiplication; we compute exactly with math/big and cap the
		// product and the square at 2^128-1, setting "saturated". For
		// even_number 2 the result is exactly 2^64; from 4 on it saturates.
		worker.Register(r, dag+"DagFinalizeHandler", multiplySquare(convergeOptions{operation: opMultiplyThreeAndSquare, ceiling: u128Max},
			stepDagValidate, stepDagTransform, stepDagAnalyze)),
	)
}
