package servicemetrics_test

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/shared/servicemetrics"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestResultsShareOneRegistry: orchestration and a worker in one process
// register the result series on the same registry; both count into the
// one exported series instead of failing on the duplicate.
func TestResultsShareOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	orch, err := servicemetrics.NewResults(reg)
	require.NoError(t, err)
	worker, err := servicemetrics.NewResults(reg)
	require.NoError(t, err)
	orch.Steps(state.StepComplete, 2)
	worker.Steps(state.StepComplete, 3)
	worker.Steps(state.StepError, 0) // nothing recorded
	now := time.Now()
	worker.Outcomes([]store.TaskOutcome{
		{From: state.TaskStepsInProcess, To: state.TaskComplete, CreatedAt: now.Add(-time.Second), FinishedAt: now},
		{From: state.TaskStepsInProcess, To: state.TaskStepsInProcess, EnqueuedSteps: 1}, // not finished
	})
	got := map[string]float64{}
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		for _, m := range f.GetMetric() {
			if m.GetCounter() != nil {
				got[f.GetName()+"/"+m.GetLabel()[0].GetValue()] += m.GetCounter().GetValue()
			}
		}
	}
	require.Equal(t, map[string]float64{"tasker_step_results_total/complete": 5, "tasker_tasks_finished_total/complete": 1}, got)

	_, err = servicemetrics.NewResults(failing{})
	require.Error(t, err, "a registry that refuses is an error")
}

type failing struct{ prometheus.Registerer }

func (failing) Register(prometheus.Collector) error { return errors.New("refused") }
