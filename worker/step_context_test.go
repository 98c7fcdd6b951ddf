package worker

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/template"
)

// TestNewStepContext: every StepData field comes back through its
// accessor, and the JSON form carries them.
func TestNewStepContext(t *testing.T) {
	task, step, corr := uuid.New(), uuid.New(), uuid.New()
	sc := NewStepContext(StepData{
		TaskUUID: task, StepUUID: step, CorrelationID: corr,
		Namespace: "shop", TaskName: "fulfil", TaskVersion: "2.0.0",
		StepName: "ship", TemplateStepName: "ship", StepType: "standard",
		Callable: "shop.ship", Method: "express",
		Context:      json.RawMessage(`{"order": 7}`),
		Config:       json.RawMessage(`{"carrier": "UPS"}`),
		Dependencies: map[string]json.RawMessage{"pack": json.RawMessage(`{"success": true, "result": {"boxes": 2}}`)},
		Attempt:      3, MaxAttempts: 3, Retryable: true, TimeoutSeconds: 9,
		Checkpoint: json.RawMessage(`{"cursor": 10, "items_processed": 10, "accumulated_results": null, "history": []}`),
	})
	require.Equal(t, task, sc.TaskUUID())
	require.Equal(t, step, sc.StepUUID())
	require.Equal(t, corr, sc.CorrelationID())
	require.Equal(t, "ship", sc.StepName())
	require.Equal(t, "shop", sc.Namespace())
	require.Equal(t, "fulfil", sc.TaskName())
	require.Equal(t, "2.0.0", sc.TaskVersion())
	require.Equal(t, "shop.ship", sc.Callable())
	require.Equal(t, "express", sc.Method())
	require.Equal(t, 3, sc.Attempt())
	require.Equal(t, 3, sc.MaxAttempts())
	require.True(t, sc.IsRetry())
	require.True(t, sc.IsLastAttempt())
	require.JSONEq(t, `{"order": 7}`, string(sc.RawContext()))
	require.JSONEq(t, `{"carrier": "UPS"}`, string(sc.RawConfig()))
	require.Equal(t, []string{"pack"}, sc.DependencyNames())
	raw, ok := sc.DependencyResult("pack")
	require.True(t, ok)
	require.JSONEq(t, `{"boxes": 2}`, string(raw))
	_, ok = sc.DependencyResult("weigh")
	require.False(t, ok)
	cp, ok := sc.Checkpoint()
	require.True(t, ok)
	require.Equal(t, Checkpoint{Cursor: json.RawMessage(`10`), ItemsProcessed: 10}, cp)
	require.Contains(t, string(sc.RawCheckpoint()), `"history"`)

	b, err := json.Marshal(sc)
	require.NoError(t, err)
	var doc struct {
		Step struct {
			Attempt        int    `json:"attempt"`
			TimeoutSeconds int    `json:"timeout_seconds"`
			Name           string `json:"name"`
		} `json:"workflow_step"`
		Handler    map[string]string `json:"handler"`
		StepConfig map[string]string `json:"step_config"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	require.Equal(t, 3, doc.Step.Attempt)
	require.Equal(t, 9, doc.Step.TimeoutSeconds)
	require.Equal(t, map[string]string{"callable": "shop.ship", "method": "express"}, doc.Handler)
	require.Equal(t, map[string]string{"carrier": "UPS"}, doc.StepConfig)

	first := NewStepContext(StepData{Attempt: 1, MaxAttempts: 3})
	require.False(t, first.IsRetry())
	require.False(t, first.IsLastAttempt())
	_, ok = first.Checkpoint()
	require.False(t, ok)
}

// TestNonObjectContextFailsTheStep: on a worker, a step whose task context
// does not decode into its handler's input fails permanently as a
// ValidationError naming the problem, without the handler running; a
// handler whose input is struct{} reads nothing and succeeds.
func TestNonObjectContextFailsTheStep(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: shapes
namespace_name: shapes_ns
version: "1"
steps:
  - {name: reads, handler: {callable: s.reads}}
  - {name: ignores, handler: {callable: s.ignores}}
`)
	reg := NewRegistry()
	handle(t, reg, "s.reads", func(_ context.Context, s *Step[struct{ N int }]) (int, error) {
		t.Error("the handler runs although its input did not decode")
		return s.Input.N, nil
	})
	handle(t, reg, "s.ignores", func(context.Context, *Step[struct{}]) (map[string]bool, error) {
		return map[string]bool{"ok": true}, nil
	})
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg, config: func(*config.Worker) {}})
	tk := h.createTask(tpl, `[1, 2, 3]`)
	h.waitFor("both steps to have a result", func() bool { return c.Stats().Recorded == 2 })

	sr := h.step(tk, "reads")
	require.Equal(t, state.StepEnqueuedAsErrorForOrchestration, sr.State)
	res := stepresult.Parse(sr.Results)
	require.False(t, res.Success)
	require.Equal(t, stepresult.ErrorTypeValidation, res.Error.ErrorType)
	require.False(t, res.Retryable())
	require.Equal(t, "the task context is a JSON array, want an object", res.Error.Message)

	require.Equal(t, state.StepEnqueuedForOrchestration, h.step(tk, "ignores").State)
}
