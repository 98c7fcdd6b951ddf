package wasm_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/wasm"
	"github.com/tasker-go/tasker/worker/workertest"
	"github.com/tasker-go/tasker/workers/native"
)

// benchWorkflows are the native example workflows the guests implement
// (tasker bench runs them): a guest function per step name.
var benchWorkflows = []string{"examples_linear", "examples_diamond", "examples_dag", "examples_tree"}

// checkWorkflowsAgainstNative walks every step of the native example
// workflows in template order through x (wasm:<module>/<step name>) and
// through the native Go handlers, feeding both the native results so far,
// and requires identical results.
func checkWorkflowsAgainstNative(t *testing.T, x *wasm.Executor, module string, evens ...int) {
	t.Helper()
	reg := worker.NewRegistry()
	require.NoError(t, native.Register(reg))
	tpls, err := native.Templates()
	require.NoError(t, err)
	served := 0
	for _, tpl := range tpls {
		if !slices.Contains(benchWorkflows, tpl.NamespaceName) {
			continue
		}
		for _, even := range evens {
			results := map[string]json.RawMessage{}
			for _, s := range tpl.Steps {
				b := workertest.NewStep(s.Name).WithContext(map[string]int{"even_number": even}).WithConfig(s.Handler.Initialization)
				for _, d := range s.Dependencies {
					b = b.WithDependency(d, results[d])
				}
				want, err := workertest.Value(reg.Execute(context.Background(), b.WithCallable(s.Handler.Callable).Build()))
				require.NoError(t, err)
				res := workertest.Execute(x, b.WithCallable("wasm:"+module+"/"+s.Name))
				require.True(t, res.IsSuccess(), "%s %s/%s (even %d): %s", module, tpl.NamespaceName, s.Name, even, res.Message())
				got, err := workertest.Value(res)
				require.NoError(t, err)
				require.JSONEq(t, string(want), string(got), "%s %s/%s (even %d)", module, tpl.NamespaceName, s.Name, even)
				results[s.Name] = want
				served++
			}
		}
	}
	require.Equal(t, len(evens)*(4+4+7+8), served, "every step of the four workflows")
}

// The C guest computes the bench's four workflows exactly, big numbers
// included: 100 makes the tree's n^64 a 129-digit string and saturates the
// mixed DAG's final product; -4 is a negative start.
func TestCGuestRunsTheBenchWorkflows(t *testing.T) {
	t.Parallel()
	if !haveC(t) {
		t.Skip("the C guest needs clang with the wasm32 target")
	}
	x := newExecutor(t, wasm.Config{}, "arith-c")
	checkWorkflowsAgainstNative(t, x, "arith-c", 2, 6, 100, -4, 123456788)
}

func TestGoGuestRunsTheBenchWorkflows(t *testing.T) {
	t.Parallel()
	x := newExecutor(t, wasm.Config{}, "arith")
	checkWorkflowsAgainstNative(t, x, "arith", 6, 100)
}
