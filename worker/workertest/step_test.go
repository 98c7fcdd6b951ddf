package workertest

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/worker"
)

func TestNewStepDefaults(t *testing.T) {
	step := NewStep("charge_card").Build()
	require.Equal(t, "charge_card", step.StepName())
	require.Equal(t, 1, step.Attempt())
	require.Equal(t, DefaultMaxAttempts, step.MaxAttempts())
	require.False(t, step.IsRetry())
	require.False(t, step.IsLastAttempt())
	require.Equal(t, "call", step.Method())
	require.Equal(t, DefaultNamespace, step.Namespace())
	require.Equal(t, DefaultTaskName, step.TaskName())
	require.Equal(t, DefaultTaskVersion, step.TaskVersion())
	require.JSONEq(t, `{}`, string(step.RawContext()))
	require.JSONEq(t, `{}`, string(step.RawConfig()))
	require.Empty(t, step.DependencyNames())
	require.NotEqual(t, uuid.Nil, step.TaskUUID())
	require.NotEqual(t, uuid.Nil, step.StepUUID())
	require.NotEqual(t, uuid.Nil, step.CorrelationID())

	// Ids are stable per name, and differ between names.
	again := NewStep("charge_card").Build()
	require.Equal(t, step.TaskUUID(), again.TaskUUID())
	require.Equal(t, step.StepUUID(), again.StepUUID())
	require.NotEqual(t, step.StepUUID(), NewStep("refund").Build().StepUUID())
}

func TestBuilderSetsEverything(t *testing.T) {
	task := uuid.MustParse("0190a6f0-1111-7000-8000-000000000001")
	stepID := uuid.MustParse("0190a6f0-2222-7000-8000-000000000002")
	step := NewStep("ship").
		WithTask("shop", "fulfil", "2.0.0").
		WithTaskUUID(task).
		WithStepUUID(stepID).
		WithContext(map[string]any{"order_id": 7, "rush": true}).
		WithConfig(json.RawMessage(`{"carrier":"UPS","zones":[1,2]}`)).
		WithDependency("pack", map[string]any{"boxes": 2, "label": map[string]any{"id": "L-1"}}).
		WithDependency("weigh", 12.5).
		WithAttempt(3, 3).
		WithMethod("express").
		WithCheckpoint(map[string]any{"cursor": 10, "items_processed": 10}).
		Build()

	require.Equal(t, task, step.TaskUUID())
	require.Equal(t, stepID, step.StepUUID())
	require.Equal(t, "shop", step.Namespace())
	require.Equal(t, "express", step.Method())
	require.True(t, step.IsRetry())
	require.True(t, step.IsLastAttempt())
	cp, ok := step.Checkpoint()
	require.True(t, ok)
	require.JSONEq(t, `10`, string(cp.Cursor))
	require.JSONEq(t, `{"order_id": 7, "rush": true}`, string(step.RawContext()))
	require.JSONEq(t, `{"carrier":"UPS","zones":[1,2]}`, string(step.RawConfig()))

	// A typed handler reads them decoded.
	typed, err := worker.NewStep[struct {
		OrderID int  `json:"order_id"`
		Rush    bool `json:"rush"`
	}](step)
	require.NoError(t, err)
	require.Equal(t, 7, typed.Input.OrderID)
	require.True(t, typed.Input.Rush)
	cfg, err := worker.Config[struct {
		Carrier string `json:"carrier"`
		Zones   []int  `json:"zones"`
	}](typed)
	require.NoError(t, err)
	require.Equal(t, "UPS", cfg.Carrier)
	require.Equal(t, []int{1, 2}, cfg.Zones)

	// Dependencies read back exactly as the ancestor handler's output.
	require.ElementsMatch(t, []string{"pack", "weigh"}, step.DependencyNames())
	raw, ok := step.DependencyResult("pack")
	require.True(t, ok)
	require.JSONEq(t, `{"boxes":2,"label":{"id":"L-1"}}`, string(raw))
	w, err := worker.Dependency[float64](typed, "weigh")
	require.NoError(t, err)
	require.Equal(t, 12.5, w)
}

func TestDependenciesAreStoredExecutionResults(t *testing.T) {
	c, err := NewStep("b").WithDependency("a", map[string]any{"n": 1}).Data()
	require.NoError(t, err)
	stored := stepresult.Parse(c.Dependencies["a"])
	require.True(t, stored.Success)
	require.Equal(t, stepresult.StatusCompleted, stored.Status)
	require.JSONEq(t, `{"n":1}`, string(stored.Result))

	// A nil value is stored as the empty object, as a worker stores it.
	c, err = NewStep("b").WithDependency("a", nil).Data()
	require.NoError(t, err)
	require.JSONEq(t, `{}`, string(stepresult.Parse(c.Dependencies["a"]).Result))

	// Raw stored shapes pass through.
	step := NewStep("b").WithStoredDependency("a", json.RawMessage(`{"success":true,"result":[1,2]}`)).Build()
	raw, ok := step.DependencyResult("a")
	require.True(t, ok)
	require.JSONEq(t, `[1,2]`, string(raw))
}

func TestDataIsACopy(t *testing.T) {
	b := NewStep("s").WithDependency("a", 1)
	c1, err := b.Data()
	require.NoError(t, err)
	b.WithDependency("z", 2)
	require.Len(t, c1.Dependencies, 1)
	c2, err := b.Data()
	require.NoError(t, err)
	require.Len(t, c2.Dependencies, 2)
}

func TestUnencodableValuesAreReported(t *testing.T) {
	b := NewStep("s").WithContext(map[string]any{"f": func() {}}).WithConfig(make(chan int))
	_, err := b.Data()
	require.ErrorContains(t, err, "encoding task context")
	require.PanicsWithValue(t, "workertest: "+err.Error(), func() { b.Build() })

	_, err = NewStep("s").WithConfig(json.RawMessage(`{nope`)).Data()
	require.ErrorContains(t, err, "step config")
	_, err = NewStep("s").WithDependency("a", []byte(`{`)).Data()
	require.ErrorContains(t, err, `result of step "a"`)
}
