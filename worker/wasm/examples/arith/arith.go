// Command arith is an example WASM handler module written in Go: the
// linear and diamond workflows' arithmetic (each step squares the number
// before it; the diamond's end multiplies its branches and squares the
// product), with exactly the results of the native Go handlers in
// workers/native. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o arith.wasm ./worker/wasm/examples/arith
//
// Its handlers (exports.go) are linear_step_1 … linear_step_4,
// diamond_start, diamond_branch_b, diamond_branch_c and diamond_end.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
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
	"diamond_end":      multiplySquare("diamond_branch_b", "diamond_branch_c"),
}

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
}

// squareInput squares the task context's even_number.
func squareInput(step *guest.Step) (any, error) {
	var in struct {
		EvenNumber json.RawMessage `json:"even_number"`
	}
	if err := step.Context(&in); err != nil {
		return nil, err
	}
	raw := bytes.TrimSpace(in.EvenNumber)
	if len(raw) == 0 {
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
func multiplySquare(from ...string) guest.Handler {
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
		return convergenceResult{Result: intValue(square(product)), Operation: "multiply_and_square",
			Inputs: inputs, Product: intValue(product)}, nil
	}
}

func invalid(format string, args ...any) error {
	return guest.WithErrorType(guest.Permanent(fmt.Errorf(format, args...)), "ValidationError")
}

// stepNumber is the step inputs' positive step_number, else 0 (omitted).
func stepNumber(step *guest.Step) int {
	var cfg struct {
		StepNumber int `json:"step_number"`
	}
	if step.Inputs(&cfg) != nil || cfg.StepNumber < 0 {
		return 0
	}
	return cfg.StepNumber
}

// dependencyInt reads the number an ancestor produced: the "result" field
// of its result object, or the result itself when it is a bare number or
// decimal string.
func dependencyInt(step *guest.Step, name string) (*big.Int, error) {
	var raw json.RawMessage
	if err := step.Dependency(name, &raw); err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil && obj != nil {
		field, ok := obj["result"]
		if !ok {
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
	raw = bytes.TrimSpace(raw)
	var s string
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
	} else {
		var num json.Number
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&num); err != nil {
			return nil, errors.New(string(raw) + " is not a number")
		}
		s = num.String()
	}
	n, ok := new(big.Int).SetString(strings.TrimSpace(s), 10)
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
