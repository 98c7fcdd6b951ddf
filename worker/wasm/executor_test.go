package wasm_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/wasm"
	"github.com/tasker-go/tasker/worker/workertest"
	"github.com/tasker-go/tasker/workers/native"
)

// newExecutor serves the named test modules from a private module path.
func newExecutor(t *testing.T, cfg wasm.Config, modules ...string) *wasm.Executor {
	t.Helper()
	if cfg.ModulePaths == nil {
		dir := t.TempDir()
		for _, m := range modules {
			linkModule(t, guestModule(t, m), filepath.Join(dir, m+".wasm"))
		}
		cfg.ModulePaths = []string{dir}
	}
	if cfg.CompilationCacheDir == "" {
		cfg.CompilationCacheDir = cacheDir()
	}
	x, err := wasm.New(context.Background(), cfg, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, x.Close(context.Background())) })
	return x
}

func linkModule(t *testing.T, src, dst string) { linkModuleB(t, src, dst) }

func linkModuleB(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	// Written to a temporary name and renamed, as a deployment replaces a
	// module atomically.
	tmp := dst + ".tmp"
	require.NoError(t, os.WriteFile(tmp, b, 0o644))
	require.NoError(t, os.Rename(tmp, dst))
}

// arithSteps are the linear and diamond steps in order, with the
// dependencies each reads and the native handler computing the same.
var arithSteps = []struct {
	step, fn, native string
	config           string
	deps             []string
}{
	{"linear_step_1", "linear_step_1", "tasker_example_rs::step_handlers::linear_workflow::LinearStep1Handler", `{"operation":"square","step_number":1}`, nil},
	{"linear_step_2", "linear_step_2", "tasker_example_rs::step_handlers::linear_workflow::LinearStep2Handler", `{"operation":"square","step_number":2}`, []string{"linear_step_1"}},
	{"linear_step_3", "linear_step_3", "tasker_example_rs::step_handlers::linear_workflow::LinearStep3Handler", `{"operation":"square","step_number":3}`, []string{"linear_step_1", "linear_step_2"}},
	{"linear_step_4", "linear_step_4", "tasker_example_rs::step_handlers::linear_workflow::LinearStep4Handler", `{"operation":"square","step_number":4}`, []string{"linear_step_1", "linear_step_2", "linear_step_3"}},
	{"diamond_start", "diamond_start", "tasker_example_rs::step_handlers::diamond_workflow::DiamondStartHandler", `{"operation":"square"}`, nil},
	{"diamond_branch_b", "diamond_branch_b", "tasker_example_rs::step_handlers::diamond_workflow::DiamondBranchBHandler", `{"operation":"square","branch":"left"}`, []string{"diamond_start"}},
	{"diamond_branch_c", "diamond_branch_c", "tasker_example_rs::step_handlers::diamond_workflow::DiamondBranchCHandler", `{"operation":"square","branch":"right"}`, []string{"diamond_start"}},
	{"diamond_end", "diamond_end", "tasker_example_rs::step_handlers::diamond_workflow::DiamondEndHandler", `{"operation":"multiply_and_square"}`, []string{"diamond_start", "diamond_branch_b", "diamond_branch_c"}},
}

// checkArithAgainstNative runs every arithmetic step of module through x
// and through the native Go handlers, feeding each the results so far, and
// requires identical results.
func checkArithAgainstNative(t *testing.T, x *wasm.Executor, module string, evens ...int) {
	reg := worker.NewRegistry()
	require.NoError(t, native.Register(reg))
	for _, even := range evens {
		results := map[string]json.RawMessage{}
		for _, s := range arithSteps {
			b := workertest.NewStep(s.step).WithContext(map[string]int{"even_number": even}).WithConfig(json.RawMessage(s.config))
			for _, d := range s.deps {
				b = b.WithDependency(d, results[d])
			}
			want, err := workertest.Value(workertest.Execute(reg, b.WithCallable(s.native)))
			require.NoError(t, err)
			res := workertest.Execute(x, b.WithCallable("wasm:"+module+"/"+s.fn))
			require.True(t, res.IsSuccess(), "%s %s (even %d): %s", module, s.step, even, res.Message())
			got, err := workertest.Value(res)
			require.NoError(t, err)
			require.JSONEq(t, string(want), string(got), "%s %s (even %d)", module, s.step, even)
			results[s.step] = got
		}
	}
}

