package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

const chainYAML = `name: chain
namespace_name: chain_ns
version: "1.0.0"
steps:
  - {name: a, handler: {callable: chain.a, initialization: {factor: 2}}}
  - {name: b, dependencies: [a], handler: {callable: chain.b}}
  - {name: c, dependencies: [b], handler: {callable: chain.c}}
  - {name: d, dependencies: [c], handler: {callable: chain.d}}
`

// TestLinearChainRunsToCompletion runs a 4-step chain through a worker and a
// stand-in orchestrator: each handler sees every completed ancestor's
// result, and the last one sees all three.
func TestLinearChainRunsToCompletion(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, chainYAML)
	reg := NewRegistry()
	var seen sync.Map // step name -> sorted dependency names
	type value struct{ Value int }
	dep := func(s *Step[struct{}], name string) int {
		v, err := Dependency[value](s, name)
		require.NoError(t, err)
		return v.Value
	}
	record := func(s *StepContext) {
		names := s.DependencyNames()
		sort.Strings(names)
		seen.Store(s.StepName(), names)
	}
	type start struct{ Start int }
	handle(t, reg, "chain.a", func(_ context.Context, s *Step[start]) (value, error) {
		record(s.StepContext)
		cfg, err := Config[struct{ Factor int }](s)
		require.NoError(t, err)
		s.SetMetadata("note", "first")
		return value{s.Input.Start * cfg.Factor}, nil
	})
	handle(t, reg, "chain.b", func(_ context.Context, s *Step[struct{}]) (value, error) {
		record(s.StepContext)
		return value{dep(s, "a") + 1}, nil
	})
	handle(t, reg, "chain.c", func(_ context.Context, s *Step[struct{}]) (value, error) {
		record(s.StepContext)
		return value{dep(s, "b") * 10}, nil
	})
	handle(t, reg, "chain.d", func(_ context.Context, s *Step[struct{}]) (value, error) {
		record(s.StepContext)
		return value{dep(s, "c") + dep(s, "a")}, nil
	})
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg})
	h.orchestrate()
	tk := h.createTask(tpl, `{"start": 3}`)
	h.waitFor("the task to complete", func() bool { return h.taskState(tk.id) == state.TaskComplete })

	for name, want := range map[string][]string{"a": {}, "b": {"a"}, "c": {"a", "b"}, "d": {"a", "b", "c"}} {
		got, ok := seen.Load(name)
		require.True(t, ok, name)
		require.ElementsMatch(t, want, got, "dependencies visible to %s", name)
	}
	d := h.step(tk, "d")
	require.Equal(t, state.StepComplete, d.State)
	res := stepresult.Parse(d.Results)
	require.True(t, res.Success)
	require.JSONEq(t, `{"Value": 76}`, string(res.Result)) // ((3*2)+1)*10 + 6
	require.Equal(t, stepresult.StatusCompleted, res.Status)
	require.Equal(t, c.WorkerID(), res.Metadata.WorkerID)
	require.Equal(t, "test-host", res.Metadata.WorkerHostname)
	require.Equal(t, 1, res.Metadata.Attempt)
	require.NotNil(t, res.Metadata.StartedAt)
	require.NotNil(t, res.Metadata.CompletedAt)
	a := stepresult.Parse(h.step(tk, "a").Results)
	require.Equal(t, map[string]any{"note": "first"}, a.Metadata.Custom)
	require.EqualValues(t, 4, c.Stats().Recorded)
	require.Len(t, h.audit(tk, "d"), 1)
}

const failuresYAML = `name: failures
namespace_name: fail_ns
version: "1.0.0"
steps:
  - {name: declines, handler: {callable: f.declines}}
  - {name: throttled, handler: {callable: f.throttled}}
  - {name: errs, handler: {callable: f.errs}}
  - {name: bad_input, handler: {callable: f.bad_input}}
  - {name: panics, handler: {callable: f.panics}}
  - {name: hangs, handler: {callable: f.hangs}}
  - {name: hangs_1s, timeout_seconds: 1, handler: {callable: f.hangs}}
  - {name: bad_value, handler: {callable: f.bad_value}}
  - {name: exits, handler: {callable: f.exits}}
  - {name: nul, handler: {callable: f.nul}}
`

