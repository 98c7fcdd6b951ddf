package ruby_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/worker"
)

// TestRubyAndGoShareANamespace: a Ruby worker and a Go worker serve one
// namespace; each step lands only on the worker that has its handler. The
// Go step waits (reported as unserved by /health/detailed, not failed with
// handler_not_found by the Ruby worker) until the Go worker starts, and the
// tasks complete.
func TestRubyAndGoShareANamespace(t *testing.T) {
	rs := startRubySystem(t, []string{e2eTemplate("polyglot.yaml")})
	rs.startWorker(t, "ruby-polyglot", nil)
	ids := []uuid.UUID{rs.create(t, "polyglot.yaml", `{}`), rs.create(t, "polyglot.yaml", `{}`)}
	ctx := rs.sys.Ctx

	// The Ruby steps run; the Go step has no live worker and waits.
	require.Eventually(t, func() bool {
		h, err := rs.client.DetailedHealth(ctx)
		if err != nil || len(h.UnservedSteps) != 1 {
			return false
		}
		u := h.UnservedSteps[0]
		return u.Namespace == "polyglot_ruby" && u.Callable == "polyglot.go_middle" && u.Steps == 2
	}, time.Minute, 50*time.Millisecond, "the Go steps are reported as unserved")
	for _, id := range ids {
		steps, err := rs.client.Steps(ctx, id)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"ruby_first": "complete (attempts 1) ", "go_middle": "enqueued (attempts 0) ",
			"ruby_last": "pending (attempts 0) "}, stepStates(steps), "the Go step waits, untouched by the Ruby worker")
	}

	tpl := rs.byFile["polyglot.yaml"]
	gw := rs.sys.StartWorker("go-polyglot", systest.Options{Registry: func() *worker.Registry {
		reg := worker.NewRegistry()
		require.NoError(t, worker.Register(reg, "polyglot.go_middle", worker.Func(func(context.Context, *worker.Step[struct{}]) (map[string]string, error) {
			return map[string]string{"ran": "go"}, nil
		})))
		return reg
	}}, []*template.Template{tpl})
	for _, id := range ids {
		task := rs.wait(t, id)
		require.Equal(t, "complete", task.Status)
		byName := map[string]string{}
		for _, s := range task.Steps {
			require.Equal(t, 1, s.Attempts, s.Name)
			byName[s.Name] = stepresult.Parse(s.Results).Metadata.WorkerID
		}
		require.Equal(t, map[string]string{"ruby_first": "ruby-polyglot", "go_middle": gw.WorkerID(), "ruby_last": "ruby-polyglot"}, byName)
	}
	h, err := rs.client.DetailedHealth(ctx)
	require.NoError(t, err)
	require.Empty(t, h.UnservedSteps)
}