func TestGoGuestMatchesNativeHandlers(t *testing.T) {
	t.Parallel()
	x := newExecutor(t, wasm.Config{}, "arith")
	// 6 stays within int64; 100 ends as a decimal string (100^16).
	checkArithAgainstNative(t, x, "arith", 6, 100)
}

func TestUninterruptibleLoopsStillComputeTheSame(t *testing.T) {
	t.Parallel()
	x := newExecutor(t, wasm.Config{UninterruptibleLoops: true}, "arith")
	checkArithAgainstNative(t, x, "arith", 8)
}

func TestCGuestMatchesNativeHandlers(t *testing.T) {
	t.Parallel()
	x := newExecutor(t, wasm.Config{}, "arith-c")
	checkArithAgainstNative(t, x, "arith-c", 2, 6, 100)

	res := workertest.Execute(x, workertest.NewStep("linear_step_1").WithCallable("wasm:arith-c/linear_step_1").
		WithContext(map[string]int{"even_number": 7}))
	require.False(t, res.IsSuccess())
	require.Equal(t, "ValidationError", res.ErrorType())
	require.Equal(t, "even_number must be even, got 7", res.Message())

	res = workertest.Execute(x, workertest.NewStep("s").WithCallable("wasm:arith-c/trap"))
	require.False(t, res.IsSuccess())
	require.Contains(t, res.Message(), "wasm handler arith-c/trap trapped: wasm error: unreachable")
	res = workertest.Execute(x, workertest.NewStep("diamond_start").WithCallable("wasm:arith-c/diamond_start").
		WithContext(map[string]int{"even_number": 4}))
	require.True(t, res.IsSuccess(), "the worker carries on after a trap: %s", res.Message())
}

func TestGuestValidationFailureIsPermanent(t *testing.T) {
	t.Parallel()
	x := newExecutor(t, wasm.Config{}, "arith")
	res := workertest.Execute(x, workertest.NewStep("linear_step_1").WithCallable("wasm:arith/linear_step_1").
		WithContext(map[string]int{"even_number": 7}))
	require.False(t, res.IsSuccess())
	require.False(t, res.Retryable())
	require.Equal(t, "ValidationError", res.ErrorType())
	require.Equal(t, "even_number must be even, got 7", res.Message())
}

func TestMappedCallables(t *testing.T) {
	t.Parallel()
	x := newExecutor(t, wasm.Config{Callables: map[string]string{"Greeter::Echo": "misbehave/echo", "Missing::Handler": "misbehave/nope"}}, "misbehave")
	res := workertest.Execute(x, workertest.NewStep("greet").WithCallable("Greeter::Echo").WithContext(map[string]string{"who": "wasm"}))
	require.True(t, res.IsSuccess(), res.Message())
	got, err := workertest.Value(res)
	require.NoError(t, err)
	require.JSONEq(t, `{"context": {"who": "wasm"}, "step": "greet", "attempt": 1}`, string(got))

	res = workertest.Execute(x, workertest.NewStep("x").WithCallable("Other::Handler"))
	require.False(t, res.IsSuccess())
	require.Equal(t, stepresult.ErrorTypeHandlerNotFound, res.ErrorType())

	callables, err := x.ListCallables(context.Background())
	require.NoError(t, err)
	require.Contains(t, callables, "Greeter::Echo")
	require.Contains(t, callables, "wasm:misbehave/echo")
	require.Contains(t, callables, "wasm:misbehave/spin")
	require.NotContains(t, callables, "Missing::Handler")
	require.NotContains(t, callables, "wasm:misbehave/tasker_alloc")

	err = x.Check(context.Background(), []string{"wasm:misbehave/echo", "Greeter::Echo", "Missing::Handler",
		"wasm:nomodule/f", "wasm:misbehave/absent", "Plain::Go::Handler", "wasm:bad/name/x"})
	require.Error(t, err)
	msg := err.Error()
	require.Contains(t, msg, `callable "Missing::Handler": wasm module misbehave (misbehave.wasm) exports no handler "nope"`)
	require.Contains(t, msg, `callable "wasm:nomodule/f": wasm module not found: no nomodule.wasm`)
	require.Contains(t, msg, `callable "wasm:misbehave/absent"`)
	require.NotContains(t, msg, "Plain::Go::Handler")
	require.NotContains(t, msg, `"wasm:misbehave/echo"`)
	require.NoError(t, x.Check(context.Background(), []string{"wasm:misbehave/echo", "Greeter::Echo"}))
}