// TestFailureMapping: every way a handler can fail still produces exactly
// one stored result with the right error type, retryability and status.
func TestFailureMapping(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, failuresYAML)
	reg := NewRegistry()
	handle(t, reg, "f.declines", func(_ context.Context, s *Step[struct{}]) (any, error) {
		s.SetMetadata("gateway", "x")
		s.SetMetadata("attempt", s.Attempt())
		err := fmt.Errorf("charging: %w", errors.New("card declined"))
		return nil, &Error{Err: err, Type: "PaymentDeclined", Code: "CARD_DECLINED", Permanent: true,
			Metadata: map[string]any{"gateway": "y"}}
	})
	handle(t, reg, "f.throttled", func(context.Context, *Step[struct{}]) (any, error) {
		return nil, WithErrorCode(RetryAfter(errors.New("slow down"), 7*time.Second), "RATE_LIMITED")
	})
	handle(t, reg, "f.errs", func(context.Context, *Step[struct{}]) (any, error) {
		return map[string]int{"ignored": 1}, errors.New("connection reset")
	})
	handle(t, reg, "f.bad_input", func(_ context.Context, s *Step[struct{ N int }]) (any, error) {
		t.Error("a handler whose input does not decode is not called")
		return s.Input, nil
	})
	handle(t, reg, "f.panics", func(context.Context, *Step[struct{}]) (any, error) {
		var m map[string]int
		m["boom"] = 1 //nolint:staticcheck // the nil map write is the panic under test
		return nil, nil
	})
	handle(t, reg, "f.hangs", func(ctx context.Context, _ *Step[struct{}]) (any, error) {
		<-ctx.Done()
		return nil, Permanent(ctx.Err())
	})
	handle(t, reg, "f.bad_value", func(context.Context, *Step[struct{}]) (map[string]any, error) {
		return map[string]any{"ch": make(chan int)}, nil
	})
	handle(t, reg, "f.exits", func(context.Context, *Step[struct{}]) (any, error) {
		runtime.Goexit()
		return nil, nil
	})
	handle(t, reg, "f.nul", func(context.Context, *Step[struct{}]) (map[string]string, error) {
		return map[string]string{"text": "a\x00b"}, nil
	})
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg, config: func(w *config.Worker) {
		w.Handlers.DefaultTimeout = 300 * time.Millisecond
	}})
	tk := h.createTask(tpl, `{"N": "seven"}`)
	h.waitFor("every step to have a result", func() bool { return c.Stats().Recorded == int64(len(tpl.Steps)) })

	type want struct {
		errorType string
		retryable bool
		status    string
		message   string
	}
	cases := map[string]want{
		"declines":  {"PaymentDeclined", false, stepresult.StatusFailed, "charging: card declined"},
		"throttled": {stepresult.ErrorTypeRetryable, true, stepresult.StatusFailed, "slow down"},
		"errs":      {stepresult.ErrorTypeUnexpected, true, stepresult.StatusFailed, "connection reset"},
		"bad_input": {stepresult.ErrorTypeValidation, false, stepresult.StatusFailed, `the task context: field "N" is a JSON string, want an integer (int)`},
		"panics":    {stepresult.ErrorTypeHandlerPanic, false, stepresult.StatusError, "handler panicked: assignment to entry in nil map"},
		"hangs":     {stepresult.ErrorTypeHandlerTimeout, true, stepresult.StatusError, "timeout of 300ms"},
		"hangs_1s":  {stepresult.ErrorTypeHandlerTimeout, true, stepresult.StatusError, "timeout of 1s"},
		"bad_value": {stepresult.ErrorTypeInvalidResult, false, stepresult.StatusError, "cannot be stored"},
		"exits":     {stepresult.ErrorTypeHandlerPanic, false, stepresult.StatusError, "Goexit"},
	}
	for name, w := range cases {
		sr := h.step(tk, name)
		require.Equal(t, state.StepEnqueuedAsErrorForOrchestration, sr.State, name)
		res := stepresult.Parse(sr.Results)
		require.False(t, res.Success, name)
		require.Equal(t, w.status, res.Status, name)
		require.NotNil(t, res.Error, name)
		require.Equal(t, w.errorType, res.Error.ErrorType, name)
		require.Equal(t, w.errorType, res.Metadata.ErrorType, name)
		require.Equal(t, w.retryable, res.Retryable(), name)
		require.Contains(t, res.Error.Message, w.message, name)
		require.Equal(t, 1, res.Metadata.Attempt, name)
		require.Len(t, h.audit(tk, name), 1, "%s has exactly one result", name)
	}
	declined := stepresult.Parse(h.step(tk, "declines").Results)
	require.Equal(t, "CARD_DECLINED", declined.Metadata.ErrorCode)
	require.Equal(t, map[string]any{"gateway": "y", "attempt": float64(1)}, declined.Metadata.Custom,
		"the error's metadata wins over the step's")
	require.Nil(t, declined.OrchestrationMetadata)
	throttled := stepresult.Parse(h.step(tk, "throttled").Results)
	require.Equal(t, "RATE_LIMITED", throttled.Metadata.ErrorCode)
	d, ok := throttled.RetryAfter(time.Now())
	require.True(t, ok)
	require.Equal(t, 7*time.Second, d)
	require.JSONEq(t, `{}`, string(stepresult.Parse(h.step(tk, "errs").Results).Result),
		"a failure stores no value, whatever the handler returned beside its error")
	panicked := stepresult.Parse(h.step(tk, "panics").Results)
	require.NotEmpty(t, panicked.Error.Backtrace)
	require.True(t, strings.Contains(strings.Join(panicked.Error.Backtrace, "\n"), "core_test.go"),
		"the backtrace points at the handler: %v", panicked.Error.Backtrace)

	nul := h.step(tk, "nul")
	require.Equal(t, state.StepEnqueuedForOrchestration, nul.State)
	require.JSONEq(t, `{"text": "a\ufffdb"}`, string(stepresult.Parse(nul.Results).Result))
}

