package systest_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
)

// TestLinearTaskOnRabbitMQ: with queues.backend = "rabbitmq" the services
// start (the driver, the relay in the process) and a linear task runs to
// completion through the broker: the step messages, the results and the
// task requests travel outbox → relay → broker → claim.
func TestLinearTaskOnRabbitMQ(t *testing.T) {
	sys := systest.Start(t, systest.Options{RabbitMQURL: systest.BrokerVHost(t)})
	require.NotNil(t, sys.Broker(), "the system runs on the broker")
	began := time.Now()
	created, err := sys.Core.CreateTask(sys.Ctx, orchestration.TaskRequest{Namespace: "examples_linear", Name: "square_chain",
		Version: "1.0.0", Context: json.RawMessage(`{"even_number":6}`), IdentityKey: t.Name()})
	require.NoError(t, err)
	task := created.Task.UUID
	require.Eventually(t, func() bool {
		tk, err := sys.Store.GetTask(sys.Ctx, task)
		return err == nil && tk.State.Terminal()
	}, 2*time.Minute, 20*time.Millisecond)
	t.Logf("linear task of 4 steps completed on the broker in %v", time.Since(began))
	tk, err := sys.Store.GetTask(sys.Ctx, task)
	require.NoError(t, err)
	require.Equal(t, state.TaskComplete, tk.State)
	steps, err := sys.Store.StepReadiness(sys.Ctx, []uuid.UUID{task}, nil)
	require.NoError(t, err)
	require.Len(t, steps, 4)
	results := map[string]float64{}
	for _, s := range steps {
		var r struct{ Result float64 }
		require.NoError(t, json.Unmarshal(stepresult.Parse(s.Results).Result, &r))
		results[s.Name] = r.Result
	}
	require.Equal(t, map[string]float64{"linear_step_1": 36, "linear_step_2": 1296, "linear_step_3": 1679616,
		"linear_step_4": 2821109907456}, results, "6 squared once per step")

	// Health: the steps waiting for a worker are counted on the broker too
	// (through the open tasks); none waits now.
	resp, err := http.Get(sys.URL + "/health/detailed")
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var health api.DetailedHealthResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&health))
	unserved := health.Checks[api.CheckUnservedSteps]
	require.Equal(t, "healthy", unserved.Status, unserved.Message)
	require.Empty(t, unserved.Message)
	require.NotNil(t, health.UnservedSteps)
	require.Empty(t, health.UnservedSteps)
}