func TestMissingModuleAndFunction(t *testing.T) {
	t.Parallel()
	x := newExecutor(t, wasm.Config{}, "misbehave")
	for callable, want := range map[string]string{
		"wasm:nomodule/f":       "wasm module not found: no nomodule.wasm",
		"wasm:misbehave/absent": `exports no handler "absent"; it exports [count crash echo hog`,
		"wasm:misbehave":        `"misbehave" is not module/function`,
		"wasm:../x/f":           `module name "..": only letters`,
	} {
		res := workertest.Execute(x, workertest.NewStep("s").WithCallable(callable))
		require.False(t, res.IsSuccess(), callable)
		require.False(t, res.Retryable(), callable)
		require.Equal(t, stepresult.ErrorTypeHandlerNotFound, res.ErrorType(), callable)
		require.Contains(t, res.Message(), want, callable)
	}
}

// requireWorkerCarriesOn checks that x still runs a good handler.
func requireWorkerCarriesOn(t *testing.T, x *wasm.Executor) {
	t.Helper()
	requireRuns(t, x, "wasm:misbehave/echo")
}

func requireRuns(t *testing.T, x *wasm.Executor, callable string) {
	t.Helper()
	res := workertest.Execute(x, workertest.NewStep("after").WithCallable(callable))
	require.True(t, res.IsSuccess(), res.Message())
}

func TestRunawayLoopStoppedByTimeout(t *testing.T) {
	t.Parallel()
	x := newExecutor(t, wasm.Config{}, "misbehave", "trapper")
	// An initialised instance waits, so that the timeout is spent in the
	// loop (a Go guest's start-up is slow under the race detector).
	requireWorkerCarriesOn(t, x)
	for _, callable := range []string{"wasm:misbehave/spin", "wasm:trapper/loop"} {
		ctx, cancel := context.WithTimeoutCause(context.Background(), 300*time.Millisecond, worker.ErrStepTimeout)
		start := time.Now()
		res := workertest.ExecuteContext(ctx, x, workertest.NewStep("spin").WithCallable(callable))
		cancel()
		require.Less(t, time.Since(start), 20*time.Second, "the loop was not interrupted")
		require.False(t, res.IsSuccess())
		require.Contains(t, res.Message(), "interrupted: step timed out", callable)
	}
	requireWorkerCarriesOn(t, x)
}

// TestInterruptedInstanceIsNotReused: an instance stopped in the middle
// of a loop (its memory and the guest runtime's state are whatever the
// loop left) leaves the pool, and the next step gets a new one.
func TestInterruptedInstanceIsNotReused(t *testing.T) {
	t.Parallel()
	x := newExecutor(t, wasm.Config{MaxIdleInstances: 1}, "misbehave")
	requireWorkerCarriesOn(t, x)
	require.Equal(t, 1, wasm.IdleInstances(x, "misbehave"), "a step that ended well gives its instance back")
	ctx, cancel := context.WithTimeoutCause(context.Background(), 300*time.Millisecond, worker.ErrStepTimeout)
	res := workertest.ExecuteContext(ctx, x, workertest.NewStep("spin").WithCallable("wasm:misbehave/spin"))
	cancel()
	require.Contains(t, res.Message(), "interrupted: step timed out")
	require.Zero(t, wasm.IdleInstances(x, "misbehave"), "the interrupted instance was discarded")
	requireWorkerCarriesOn(t, x)
	require.Equal(t, 1, wasm.IdleInstances(x, "misbehave"))
}

