package native

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"

	"github.com/tasker-go/tasker/shared/stepresult"
)

// Demo is one example template with a task context and how the task ends.
type Demo struct {
	// Key is the template key, "namespace/name/version".
	Key string
	// Input is the task context to submit.
	Input json.RawMessage
	// Expect is what the finished task must hold.
	Expect Expectation
}

// Expectation describes how a demo task ends.
type Expectation struct {
	// Complete is true when the task completes. When false the task fails:
	// it never completes and at least FailedSteps end in error.
	Complete bool
	// Steps is the number of steps the task has.
	Steps int
	// Step names the step whose outcome is checked.
	Step string
	// Want, when set, is a JSON value the step's result (the value its
	// handler returned) must match: an object matches when each of its keys
	// matches in the result (other keys are ignored), arrays match element
	// by element, numbers by exact value (2.50 matches 2.5), other values
	// by equality.
	Want json.RawMessage
	// Attempts is how many attempts Step takes (0: not checked).
	Attempts int
	// FailedSteps lists, sorted, the steps that must end in error.
	FailedSteps []string
}

// Check compares a step's result value (what its handler returned, the
// "result" field of the stored execution result) with Want.
func (e Expectation) Check(result json.RawMessage) error {
	if len(e.Want) == 0 {
		return nil
	}
	want, err := decodeNumbers(e.Want)
	if err != nil {
		return fmt.Errorf("expectation for step %s: %w", e.Step, err)
	}
	got, err := decodeNumbers(result)
	if err != nil {
		return fmt.Errorf("result of step %s: %w", e.Step, err)
	}
	if err := matchJSON(want, got, ""); err != nil {
		return fmt.Errorf("result of step %s: %w", e.Step, err)
	}
	return nil
}

// CheckStored is Check on a stored step execution result (the JSON kept in
// workflow_steps.results): it must be a success, and its "result" is
// checked.
func (e Expectation) CheckStored(stored json.RawMessage) error {
	r := stepresult.Parse(stored)
	if !r.Success {
		msg := r.Status
		if r.Error != nil {
			msg = r.Error.ErrorType + ": " + r.Error.Message
		}
		return fmt.Errorf("step %s did not succeed (%s)", e.Step, msg)
	}
	return e.Check(r.Result)
}

