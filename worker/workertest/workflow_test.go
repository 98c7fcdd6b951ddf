package workertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/worker"
)

// A small template: a -> b -> c, plus a -> d.
const chainYAML = `
name: chain
namespace_name: workertest_examples
version: 1.0.0
input_schema:
  type: object
  required: [start]
  properties:
    start: {type: integer}
steps:
  - name: a
    handler: {callable: add, initialization: {add: 1}}
  - name: b
    dependencies: [a]
    handler: {callable: add, initialization: {add: 10}}
  - name: c
    dependencies: [b]
    handler: {callable: sum_ancestors}
  - name: d
    dependencies: [a]
    handler: {callable: flaky, initialization: {fail_until: 3}}
    retry: {max_attempts: 4, backoff_base_ms: 1, max_backoff_ms: 1}
`

func parse(t *testing.T, doc string) *template.Template {
	t.Helper()
	ts, err := template.Parse([]byte(doc), "test.yaml", template.ParseOptions{})
	require.NoError(t, err)
	require.Len(t, ts, 1)
	require.NoError(t, ts[0].Validate())
	return ts[0]
}

// chainRegistry serves chainYAML; calls counts handler runs per step.
func chainRegistry(t *testing.T, calls map[string]int, mu *sync.Mutex) *worker.Registry {
	t.Helper()
	count := func(s *worker.StepContext) {
		mu.Lock()
		calls[s.StepName()]++
		mu.Unlock()
	}
	type input struct {
		Start int `json:"start"`
	}
	r := worker.NewRegistry()
	require.NoError(t, worker.Register(r, "add", worker.Func(func(_ context.Context, s *worker.Step[input]) (int, error) {
		count(s.StepContext)
		cfg, err := worker.Config[struct {
			Add int `json:"add"`
		}](s)
		if err != nil {
			return 0, err
		}
		if s.StepName() == "a" {
			return s.Input.Start + cfg.Add, nil
		}
		base, err := worker.Dependency[int](s, "a")
		return base + cfg.Add, err
	})))
	require.NoError(t, worker.Register(r, "sum_ancestors", worker.Func(func(_ context.Context, s *worker.Step[struct{}]) (map[string]int, error) {
		count(s.StepContext)
		total := 0
		for _, n := range s.DependencyNames() {
			v, err := worker.Dependency[int](s, n)
			if err != nil {
				return nil, err
			}
			total += v
		}
		return map[string]int{"total": total, "ancestors": len(s.DependencyNames())}, nil
	})))
	require.NoError(t, worker.Register(r, "flaky", worker.Func(func(_ context.Context, s *worker.Step[struct{}]) (int, error) {
		count(s.StepContext)
		cfg, err := worker.Config[struct {
			FailUntil int `json:"fail_until"`
		}](s)
		if err != nil {
			return 0, err
		}
		if s.Attempt() < cfg.FailUntil {
			return 0, fmt.Errorf("attempt %d", s.Attempt())
		}
		return s.Attempt(), nil
	})))
	return r
}

func TestRunTemplateRunsInDependencyOrderWithAncestors(t *testing.T) {
	calls, mu := map[string]int{}, &sync.Mutex{}
	run, err := RunTemplate(context.Background(), parse(t, chainYAML), chainRegistry(t, calls, mu), map[string]any{"start": 5})
	require.NoError(t, err)
	require.True(t, run.Complete())
	require.Empty(t, run.Failed())
	require.Equal(t, []string{"a", "b", "c", "d"}, run.Order)

	var a, b int
	require.NoError(t, DecodeValue(run.Step("a").Result, &a))
	require.NoError(t, DecodeValue(run.Step("b").Result, &b))
	require.Equal(t, 6, a)
	require.Equal(t, 16, b)
	// c sees all its completed ancestors (a and b), not only its parent.
	var c struct{ Total, Ancestors int }
	require.NoError(t, DecodeValue(run.Step("c").Result, &c))
	require.Equal(t, 22, c.Total)
	require.Equal(t, 2, c.Ancestors)
	// d failed retryably twice and succeeded on attempt 3.
	require.Equal(t, 3, run.Step("d").Attempts)
	require.Equal(t, map[string]int{"a": 1, "b": 1, "c": 1, "d": 3}, calls)
}