// TestBatchClaimsSeveralTasks: with several tasks waiting, one claim
// statement takes as many steps as there are free slots, and they run at
// the same time.
func TestBatchClaimsSeveralTasks(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: single
namespace_name: batch_ns
version: "1"
steps: [{name: only, handler: {callable: batch.only}}]
`)
	h.register(tpl)
	const n = 12
	for range n {
		h.createTask(tpl, `{}`)
	}
	var started atomic.Int32
	allStarted := make(chan struct{})
	reg := NewRegistry()
	handle(t, reg, "batch.only", func(ctx context.Context, _ *Step[struct{}]) (any, error) {
		if started.Add(1) == n {
			close(allStarted)
		}
		select {
		case <-allStarted:
			return map[string]bool{"ok": true}, nil
		case <-ctx.Done():
			return nil, Permanent(errors.New("not all steps ran at once"))
		}
	})
	var spy *spyStore
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg,
		config: func(w *config.Worker) { w.Handlers.MaxConcurrent = n; w.Claims.BatchSize = 50 },
		before: func(c *Core) { spy = spyOn(c, nil) }})
	h.waitFor("all results", func() bool { return c.Stats().Recorded == n })
	claims, completes := spy.calls()
	require.Equal(t, n, claims[0], "the first claim takes every waiting step")
	total := 0
	for _, k := range completes {
		total += k
	}
	require.Equal(t, n, total)
	st, err := h.queue.Stats(h.ctx, messaging.WorkerQueue("batch_ns"))
	require.NoError(t, err)
	require.Zero(t, st.Depth, "every step message was deleted with its result")
}

// TestGracefulStopReleasesUnfinishedSteps: Stop lets a handler that finishes
// within the grace period record its result, releases the step whose
// handler does not (its attempt not counted, its message visible at once),
// and returns soon after the grace. Another worker then runs it.
func TestGracefulStopReleasesUnfinishedSteps(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: stop
namespace_name: stop_ns
version: "1"
steps:
  - {name: finishing, handler: {callable: stop.finishing}}
  - {name: stuck, handler: {callable: stop.stuck}}
`)
	var running sync.WaitGroup
	running.Add(2)
	reg := NewRegistry()
	handle(t, reg, "stop.finishing", func(ctx context.Context, _ *Step[struct{}]) (any, error) {
		running.Done()
		work := time.NewTimer(200 * time.Millisecond)
		defer work.Stop()
		select {
		case <-work.C:
			return map[string]bool{"finished": true}, nil
		case <-ctx.Done():
			return nil, errors.New("cancelled")
		}
	})
	handle(t, reg, "stop.stuck", func(ctx context.Context, _ *Step[struct{}]) (any, error) {
		running.Done()
		<-ctx.Done()
		return nil, errors.New("cancelled")
	})
	const grace = 600 * time.Millisecond
	c := h.buildCore(coreSpec{templates: []*template.Template{tpl}, registry: reg,
		config: func(w *config.Worker) { w.ShutdownGrace = grace }})
	require.NoError(t, c.Start(h.ctx))
	tk := h.createTask(tpl, `{}`)
	running.Wait()

	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	defer cancel()
	began := time.Now()
	require.NoError(t, c.Stop(ctx))
	require.Less(t, time.Since(began), grace+2*time.Second, "Stop returns soon after the grace")

	st := c.Stats()
	require.EqualValues(t, 1, st.Recorded)
	require.EqualValues(t, 1, st.Released)
	require.Equal(t, state.StepEnqueuedForOrchestration, h.step(tk, "finishing").State)
	stuck := h.step(tk, "stuck")
	require.Equal(t, state.StepEnqueued, stuck.State)
	require.Zero(t, stuck.Attempts, "a released claim does not count as an attempt")
	require.Empty(t, stuck.ClaimedBy)
	qs, err := h.queue.Stats(h.ctx, messaging.WorkerQueue("stop_ns"))
	require.NoError(t, err)
	require.EqualValues(t, 1, qs.Visible, "the released step's message is visible at once")
	require.NoError(t, c.Stop(ctx), "Stop is idempotent")

	// A second worker picks the step up as a first attempt.
	reg2 := NewRegistry()
	handle(t, reg2, "stop.finishing", noop)
	handle(t, reg2, "stop.stuck", noop)
	c2 := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg2})
	h.waitFor("the released step to run elsewhere", func() bool { return c2.Stats().Recorded == 1 })
	again := h.step(tk, "stuck")
	require.Equal(t, state.StepEnqueuedForOrchestration, again.State)
	require.Equal(t, 1, again.Attempts)
}

