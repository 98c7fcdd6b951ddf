package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

func claimedWith(taskContext, stepConfig string) *store.ClaimedStep {
	c := &store.ClaimedStep{}
	c.Task.Context = json.RawMessage(taskContext)
	c.Step.Inputs = json.RawMessage(stepConfig)
	return c
}

// TestStepContextConcurrentReads: a handler that fans out reads its inputs
// from many goroutines at once. Run with -race: the first lookups decode
// the documents while others read them.
func TestStepContextConcurrentReads(t *testing.T) {
	const keys = 50
	in, cfg := map[string]int{}, map[string]int{}
	for i := range keys {
		in[fmt.Sprint("k", i)] = i
		cfg[fmt.Sprint("c", i)] = -i
	}
	inJSON, err := json.Marshal(in)
	require.NoError(t, err)
	cfgJSON, err := json.Marshal(cfg)
	require.NoError(t, err)

	for range 20 { // fresh contexts: each round races on the first decode
		sc := NewStepContext(claimedWith(string(inJSON), string(cfgJSON)))
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for g := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range keys {
					k := (i + g) % keys
					v, ok := sc.Input(fmt.Sprint("k", k))
					if !ok || v != float64(k) {
						errs <- fmt.Errorf("Input(k%d) = %v, %v", k, v, ok)
						return
					}
					if v := sc.InputOr("absent", "dflt"); v != "dflt" {
						errs <- fmt.Errorf("InputOr = %v", v)
						return
					}
					c, ok := sc.Config(fmt.Sprint("c", k))
					if !ok || c != float64(-k) {
						errs <- fmt.Errorf("Config(c%d) = %v, %v", k, c, ok)
						return
					}
				}
				if err := sc.Err(); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	}
}

func TestStepContextDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		ctx, cfg string
		err      string
	}{
		{`{"a": 1}`, `{"b": 2}`, ""},
		{``, `null`, ""}, // absent documents read as {}
		{`[1, 2]`, `{}`, "task context is a JSON array, not an object"},
		{`"text"`, `{}`, "task context is a JSON string, not an object"},
		{`12`, `{}`, "task context is a JSON number, not an object"},
		{`true`, `{}`, "task context is a JSON boolean, not an object"},
		{`{"a":`, `{}`, "task context is not valid JSON: unexpected end of JSON input"},
		{`{}`, `[{"b": 2}]`, "step config is a JSON array, not an object"},
		{`[]`, `7`, "task context is a JSON array, not an object\nstep config is a JSON number, not an object"},
	} {
		sc := NewStepContext(claimedWith(tc.ctx, tc.cfg))
		require.NoError(t, sc.Err(), "nothing was looked up yet")
		_, inOK := sc.Input("a")
		_, cfgOK := sc.Config("b")
		if tc.err == "" {
			require.NoError(t, sc.Err())
			require.Equal(t, tc.ctx != "", inOK, tc.ctx)
			require.Equal(t, tc.cfg != "null", cfgOK, tc.cfg)
			continue
		}
		require.False(t, inOK)
		require.False(t, cfgOK)
		require.EqualError(t, sc.Err(), tc.err, "%s / %s", tc.ctx, tc.cfg)
	}
	// Only the documents a lookup read count.
	sc := NewStepContext(claimedWith(`[1]`, `{"b": 2}`))
	v, ok := sc.Config("b")
	require.True(t, ok)
	require.Equal(t, float64(2), v)
	require.NoError(t, sc.Err())
}

// TestNonObjectContextFailsTheStep: a step whose task context is not a
// JSON object, run by a handler that reads an input, fails permanently as a
// ValidationError naming the problem, even though the handler returned
// success; a handler that does not look does not fail.
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
	reg.MustRegister("s.reads", HandlerFunc(func(_ context.Context, step *StepContext) Result {
		n := step.InputOr("n", 1.0)
		return Success(map[string]any{"n": n}, nil)
	}))
	reg.MustRegister("s.ignores", HandlerFunc(func(context.Context, *StepContext) Result {
		return Success(map[string]any{"ok": true}, nil)
	}))
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg, config: func(*config.Worker) {}})
	tk := h.createTask(tpl, `[1, 2, 3]`)
	h.waitFor("both steps to have a result", func() bool { return c.Stats().Recorded == 2 })

	sr := h.step(tk, "reads")
	require.Equal(t, state.StepEnqueuedAsErrorForOrchestration, sr.State)
	res := stepresult.Parse(sr.Results)
	require.False(t, res.Success)
	require.Equal(t, stepresult.ErrorTypeValidation, res.Error.ErrorType)
	require.False(t, res.Retryable())
	require.Equal(t, "task context is a JSON array, not an object", res.Error.Message)

	require.Equal(t, state.StepEnqueuedForOrchestration, h.step(tk, "ignores").State)
}

// BenchmarkStepContextInput is the cost of a handler's first and later
// lookups on a fresh step context (one of each per iteration), alone and
// with every CPU reading.
func BenchmarkStepContextInput(b *testing.B) {
	c := claimedWith(`{"even_number": 6, "customer": {"id": 1, "name": "x"}, "items": [1, 2, 3]}`, `{"operation": "square", "step_number": 1}`)
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			sc := NewStepContext(c)
			_, _ = sc.Input("even_number")
			_, _ = sc.Config("operation")
			_, _ = sc.Input("items")
		}
	})
	b.Run("parallel", func(b *testing.B) {
		sc := NewStepContext(c)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = sc.Input("even_number")
				_, _ = sc.Config("operation")
			}
		})
	})
}
