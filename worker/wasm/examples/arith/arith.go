// Command arith is an example WASM handler module written in Go: the
// arithmetic of the linear, diamond, mixed-DAG and tree workflows (each step
// squares the number before it; a convergence multiplies its parents and
// squares the product), with exactly the results of the native Go handlers
// in workers/native. tasker bench --handlers wasm runs the native example
// templates on it. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o arith.wasm ./worker/wasm/examples/arith
//
// Its handlers (exports.go) are named after the steps they serve:
// linear_step_1 … linear_step_4, diamond_start, diamond_branch_b,
// diamond_branch_c, diamond_end, dag_init … dag_finalize and tree_root …
// tree_final_convergence.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/tasker-go/tasker/worker/wasm/guest"
)

// main is never called in a reactor module; the handlers are the exports.
func main() {}

// handlers are the module's handlers by export name (exports.go exports
// each; tests run them natively).
var handlers = map[string]guest.Handler{
	"linear_step_1":    squareInput,
	"linear_step_2":    squareOf("linear_step_1"),
	"linear_step_3":    squareOf("linear_step_2"),
	"linear_step_4":    squareOf("linear_step_3"),
	"diamond_start":    squareInput,
	"diamond_branch_b": squareOf("diamond_start"),
	"diamond_branch_c": squareOf("diamond_start"),
	"diamond_end":      multiplySquare(converge{}, "diamond_branch_b", "diamond_branch_c"),

	"dag_init":          squareInput,
	"dag_process_left":  squareOf("dag_init"),
	"dag_process_right": squareOf("dag_init"),
	"dag_validate":      multiplySquare(converge{}, "dag_process_left", "dag_process_right"),
	"dag_transform":     squareOf("dag_process_left"),
	"dag_analyze":       squareOf("dag_process_right"),
	// The mixed DAG's final product and square saturate at 2^128-1.
	"dag_finalize": multiplySquare(converge{operation: "multiply_three_and_square", ceiling: u128Max},
		"dag_validate", "dag_transform", "dag_analyze"),

	"tree_root":         squareInput,
	"tree_branch_left":  squareOf("tree_root"),
	"tree_branch_right": squareOf("tree_root"),
	"tree_leaf_d":       squareOf("tree_branch_left"),
	"tree_leaf_e":       squareOf("tree_branch_left"),
	"tree_leaf_f":       squareOf("tree_branch_right"),
	"tree_leaf_g":       squareOf("tree_branch_right"),
	// The tree's final value (n^64) is always a decimal string.
	"tree_final_convergence": multiplySquare(converge{operation: "multiply_all_and_square", asString: true},
		"tree_leaf_d", "tree_leaf_e", "tree_leaf_f", "tree_leaf_g"),
}

// u128Max is 2^128-1, the ceiling of the mixed DAG's final product.
var u128Max = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))

// squareResult is the result of a step that squares one number.
type squareResult struct {
	Result     any    `json:"result"`
	Operation  string `json:"operation"`
	Input      any    `json:"input"`
	Source     string `json:"source"`
	StepNumber int    `json:"step_number,omitempty"`
}

// convergenceResult is the result of a step that multiplies its ancestors'
// numbers and squares the product.
type convergenceResult struct {
	Result    any            `json:"result"`
	Operation string         `json:"operation"`
	Inputs    map[string]any `json:"inputs"`
	Product   any            `json:"product"`
	Saturated bool           `json:"saturated,omitempty"`
}

// converge shapes a multiply-and-square step's result.
type converge struct {
	operation string   // default multiply_and_square
	asString  bool     // always return the result as a decimal string
	ceiling   *big.Int // saturate the product and the square here (nil: exact)
}

// squareInput squares the task context's even_number.
func squareInput(step *guest.Step) (any, error) {
	raw, ok, err := guest.Lookup(step.ContextJSON(), "even_number")
	if err != nil {
		return nil, invalid("reading the task context: %v", err)
	}
	if !ok {
		return nil, invalid("task context must contain even_number")
	}
	if string(raw) == "null" || raw[0] == '"' {
		return nil, invalid("even_number must be an integer, got %s", raw)
	}
	n, err := parseInt(raw)
	if err != nil {
		return nil, invalid("even_number must be an integer: %v", err)
	}
	if n.Bit(0) != 0 {
		return nil, invalid("even_number must be even, got %s", n)
	}
	return squareResult{Result: intValue(square(n)), Operation: "square", Input: intValue(n),
		Source: "even_number", StepNumber: stepNumber(step)}, nil
}

// squareOf squares the number of the ancestor step from.
func squareOf(from string) guest.Handler {
	return func(step *guest.Step) (any, error) {
		n, err := dependencyInt(step, from)
		if err != nil {
			return nil, err
		}
		return squareResult{Result: intValue(square(n)), Operation: "square", Input: intValue(n),
			Source: from, StepNumber: stepNumber(step)}, nil
	}
}

// multiplySquare multiplies the numbers of the ancestor steps from and
// squares the product.
func multiplySquare(opts converge, from ...string) guest.Handler {
	if opts.operation == "" {
		opts.operation = "multiply_and_square"
	}
	return func(step *guest.Step) (any, error) {
		inputs := make(map[string]any, len(from))
		product := big.NewInt(1)
		for _, name := range from {
			n, err := dependencyInt(step, name)
			if err != nil {
				return nil, err
			}
			inputs[name] = intValue(n)
			product.Mul(product, n)
		}
		v := square(product)
		res := convergenceResult{Operation: opts.operation, Inputs: inputs}
		if opts.ceiling != nil {
			var vs, ps bool
			v, vs = saturate(v, opts.ceiling)
			product, ps = saturate(product, opts.ceiling)
			res.Saturated = vs || ps
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

func invalid(format string, args ...any) error {
	return guest.WithErrorType(guest.Permanent(fmt.Errorf(format, args...)), "ValidationError")
}

// stepNumber is the step inputs' positive step_number, else 0 (omitted).
func stepNumber(step *guest.Step) int {
	raw, ok, err := guest.Lookup(step.InputsJSON(), "step_number")
	if !ok || err != nil {
		return 0
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// dependencyInt reads the number an ancestor produced: the "result" field
// of its result object, or the result itself when it is a bare number or
// decimal string. guest.Lookup picks the field out without decoding the
// rest.
func dependencyInt(step *guest.Step, name string) (*big.Int, error) {
	raw, err := step.DependencyJSON(name)
	if err != nil {
		return nil, err
	}
	if raw[0] == '{' {
		field, ok, err := guest.Lookup(raw, "result")
		if err != nil || !ok {
			return nil, guest.Permanent(fmt.Errorf("result of step %q has no \"result\" field", name))
		}
		raw = field
	}
	n, err := parseInt(raw)
	if err != nil {
		return nil, guest.Permanent(fmt.Errorf("result of step %q: %w", name, err))
	}
	return n, nil
}

// parseInt reads an integer from a JSON number or a decimal string.
func parseInt(raw json.RawMessage) (*big.Int, error) {
	s := string(raw)
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		s = strings.TrimSpace(s)
	} else if !json.Valid(raw) {
		return nil, errors.New(string(raw) + " is not a number")
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, errors.New(string(raw) + " is not an integer")
	}
	return n, nil
}

// intValue is n as a JSON number when it fits in an int64, else as a
// decimal string.
func intValue(n *big.Int) any {
	if n.IsInt64() {
		return n.Int64()
	}
	return n.String()
}

func square(n *big.Int) *big.Int { return new(big.Int).Mul(n, n) }
