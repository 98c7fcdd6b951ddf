package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/worker"
)

const fanOutYAML = `
name: fan_out
namespace_name: batch_scale
version: 1.0.0
steps:
  - name: split
    type: batchable
    handler: {callable: scale.split, initialization: {worker_template_name: work}}
  - name: work
    type: batch_worker
    dependencies: [split]
    handler: {callable: scale.work}
    batch_config: {batch_size: 1, parallelism: 1000, worker_template: work}
  - name: gather
    type: deferred_convergence
    dependencies: [work]
    handler: {callable: scale.gather}
`

type fanOutInput struct {
	Items int64 `json:"items"`
}

type fanOutGather struct {
	Workers int   `json:"workers"`
	Items   int64 `json:"items"`
}

// fanOutRegistry has the handlers of the fan_out template: split makes one
// worker per item, each worker counts its items, gather adds them up.
func fanOutRegistry() *worker.Registry {
	r := worker.NewRegistry()
	split := func(_ context.Context, step *worker.Step[fanOutInput]) (worker.Batchable, error) {
		return worker.Batchable{Outcome: worker.CreateBatches("work",
			worker.PlanBatches(step.Input.Items, 1, int(step.Input.Items), 0), step.Input.Items)}, nil
	}
	work := func(_ context.Context, step *worker.Step[struct{}]) (map[string]int64, error) {
		w, err := step.BatchWorker()
		if err != nil {
			return nil, worker.Permanent(err)
		}
		return map[string]int64{"items": w.End() - w.Start()}, nil
	}
	gather := func(_ context.Context, step *worker.Step[struct{}]) (fanOutGather, error) {
		rs, _, err := worker.DecodeBatchResults[map[string]int64](step.StepContext, "work")
		if err != nil {
			return fanOutGather{}, err
		}
		out := fanOutGather{Workers: len(rs)}
		for _, r := range rs {
			out.Items += r["items"]
		}
		return out, nil
	}
	for _, err := range []error{
		worker.Register(r, "scale.split", worker.Func(split)),
		worker.Register(r, "scale.work", worker.Func(work)),
		worker.Register(r, "scale.gather", worker.Func(gather)),
	} {
		if err != nil {
			panic(err)
		}
	}
	return r
}

// TestBatchOfAThousandWorkers: a batch of 1,000 workers fans out, runs on
// a real worker and converges; the gather step sees every worker's result.
func TestBatchOfAThousandWorkers(t *testing.T) {
	tpls, err := template.Parse([]byte(fanOutYAML), "fan_out.yaml", template.ParseOptions{})
	require.NoError(t, err)
	sys := systest.Start(t, systest.Options{Templates: tpls, Registry: fanOutRegistry, PoolSize: 12})
	began := time.Now()
	created, err := sys.Core.CreateTask(sys.Ctx, orchestration.TaskRequest{Namespace: "batch_scale", Name: "fan_out",
		Version: "1.0.0", Context: json.RawMessage(`{"items":1000}`), IdentityKey: t.Name()})
	require.NoError(t, err)
	task := created.Task.UUID
	// Seconds on a quiet machine; the deadline allows for a busy one.
	require.Eventually(t, func() bool {
		tk, err := sys.Store.GetTask(sys.Ctx, task)
		return err == nil && tk.State.Terminal()
	}, 150*time.Second, 20*time.Millisecond)
	t.Logf("1,000 workers fanned out and converged in %v", time.Since(began))
	tk, err := sys.Store.GetTask(sys.Ctx, task)
	require.NoError(t, err)
	require.Equal(t, state.TaskComplete, tk.State)
	steps, err := sys.Store.StepReadiness(sys.Ctx, []uuid.UUID{task}, nil)
	require.NoError(t, err)
	require.Len(t, steps, 1002)
	for _, s := range steps {
		if s.Name == "gather" {
			require.JSONEq(t, `{"workers":1000,"items":1000}`, string(stepresult.Parse(s.Results).Result))
		}
	}
}