func TestFailuresAreStepFailures(t *testing.T) {
	t.Parallel()
	x := newExecutor(t, wasm.Config{MemoryLimitMiB: 64}, "misbehave", "trapper")
	for _, c := range []struct {
		callable, errorType string
		want                []string
	}{
		{"wasm:trapper/trap", stepresult.ErrorTypeHandlerPanic, []string{"wasm handler trapper/trap trapped: wasm error: unreachable"}},
		// A Go panic past the SDK aborts the runtime.
		{"wasm:misbehave/crash", stepresult.ErrorTypeHandlerPanic, []string{"wasm handler misbehave/crash trapped", "panic: crash handler gave up"}},
		{"wasm:misbehave/hog", stepresult.ErrorTypeHandlerPanic, []string{"wasm handler misbehave/hog trapped",
			"the module reached its memory limit of 64 MiB", "fatal error: out of memory"}},
		{"wasm:misbehave/open_file", stepresult.ErrorTypeHandlerPanic, []string{`tried to open ["etc/hostname"]: WASM handlers have no file system access`}},
		{"wasm:misbehave/swallow_open", stepresult.ErrorTypeHandlerPanic, []string{`tried to open ["etc/passwd"]`}},
		{"wasm:misbehave/not_json", stepresult.ErrorTypeInvalidResult, []string{"wasm handler misbehave/not_json", "not valid JSON"}},
		{"wasm:misbehave/out_of_bounds", stepresult.ErrorTypeHandlerPanic, []string{"outside its memory"}},
	} {
		res := workertest.Execute(x, workertest.NewStep("s").WithCallable(c.callable))
		require.False(t, res.IsSuccess(), c.callable)
		require.False(t, res.Retryable(), c.callable)
		require.Equal(t, c.errorType, res.ErrorType(), c.callable)
		for _, w := range c.want {
			require.Contains(t, res.Message(), w, c.callable)
		}
		requireWorkerCarriesOn(t, x)
	}
}

func TestABIVersionIsChecked(t *testing.T) {
	t.Parallel()
	x := newExecutor(t, wasm.Config{}, "abi2")
	res := workertest.Execute(x, workertest.NewStep("s").WithCallable("wasm:abi2/trap"))
	require.False(t, res.IsSuccess())
	require.Contains(t, res.Message(), "speaks handler ABI version 2; this worker speaks version 1")
}

func TestNotAModule(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "junk.wasm"), []byte("not wasm"), 0o644))
	x := newExecutor(t, wasm.Config{ModulePaths: []string{dir}})
	res := workertest.Execute(x, workertest.NewStep("s").WithCallable("wasm:junk/f"))
	require.False(t, res.IsSuccess())
	require.Contains(t, res.Message(), "compiling wasm module junk")
	_, err := x.ListCallables(context.Background())
	require.ErrorContains(t, err, "compiling wasm module junk")
}

func TestInstancesAreReusedOrFresh(t *testing.T) {
	t.Parallel()
	calls := func(x *wasm.Executor) int {
		res := workertest.Execute(x, workertest.NewStep("s").WithCallable("wasm:misbehave/count"))
		require.True(t, res.IsSuccess(), res.Message())
		var v struct{ Calls int }
		require.NoError(t, workertest.DecodeValue(res, &v))
		return v.Calls
	}
	reused := newExecutor(t, wasm.Config{}, "misbehave")
	fresh := newExecutor(t, wasm.Config{FreshInstances: true}, "misbehave")
	for i := 1; i <= 3; i++ {
		require.Equal(t, i, calls(reused), "one idle instance serves sequential steps")
		require.Equal(t, 1, calls(fresh), "every step gets a new instance")
	}
}