// TestAdaptiveConcurrency: the limit starts at the floor, grows to the
// ceiling while a backlog waits and every slot is busy, and shrinks back
// when the worker idles; the workers registry follows the limit.
func TestAdaptiveConcurrency(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: single
namespace_name: adapt_ns
version: "1"
steps: [{name: only, handler: {callable: adapt.only}}]
`)
	h.register(tpl)
	const n = 20
	for range n {
		h.createTask(tpl, `{}`)
	}
	release := make(chan struct{})
	reg := NewRegistry()
	handle(t, reg, "adapt.only", func(ctx context.Context, _ *Step[struct{}]) (any, error) {
		select {
		case <-release:
			return nil, nil
		case <-ctx.Done():
			return nil, errors.New("cancelled")
		}
	})
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg, config: func(w *config.Worker) {
		w.Handlers.Adaptive = true
		w.Handlers.MinConcurrent = 1
		w.Handlers.MaxConcurrent = 6
		w.Handlers.ScaleInterval = 50 * time.Millisecond
		w.Handlers.DefaultTimeout = time.Minute
	}})
	require.Equal(t, 1, c.Stats().ConcurrencyLimit, "starts at the floor")
	registered := func() store.LiveWorker {
		live, err := h.store.LiveWorkers(h.ctx)
		require.NoError(t, err)
		for _, w := range live {
			if w.WorkerID == c.WorkerID() {
				return w
			}
		}
		t.Fatalf("worker %s is not in the registry", c.WorkerID())
		return store.LiveWorker{}
	}
	require.Equal(t, 6, registered().MaxConcurrent, "the ceiling is registered")
	h.waitFor("the limit to reach the ceiling", func() bool {
		st := c.Stats()
		return st.ConcurrencyLimit == 6 && st.Running == 6
	})
	require.Equal(t, 6.0, gaugeValue(t, c, "tasker_worker_concurrency_limit"))
	h.waitFor("the registry to record the grown limit", func() bool { return registered().ConcurrencyLimit == 6 })
	close(release)
	h.waitFor("all results", func() bool { return c.Stats().Recorded == n })
	h.waitFor("the limit to shrink back to the floor", func() bool { return c.Stats().ConcurrencyLimit == 1 })
	h.waitFor("the registry to record the floor", func() bool { return registered().ConcurrencyLimit == 1 })
	require.Equal(t, 6, registered().MaxConcurrent)
}

// TestStartErrors: bad templates and nothing to consume fail Start with a
// clear error, and a failed Start leaves nothing running.
func TestStartErrors(t *testing.T) {
	h := newHarness(t)
	c := h.buildCore(coreSpec{})
	err := c.Start(h.ctx)
	require.ErrorContains(t, err, "no namespaces to consume")
	require.NoError(t, c.Stop(h.ctx))

	bad, err := template.Parse([]byte("name: bad\nnamespace_name: ns\nversion: \"1\"\nsteps:\n  - {name: a, dependencies: [ghost], handler: {callable: x}}\n"), "bad.yaml", template.ParseOptions{})
	require.NoError(t, err)
	c = h.buildCore(coreSpec{templates: bad})
	err = c.Start(h.ctx)
	require.ErrorContains(t, err, `unknown step "ghost"`)
	require.ErrorContains(t, c.Start(h.ctx), "Start called twice")

	_, err = New(Options{Config: testConfig(), Registry: NewRegistry()})
	require.ErrorContains(t, err, "Store is required")
	cfg := testConfig()
	cfg.Claims.HeartbeatInterval = cfg.Claims.VisibilityTimeout
	_, err = New(Options{Config: cfg, Store: h.store, Registry: NewRegistry()})
	require.ErrorContains(t, err, "heartbeat_interval")
}

// TestTemplatesFromSearchPaths: templates on the search paths are
// registered; missing paths are skipped.
func TestTemplatesFromSearchPaths(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	require.NoError(t, writeFile(dir+"/one.yaml", `name: from_disk
namespace_name: disk_ns
version: "2.0.0"
description: loaded from a search path
steps:
  - {name: s1, handler: {callable: disk.s1}}
  - {name: s2, dependencies: [s1], handler: {callable: disk.s2}}
`))
	c := h.buildCore(coreSpec{})
	c.opts.Templates.SearchPaths = []string{dir, dir + "/does-not-exist"}
	require.NoError(t, c.Start(h.ctx))
	t.Cleanup(func() { require.NoError(t, c.Stop(context.Background())) })
	require.Equal(t, []string{"disk_ns"}, c.Namespaces())
	nt, err := h.store.GetNamedTask(h.ctx, "disk_ns", "from_disk", "2.0.0")
	require.NoError(t, err)
	require.Equal(t, 2, nt.StepCount)
	require.Equal(t, "loaded from a search path", nt.Description)
	var stored template.Template
	require.NoError(t, json.Unmarshal(nt.Configuration, &stored))
	require.Equal(t, "disk.s2", stored.Steps[1].Handler.Callable)
}

func gaugeValue(t *testing.T, c *Core, name string) float64 {
	t.Helper()
	mfs, err := c.opts.Gatherer.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}
