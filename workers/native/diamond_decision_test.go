package native

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/workertest"
)

// TestDiamondDecisionRouting runs the diamond and the decision of
// diamond_decision_batch for the fixture catalogue's inputs: each takes
// its documented path.
func TestDiamondDecisionRouting(t *testing.T) {
	for _, tc := range []struct {
		numbers []int
		next    string
		evens   int
		odds    int
	}{
		{[]int{2, 4, 6, 8, 10, 12}, "even_batch_analyzer", 6, 0},
		{[]int{1, 3, 5, 7, 9, 11, 2, 4}, "odd_batch_analyzer", 2, 6},
		{[]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, "even_batch_analyzer", 5, 5},
	} {
		ctx := map[string]any{"numbers": tc.numbers}
		start := workertest.Execute(handler(t, ddbPrefix+"DiamondStartHandler"), workertest.NewStep(stepDDBStart).WithContext(ctx))
		startV, err := workertest.Value(start)
		require.NoError(t, err)
		evens := workertest.Execute(handler(t, ddbPrefix+"BranchEvensHandler"),
			workertest.NewStep("branch_evens").WithStoredDependency(stepDDBStart, startV))
		odds := workertest.Execute(handler(t, ddbPrefix+"BranchOddsHandler"),
			workertest.NewStep("branch_odds").WithStoredDependency(stepDDBStart, startV))
		require.Equal(t, num(strconv.Itoa(tc.evens)), valueOf(t, evens)["count"])
		require.Equal(t, num(strconv.Itoa(tc.odds)), valueOf(t, odds)["count"])
		ev, err := workertest.Value(evens)
		require.NoError(t, err)
		ov, err := workertest.Value(odds)
		require.NoError(t, err)
		r := workertest.Execute(handler(t, ddbPrefix+"RoutingDecisionHandler"), workertest.NewStep("ddb_routing_decision").
			WithStoredDependency("branch_evens", ev).WithStoredDependency("branch_odds", ov))
		var d worker.Decision
		require.NoError(t, workertest.DecodeValue(r, &d))
		require.Equal(t, []string{tc.next}, d.Steps(), "numbers %v", tc.numbers)
	}
	r := workertest.Execute(handler(t, ddbPrefix+"DiamondStartHandler"),
		workertest.NewStep(stepDDBStart).WithContext(map[string]any{"numbers": []int{}}))
	require.False(t, r.IsSuccess())
	require.False(t, r.Retryable())
}
