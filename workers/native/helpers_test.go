package native

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/workertest"
)

// registry returns a registry holding every native handler.
func registry(t *testing.T) *worker.Registry {
	t.Helper()
	r := worker.NewRegistry()
	require.NoError(t, Register(r))
	return r
}

// handler returns the executor of a callable's native handler.
func handler(t *testing.T, callable string) worker.Executor {
	t.Helper()
	h, ok := registry(t).Lookup(callable)
	require.True(t, ok, "no handler for %q", callable)
	return h
}

// stepDef is one step of an in-test workflow.
type stepDef struct {
	name     string
	callable string
	method   string
	deps     []string
	init     map[string]any
}

// workflow builds a template in code, for running handler chains without
// the fixture files.
func workflow(name string, steps ...stepDef) *template.Template {
	t := &template.Template{Name: name, NamespaceName: "native_test", Version: "1.0.0"}
	for _, s := range steps {
		method := s.method
		if method == "" {
			method = "call"
		}
		init := s.init
		if init == nil {
			init = map[string]any{}
		}
		t.Steps = append(t.Steps, template.Step{
			Name:         s.name,
			Type:         template.StepStandard,
			Dependencies: s.deps,
			Handler:      template.Handler{Callable: s.callable, Method: method, Initialization: init},
			Retry:        template.Retry{Retryable: true, MaxAttempts: 3, Backoff: template.BackoffExponential, BackoffBaseMs: 1, MaxBackoffMs: 1},
		})
	}
	return t
}

// runWorkflow runs t with the native handlers.
func runWorkflow(t *testing.T, tmpl *template.Template, taskContext any) *workertest.WorkflowRun {
	t.Helper()
	run, err := workertest.RunTemplate(context.Background(), tmpl, registry(t), taskContext)
	require.NoError(t, err)
	return run
}

// valueOf decodes a successful step's result into a generic map, keeping
// numbers exact.
func valueOf(t *testing.T, r worker.Result) map[string]any {
	t.Helper()
	raw, err := workertest.Value(r)
	require.NoError(t, err, "step failed: %s: %s", r.ErrorType(), r.Message())
	v, err := decodeNumbers(raw)
	require.NoError(t, err)
	m, ok := v.(map[string]any)
	require.True(t, ok, "result is not an object: %s", raw)
	return m
}

// decodeStep decodes a successful step run's result into v.
func decodeStep(t *testing.T, run *workertest.WorkflowRun, step string, v any) {
	t.Helper()
	sr := run.Step(step)
	require.NotNil(t, sr, "no step %q", step)
	require.True(t, sr.Succeeded(), "step %s: %s: %s", step, sr.Result.ErrorType(), sr.Result.Message())
	require.NoError(t, workertest.DecodeValue(sr.Result, v))
}

// requireFailure checks a failure's type and retryability.
func requireFailure(t *testing.T, r worker.Result, errorType string, retryable bool) {
	t.Helper()
	require.False(t, r.IsSuccess(), "want a failure, got success %v", r.Value())
	require.Equal(t, errorType, r.ErrorType(), "message: %s", r.Message())
	require.Equal(t, retryable, r.Retryable(), "message: %s", r.Message())
}

func num(s string) json.Number { return json.Number(s) }