func TestRunTemplateStopsAtFailuresAndHonoursRetryPolicy(t *testing.T) {
	calls, mu := map[string]int{}, &sync.Mutex{}
	tmpl := parse(t, chainYAML)
	tmpl.Steps[3].Handler.Initialization["fail_until"] = 100 // d never succeeds
	tmpl.Steps[1].Handler.Initialization["add"] = "ten"      // b fails permanently
	run, err := RunTemplate(context.Background(), tmpl, chainRegistry(t, calls, mu), map[string]any{"start": 1})
	require.NoError(t, err)
	require.False(t, run.Complete())
	require.Equal(t, []string{"b", "d"}, run.Failed())
	require.Equal(t, 1, run.Step("b").Attempts, "a non-retryable failure is not retried")
	require.Equal(t, 4, run.Step("d").Attempts, "a retryable failure uses max_attempts")
	require.False(t, run.Step("c").Ran(), "a step behind a failure never runs")
	require.Zero(t, calls["c"])

	// retry.retryable false, or max_attempts 0, allow exactly one attempt.
	tmpl = parse(t, chainYAML)
	tmpl.Steps[3].Retry.Retryable = false
	run, err = RunTemplate(context.Background(), tmpl, chainRegistry(t, map[string]int{}, mu), map[string]any{"start": 1})
	require.NoError(t, err)
	require.Equal(t, 1, run.Step("d").Attempts)
	tmpl = parse(t, chainYAML)
	tmpl.Steps[3].Retry.MaxAttempts = 0
	run, err = RunTemplate(context.Background(), tmpl, chainRegistry(t, map[string]int{}, mu), map[string]any{"start": 1})
	require.NoError(t, err)
	require.Equal(t, 1, run.Step("d").Attempts)
}

func TestRunTemplateSetupErrors(t *testing.T) {
	mu := &sync.Mutex{}
	r := chainRegistry(t, map[string]int{}, mu)
	tmpl := parse(t, chainYAML)

	_, err := RunTemplate(context.Background(), tmpl, r, map[string]any{"start": "five"})
	require.ErrorContains(t, err, "does not match the input_schema")
	require.ErrorContains(t, err, "/start")

	_, err = RunTemplate(context.Background(), tmpl, worker.NewRegistry(), map[string]any{"start": 1})
	require.ErrorContains(t, err, `no handler registered for callable "add"`)

	_, err = RunTemplate(context.Background(), tmpl, r, json.RawMessage(`{bad`))
	require.ErrorContains(t, err, "encoding task context")

	decision := parse(t, `
name: decide
namespace_name: workertest_examples
version: 1.0.0
steps:
  - name: a
    handler: {callable: add}
  - name: route
    type: decision
    dependencies: [a]
    handler: {callable: add}
`)
	_, err = RunTemplate(context.Background(), decision, r, map[string]any{})
	require.ErrorContains(t, err, "type decision")
}

func TestRunTemplateBoundsAttemptsByTimeout(t *testing.T) {
	r := worker.NewRegistry()
	require.NoError(t, worker.Register(r, "deadline", worker.Func(func(ctx context.Context, _ *worker.Step[struct{}]) (bool, error) {
		d, ok := ctx.Deadline()
		if !ok {
			return false, worker.Permanent(errors.New("no deadline"))
		}
		return time.Until(d) > 0 && time.Until(d) <= 2*time.Second, nil
	})))
	tmpl := parse(t, `
name: timed
namespace_name: workertest_examples
version: 1.0.0
steps:
  - name: s
    timeout_seconds: 2
    handler: {callable: deadline}
`)
	run, err := RunTemplate(context.Background(), tmpl, r, nil)
	require.NoError(t, err)
	var within bool
	require.NoError(t, DecodeValue(run.Step("s").Result, &within))
	require.True(t, within)
}
