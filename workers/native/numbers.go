package native

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/tasker-go/tasker/worker"
)

// u128Max is 2^128-1, the ceiling of the mixed DAG's final product.
var u128Max = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))

// intValue renders n for a JSON result: a number when it fits in an int64,
// else a decimal string (JSON readers commonly lose precision beyond 2^53,
// and beyond int64 many cannot hold the value at all).
func intValue(n *big.Int) any {
	if n.IsInt64() {
		return n.Int64()
	}
	return n.String()
}

// square returns n².
func square(n *big.Int) *big.Int { return new(big.Int).Mul(n, n) }

// parseInt reads an integer from JSON: a number without fraction or
// exponent, or a string of decimal digits (how big values are stored).
func parseInt(raw json.RawMessage) (*big.Int, error) {
	raw = bytes.TrimSpace(raw)
	var s string
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var num json.Number
		if err := dec.Decode(&num); err != nil {
			return nil, fmt.Errorf("%s is not a number", abbreviate(raw))
		}
		s = num.String()
	}
	n, ok := new(big.Int).SetString(strings.TrimSpace(s), 10)
	if !ok {
		return nil, fmt.Errorf("%s is not an integer", abbreviate(raw))
	}
	return n, nil
}

// dependencyInt reads the number an ancestor step produced: the "result"
// field of its result object, or the result itself when it is a bare
// number or decimal string (as other-language handlers may return).
func dependencyInt[In any](step *worker.Step[In], name string) (*big.Int, error) {
	raw, err := worker.Dependency[json.RawMessage](step, name)
	if err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil && obj != nil {
		field, ok := obj["result"]
		if !ok {
			return nil, brokenDependency(fmt.Errorf("result of step %q has no \"result\" field", name))
		}
		raw = field
	}
	n, err := parseInt(raw)
	if err != nil {
		return nil, brokenDependency(fmt.Errorf("result of step %q: %w", name, err))
	}
	return n, nil
}

// dependencyInts reads the numbers of several ancestors, in order.
func dependencyInts[In any](step *worker.Step[In], names []string) ([]*big.Int, error) {
	out := make([]*big.Int, len(names))
	for i, n := range names {
		v, err := dependencyInt(step, n)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// evenInput is the task context of the arithmetic workflows. even_number
// is kept as JSON so that its checks can say exactly what is wrong.
type evenInput struct {
	EvenNumber json.RawMessage `json:"even_number"`
}

// number reads and checks even_number.
func (in evenInput) number() (*big.Int, error) {
	raw := bytes.TrimSpace(in.EvenNumber)
	if len(raw) == 0 {
		return nil, fmt.Errorf("task context must contain even_number")
	}
	if string(raw) == "null" || raw[0] == '"' {
		return nil, fmt.Errorf("even_number must be an integer, got %s", abbreviate(raw))
	}
	n, err := parseInt(raw)
	if err != nil {
		return nil, fmt.Errorf("even_number must be an integer: %w", err)
	}
	if n.Bit(0) != 0 {
		return nil, fmt.Errorf("even_number must be even, got %s", n)
	}
	return n, nil
}

func abbreviate(raw []byte) string {
	const limit = 40
	if len(raw) > limit {
		return string(raw[:limit]) + "…"
	}
	return string(raw)
}