// Demos returns the demo of every example template, sorted by key.
func Demos() []Demo {
	mustJSON := func(v any) json.RawMessage {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err) // static values: cannot happen
		}
		return b
	}
	order := map[string]any{
		"customer": map[string]any{"id": 1001, "name": "Ada Park", "email": "ada@example.com"},
		"items": []map[string]any{
			{"sku": "WIDGET-001", "quantity": 2, "price": 29.99},
			{"sku": "GADGET-002", "quantity": 1, "price": 149.99},
		},
		"payment": map[string]any{"method": "credit_card", "token": "tok_visa_4242"},
		"shipping": map[string]any{"method": "express", "address": map[string]any{
			"street": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"}},
	}
	empty := json.RawMessage(`{}`)
	demos := []Demo{
		{Key: "examples_linear/square_chain/1.0.0", Input: json.RawMessage(`{"even_number":6}`),
			Expect: Expectation{Complete: true, Steps: 4, Step: "linear_step_4",
				Want: json.RawMessage(`{"result":2821109907456}`), Attempts: 1}},
		{Key: "examples_diamond/square_diamond/1.0.0", Input: json.RawMessage(`{"even_number":6}`),
			Expect: Expectation{Complete: true, Steps: 4, Step: "diamond_end",
				Want: json.RawMessage(`{"result":2821109907456}`), Attempts: 1}},
		{Key: "examples_tree/square_tree/1.0.0", Input: json.RawMessage(`{"even_number":2}`),
			Expect: Expectation{Complete: true, Steps: 8, Step: "tree_final_convergence",
				Want: json.RawMessage(`{"result":"18446744073709551616"}`), Attempts: 1}},
		{Key: "examples_dag/mixed_dag/1.0.0", Input: json.RawMessage(`{"even_number":2}`),
			Expect: Expectation{Complete: true, Steps: 7, Step: "dag_finalize",
				Want: json.RawMessage(`{"result":"18446744073709551616"}`), Attempts: 1}},
		{Key: "examples_orders/order_fulfillment/1.0.0", Input: mustJSON(order),
			// 2×29.99 + 149.99 = 209.97; tax 8 % = 16.80; total 226.77.
			Expect: Expectation{Complete: true, Steps: 4, Step: "ship_order",
				Want: json.RawMessage(`{"carrier":"FedEx","shipping_method":"express","shipping_cost":15,` +
					`"order_total":226.77,"status":"shipped"}`), Attempts: 1}},
		{Key: "examples_retry/fail_twice_then_succeed/1.0.0", Input: empty,
			Expect: Expectation{Complete: true, Steps: 1, Step: "flaky_step",
				Want: json.RawMessage(`{"attempts_before_success":3}`), Attempts: 3}},
		{Key: "examples_retry/retry_exhaustion/1.0.0", Input: empty,
			Expect: Expectation{Complete: false, Steps: 1, Step: "always_failing_step", Attempts: 3,
				FailedSteps: []string{"always_failing_step"}}},
		{Key: "examples_slow/slow_step/1.0.0", Input: json.RawMessage(`{"sleep_ms":100}`),
			Expect: Expectation{Complete: true, Steps: 1, Step: "nap",
				Want: json.RawMessage(`{"slept_ms":100}`), Attempts: 1}},
		{Key: "examples_errors/success_only/1.0.0", Input: empty,
			Expect: Expectation{Complete: true, Steps: 1, Step: "success_step",
				Want: json.RawMessage(`{"status":"success"}`), Attempts: 1}},
		{Key: "examples_errors/permanent_error/1.0.0", Input: empty,
			Expect: Expectation{Complete: false, Steps: 1, Step: "permanent_error_step", Attempts: 1,
				FailedSteps: []string{"permanent_error_step"}}},
		{Key: "examples_errors/retryable_error/1.0.0", Input: empty,
			Expect: Expectation{Complete: false, Steps: 1, Step: "retryable_error_step", Attempts: 3,
				FailedSteps: []string{"retryable_error_step"}}},
		// The retryable step of the mixed demo also fails, but whether it
		// uses all its attempts before the task is declared failed is
		// orchestration's choice, so only the permanent failure is required.
		{Key: "examples_errors/mixed_outcomes/1.0.0", Input: empty,
			Expect: Expectation{Complete: false, Steps: 3, Step: "success_step",
				Want: json.RawMessage(`{"status":"success"}`), Attempts: 1,
				FailedSteps: []string{"permanent_error_step"}}},
	}
	sort.Slice(demos, func(i, j int) bool { return demos[i].Key < demos[j].Key })
	return demos
}

// DemoInputs maps each example template's key to its demo task context.
// Expectation.Complete says whether the task completes: the retry
// exhaustion and error-scenario demos fail by design.
func DemoInputs() map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for _, d := range Demos() {
		out[d.Key] = d.Input
	}
	return out
}

// DemoExpectations maps each example template's key to how its demo task
// ends.
func DemoExpectations() map[string]Expectation {
	out := map[string]Expectation{}
	for _, d := range Demos() {
		out[d.Key] = d.Expect
	}
	return out
}

// decodeNumbers decodes JSON keeping numbers as json.Number.
func decodeNumbers(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decoding JSON: %w", err)
	}
	return v, nil
}

// matchJSON checks that got matches want (see Expectation.Want); at is the
// JSON pointer of the values, for messages.
func matchJSON(want, got any, at string) error {
	where := at
	if where == "" {
		where = "/"
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %s", where, describe(got))
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				return fmt.Errorf("%s: missing %q", where, k)
			}
			if err := matchJSON(w[k], gv, at+"/"+pointerEscape(k)); err != nil {
				return err
			}
		}
		return nil
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s: want an array of %d, got %s", where, len(w), describe(got))
		}
		for i := range w {
			if err := matchJSON(w[i], g[i], fmt.Sprintf("%s/%d", at, i)); err != nil {
				return err
			}
		}
		return nil
	case json.Number:
		g, ok := got.(json.Number)
		if !ok {
			return fmt.Errorf("%s: want %s, got %s", where, w, describe(got))
		}
		wr, ok1 := new(big.Rat).SetString(w.String())
		gr, ok2 := new(big.Rat).SetString(g.String())
		if !ok1 || !ok2 || wr.Cmp(gr) != 0 {
			return fmt.Errorf("%s: want %s, got %s", where, w, g)
		}
		return nil
	default:
		if want != got {
			return fmt.Errorf("%s: want %s, got %s", where, describe(want), describe(got))
		}
		return nil
	}
}

func describe(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return abbreviate(b)
}

func pointerEscape(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
