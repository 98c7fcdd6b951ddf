package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/wasm/guest"
	"github.com/tasker-go/tasker/worker/workertest"
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
