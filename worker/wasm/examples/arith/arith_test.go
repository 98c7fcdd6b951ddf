package main

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/wasm/guest"
	"github.com/tasker-go/tasker/worker/workertest"
	"github.com/tasker-go/tasker/workers/native"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The handlers run natively through guest.Invoke, on the step events a
// worker sends, as they run inside the module.
func TestHandlersNatively(t *testing.T) {
	invoke := func(fn string, b *workertest.StepBuilder) map[string]json.RawMessage {
		t.Helper()
		ev, err := worker.StepEvent(context.Background(), b.Build())
		require.NoError(t, err)
		var out map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(guest.Invoke(ev, handlers[fn]), &out))
		return out
	}
	out := invoke("linear_step_1", workertest.NewStep("linear_step_1").
		WithContext(map[string]int{"even_number": 6}).WithConfig(map[string]int{"step_number": 1}))
	require.JSONEq(t, `true`, string(out["success"]))
	require.JSONEq(t, `{"result": 36, "operation": "square", "input": 6, "source": "even_number", "step_number": 1}`, string(out["result"]))

	out = invoke("diamond_end", workertest.NewStep("diamond_end").
		WithDependency("diamond_branch_b", map[string]any{"result": "4294967296"}).
		WithDependency("diamond_branch_c", map[string]any{"result": 4294967296}))
	require.JSONEq(t, `{"result": "340282366920938463463374607431768211456", "operation": "multiply_and_square",
		"inputs": {"diamond_branch_b": 4294967296, "diamond_branch_c": 4294967296}, "product": "18446744073709551616"}`, string(out["result"]))

	out = invoke("linear_step_1", workertest.NewStep("linear_step_1").WithContext(map[string]string{"even_number": "6"}))
	require.JSONEq(t, `false`, string(out["success"]))
	require.JSONEq(t, `{"message": "even_number must be an integer, got \"6\"", "error_type": "ValidationError", "retryable": false}`, string(out["error"]))

	out = invoke("linear_step_2", workertest.NewStep("linear_step_2"))
	require.Contains(t, string(out["error"]), `step \"linear_step_2\" has no completed ancestor \"linear_step_1\"`)
}

// TestSameResultsAsNative walks the native example workflows the guest
// serves (linear, diamond, mixed DAG, tree), step by step in template
// order: every guest handler, named after its step, returns exactly what
// the native Go handler of the step's callable returns for the same event.
func TestSameResultsAsNative(t *testing.T) {
	reg := worker.NewRegistry()
	require.NoError(t, native.Register(reg))
	tpls, err := native.Templates()
	require.NoError(t, err)
	served := 0
	for _, tpl := range tpls {
		if !slices.Contains([]string{"examples_linear", "examples_diamond", "examples_dag", "examples_tree"}, tpl.NamespaceName) {
			continue
		}
		for _, even := range []int{2, 6} {
			results := map[string]any{}
			for _, s := range tpl.Steps {
				h, ok := handlers[s.Name]
				require.True(t, ok, "no guest handler for %s", s.Name)
				b := workertest.NewStep(s.Name).WithCallable(s.Handler.Callable).
					WithContext(map[string]int{"even_number": even}).WithConfig(s.Handler.Initialization)
				for _, d := range s.Dependencies {
					b = b.WithDependency(d, results[d])
				}
				want := reg.Execute(context.Background(), b.Build())
				require.True(t, want.IsSuccess(), "%s: %s", s.Name, want.Message())
				wantJSON, err := json.Marshal(want.Value())
				require.NoError(t, err)
				ev, err := worker.StepEvent(context.Background(), b.Build())
				require.NoError(t, err)
				var got struct {
					Success bool            `json:"success"`
					Result  json.RawMessage `json:"result"`
				}
				require.NoError(t, json.Unmarshal(guest.Invoke(ev, h), &got))
				require.True(t, got.Success, s.Name)
				require.JSONEq(t, string(wantJSON), string(got.Result), "%s/%s with even_number %d", tpl.NamespaceName, s.Name, even)
				results[s.Name] = json.RawMessage(wantJSON)
				served++
			}
		}
	}
	require.Equal(t, 2*(4+4+7+8), served, "every step of the four workflows")
}