func TestConcurrentStepsGetTheirOwnInstances(t *testing.T) {
	t.Parallel()
	x := newExecutor(t, wasm.Config{}, "misbehave")
	// A step stuck in a loop holds its instance; others still run.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		workertest.ExecuteContext(ctx, x, workertest.NewStep("spin").WithCallable("wasm:misbehave/spin"))
	}()
	var inner sync.WaitGroup
	for range 4 {
		inner.Add(1)
		go func() {
			defer inner.Done()
			res := workertest.Execute(x, workertest.NewStep("s").WithCallable("wasm:misbehave/count"))
			require.True(t, res.IsSuccess(), res.Message())
		}()
	}
	inner.Wait()
	cancel()
	wg.Wait()
}

func TestReplacedModuleIsPickedUp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "handlers.wasm")
	linkModule(t, guestModule(t, "misbehave"), path)
	x := newExecutor(t, wasm.Config{ModulePaths: []string{dir}, ReloadInterval: time.Millisecond})

	fns, err := x.Handlers(context.Background(), "handlers")
	require.NoError(t, err)
	require.Contains(t, fns, "spin")
	requireRuns(t, x, "wasm:handlers/echo") // leaves an initialised instance idle

	// A step starts on the first version and is still running when the
	// file is replaced.
	ctx, cancel := context.WithTimeoutCause(context.Background(), 3*time.Second, worker.ErrStepTimeout)
	defer cancel()
	done := make(chan worker.Result, 1)
	go func() {
		done <- workertest.ExecuteContext(ctx, x, workertest.NewStep("spin").WithCallable("wasm:handlers/spin"))
	}()
	time.Sleep(100 * time.Millisecond)

	linkModule(t, guestModule(t, "arith"), path)
	// Make sure the stamp differs even on a coarse-grained file system.
	later := time.Now().Add(time.Minute)
	require.NoError(t, os.Chtimes(path, later, later))
	time.Sleep(5 * time.Millisecond)

	res := workertest.Execute(x, workertest.NewStep("linear_step_1").WithCallable("wasm:handlers/linear_step_1").
		WithContext(map[string]int{"even_number": 6}))
	require.True(t, res.IsSuccess(), res.Message())
	res = workertest.Execute(x, workertest.NewStep("s").WithCallable("wasm:handlers/echo"))
	require.Contains(t, res.Message(), `exports no handler "echo"`)

	// The step on the old version ran on until its timeout.
	old := <-done
	require.Contains(t, old.Message(), "wasm handler handlers/spin interrupted")

	// A replacement that does not load leaves the current version serving.
	require.NoError(t, os.WriteFile(path, []byte("garbage"), 0o644))
	evenLater := later.Add(time.Minute)
	require.NoError(t, os.Chtimes(path, evenLater, evenLater))
	time.Sleep(5 * time.Millisecond)
	res = workertest.Execute(x, workertest.NewStep("linear_step_1").WithCallable("wasm:handlers/linear_step_1").
		WithContext(map[string]int{"even_number": 2}))
	require.True(t, res.IsSuccess(), res.Message())
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err := wasm.New(context.Background(), wasm.Config{
		ModulePaths:      []string{"/does/not/exist", file},
		Callables:        map[string]string{"A": "nofunction"},
		MemoryLimitMiB:   5000,
		MaxIdleInstances: -1,
		ReloadInterval:   -time.Second,
		Env:              map[string]string{"A=B": "x"},
	}, nil)
	require.Error(t, err)
	for _, want := range []string{
		"ModulePaths: stat /does/not/exist", "is not a directory", `Callables["A"]: "nofunction" is not module/function`,
		"MemoryLimitMiB: 5000 is outside 1..4096", "MaxIdleInstances: -1 is negative", "ReloadInterval: -1s is negative",
		`Env: "A=B" is not a variable name`,
	} {
		require.ErrorContains(t, err, want)
	}
	_, err = wasm.New(context.Background(), wasm.Config{}, nil)
	require.ErrorContains(t, err, "ModulePaths: at least one directory is required")
}
