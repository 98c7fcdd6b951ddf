package python_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/template"
	goworker "github.com/tasker-go/tasker/worker"
)

// TestPythonAndGoShareANamespace: a Python worker and a Go worker serve one
// namespace; each step lands only on the worker that has its handler. The
// Go step waits (reported as unserved by /health/detailed, not failed with
// handler_not_found by the Python worker) until the Go worker starts, and
// the tasks complete.
func TestPythonAndGoShareANamespace(t *testing.T) {
	e := newEnv(t)
	pw := e.worker(t, "--worker-id", "python-polyglot")
	ctx := e.sys.Ctx
	var ids []uuid.UUID
	for range 2 {
		id, err := e.create(t, "polyglot_python", "python_polyglot", `{}`)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	require.Eventually(t, func() bool {
		h, err := e.c.DetailedHealth(ctx)
		if err != nil || len(h.UnservedSteps) != 1 {
			return false
		}
		u := h.UnservedSteps[0]
		return u.Namespace == "polyglot_python" && u.Callable == "polyglot.go_middle" && u.Steps == 2
	}, time.Minute, 50*time.Millisecond, "the Go steps are reported as unserved")
	for _, id := range ids {
		steps, err := e.c.Steps(ctx, id)
		require.NoError(t, err)
		states := map[string]string{}
		for _, s := range steps {
			states[s.Name] = s.CurrentState
		}
		require.Equal(t, map[string]string{"python_first": "complete", "go_middle": "enqueued", "python_last": "pending"}, states,
			"the Go step waits, untouched by the Python worker")
	}

	var tpl *template.Template
	found, err := template.LoadPaths(e.templates[1:], template.ParseOptions{Environment: "test"})
	require.NoError(t, err)
	for _, f := range found {
		if f.Name == "python_polyglot" {
			tpl = f
		}
	}
	require.NotNil(t, tpl)
	gw := e.sys.StartWorker("go-polyglot", systest.Options{Registry: func() *goworker.Registry {
		reg := goworker.NewRegistry()
		require.NoError(t, goworker.Register(reg, "polyglot.go_middle", goworker.Func(func(context.Context, *goworker.Step[struct{}]) (map[string]string, error) {
			return map[string]string{"ran": "go"}, nil
		})))
		return reg
	}}, []*template.Template{tpl})
	for _, id := range ids {
		final, steps := e.wait(t, id, time.Minute)
		require.Equal(t, "complete", final.Status)
		by := map[string]string{}
		for name, s := range steps {
			require.Equal(t, 1, s.Attempts, name)
			by[name] = stepresult.Parse(s.Results).Metadata.WorkerID
		}
		require.Equal(t, map[string]string{"python_first": pw.id, "go_middle": gw.WorkerID(), "python_last": pw.id}, by)
	}
	h, err := e.c.DetailedHealth(ctx)
	require.NoError(t, err)
	require.Empty(t, h.UnservedSteps)
}
