package ruby_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
)

func e2eTemplate(name string) string {
	p, _ := filepath.Abs(filepath.Join("test", "e2e", "templates", name))
	return p
}

func (rs *rubySystem) create(t *testing.T, file, ctx string) uuid.UUID {
	t.Helper()
	tpl := rs.byFile[file]
	task, err := rs.client.CreateTask(rs.sys.Ctx, client.TaskRequest{Namespace: tpl.NamespaceName, Name: tpl.Name,
		Version: tpl.Version, Context: json.RawMessage(ctx)})
	require.NoError(t, err)
	return task.TaskUUID
}

func (rs *rubySystem) wait(t *testing.T, id uuid.UUID) *client.Task {
	t.Helper()
	ctx, cancel := context.WithTimeout(rs.sys.Ctx, 2*time.Minute)
	defer cancel()
	final, err := rs.client.Wait(ctx, id, nil)
	require.NoError(t, err)
	return final
}

// waitInProgress waits until the task's only step runs.
func (rs *rubySystem) waitInProgress(t *testing.T, id uuid.UUID) {
	t.Helper()
	require.Eventually(t, func() bool {
		steps, err := rs.client.Steps(rs.sys.Ctx, id)
		return err == nil && len(steps) == 1 && steps[0].CurrentState == "in_progress"
	}, time.Minute, 20*time.Millisecond, "the step never started")
}

// storedError is the error block of a step's stored execution result.
func storedError(t *testing.T, s client.Step) (errType, message string, retryable bool, backtrace []string) {
	t.Helper()
	var r struct {
		Error struct {
			ErrorType string   `json:"error_type"`
			Message   string   `json:"message"`
			Retryable bool     `json:"retryable"`
			Backtrace []string `json:"backtrace"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(s.Results, &r), "%s", s.Results)
	return r.Error.ErrorType, r.Error.Message, r.Error.Retryable, r.Error.Backtrace
}

// TestRubyErrorKinds: a RetryableError is retried then errors, a
// PermanentError errors at once, an exception no handler classified is
// retried with its class as the error type, and a handler that never
// returns is ended by the step timeout while the worker goes on serving.
func TestRubyErrorKinds(t *testing.T) {
	rs := startRubySystem(t, []string{fixturePath(t, "retryable_error_only.yaml"), fixturePath(t, "permanent_error_only.yaml"),
		e2eTemplate("crash.yaml"), e2eTemplate("hang.yaml"), e2eTemplate("slow.yaml")})
	rs.startWorker(t, "ruby-errors", nil, "--concurrency", "3")

	retryable := rs.wait(t, rs.create(t, "retryable_error_only.yaml", `{}`))
	require.Equal(t, "error", retryable.Status)
	require.Equal(t, 2, retryable.Steps[0].Attempts, "retried up to max_attempts")
	typ, msg, again, trace := storedError(t, retryable.Steps[0])
	require.Equal(t, []any{"RetryableError", "Payment service timeout after 30s (attempt 1)", true}, []any{typ, msg, again})
	require.NotEmpty(t, trace)

	permanent := rs.wait(t, rs.create(t, "permanent_error_only.yaml", `{}`))
	require.Equal(t, "error", permanent.Status)
	require.Equal(t, 1, permanent.Steps[0].Attempts, "not retried")
	typ, msg, again, _ = storedError(t, permanent.Steps[0])
	require.Equal(t, []any{"PermanentError", "Invalid payment method: test_invalid_card", false}, []any{typ, msg, again})

	crash := rs.wait(t, rs.create(t, "crash.yaml", `{}`))
	require.Equal(t, "error", crash.Status)
	require.Equal(t, 2, crash.Steps[0].Attempts, "an unclassified exception is retryable")
	typ, msg, again, trace = storedError(t, crash.Steps[0])
	require.Equal(t, []any{"ArgumentError", "kaput", true}, []any{typ, msg, again})
	require.True(t, strings.Contains(trace[0], "e2e_handlers.rb"), "backtrace %v", trace)

	hang := rs.wait(t, rs.create(t, "hang.yaml", `{}`))
	require.Equal(t, "error", hang.Status, "the step timeout ended the attempt: %v", stepStates(hang.Steps))
	t.Logf("hung step: %s", hang.Steps[0].FailureMessage())
	after := rs.wait(t, rs.create(t, "slow.yaml", `{"sleep_ms":10}`))
	require.Equal(t, "complete", after.Status, "the worker still serves after a hung handler")
}

// TestRubyWorkerKilledMidStep: a Ruby worker is SIGKILLed while its
// handler runs; the step is reclaimed and a second Ruby worker finishes
// the task (the killed attempt counts).
func TestRubyWorkerKilledMidStep(t *testing.T) {
	rs := startRubySystem(t, []string{e2eTemplate("slow.yaml")})
	env := []string{"TASKER__WORKER__CLAIMS__VISIBILITY_TIMEOUT=2s", "TASKER__WORKER__CLAIMS__HEARTBEAT_INTERVAL=500ms"}
	victim := rs.startWorker(t, "ruby-victim", env)
	id := rs.create(t, "slow.yaml", `{"sleep_ms":3000}`)
	rs.waitInProgress(t, id)
	require.NoError(t, victim.cmd.Process.Signal(syscall.SIGKILL))
	<-victim.exited
	rescuer := rs.startWorker(t, "ruby-rescuer", env)
	final := rs.wait(t, id)
	require.Equal(t, "complete", final.Status)
	require.Equal(t, 2, final.Steps[0].Attempts, "the killed attempt counts")
	pid, err := pointer(final.Steps[0].Result(), "/pid")
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(rescuer.cmd.Process.Pid), string(pid), "the second worker ran it")
}

// TestRubySigterm: SIGTERM to a busy Ruby worker; it exits within its 5 s
// budget, what did not finish is released, and another worker completes
// every task: nothing is lost.
func TestRubySigterm(t *testing.T) {
	rs := startRubySystem(t, []string{e2eTemplate("slow.yaml")})
	busy := rs.startWorker(t, "ruby-busy", nil, "--concurrency", "8")
	var tasks []uuid.UUID
	for i := range 6 {
		ms := 8000 // longer than the shutdown budget: released
		if i%2 == 0 {
			ms = 500 // finishes within it
		}
		tasks = append(tasks, rs.create(t, "slow.yaml", fmt.Sprintf(`{"sleep_ms":%d}`, ms)))
	}
	for _, id := range tasks {
		rs.waitInProgress(t, id)
	}
	sent := time.Now()
	require.NoError(t, busy.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-busy.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("the Ruby worker did not exit after SIGTERM")
	}
	took := time.Since(sent)
	t.Logf("Ruby worker exited %v after SIGTERM", took)
	require.NoError(t, busy.err, "clean exit")
	require.Less(t, took, 5*time.Second, "shutdown budget")

	rs.startWorker(t, "ruby-next", nil, "--concurrency", "8")
	for i, id := range tasks {
		final := rs.wait(t, id)
		require.Equal(t, "complete", final.Status)
		if i%2 == 1 {
			require.Equal(t, 1, final.Steps[0].Attempts, "a released step did not spend an attempt")
		}
	}
}

// TestRubyTenThousandSteps runs 2,500 four-step tasks through one Ruby
// worker and logs its resident memory as it goes (measured, not asserted).
func TestRubyTenThousandSteps(t *testing.T) {
	rs := startRubySystem(t, []string{e2eTemplate("noop_chain.yaml")})
	w := rs.startWorker(t, "ruby-volume", nil, "--concurrency", "32")
	stop := make(chan struct{})
	var samples []int
	var mu sync.Mutex
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			if kb := rssKB(w.cmd.Process.Pid); kb > 0 {
				mu.Lock()
				samples = append(samples, kb)
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	const tasks = 2500
	start := time.Now()
	ids := make([]uuid.UUID, tasks)
	var wg sync.WaitGroup
	errs := make(chan error, tasks)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < tasks; i += 8 {
				tpl := rs.byFile["noop_chain.yaml"]
				task, err := rs.client.CreateTask(rs.sys.Ctx, client.TaskRequest{Namespace: tpl.NamespaceName, Name: tpl.Name,
					Version: tpl.Version, Context: json.RawMessage(`{}`)})
				if err != nil {
					errs <- err
					return
				}
				ids[i] = task.TaskUUID
			}
		}()
	}
	wg.Wait()
	created := time.Since(start)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for _, id := range ids {
		require.Equal(t, "complete", rs.wait(t, id).Status)
	}
	elapsed := time.Since(start)
	close(stop)
	sampler.Wait()
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, samples)
	first, last, peak := samples[0], samples[len(samples)-1], 0
	for _, s := range samples {
		peak = max(peak, s)
	}
	var deciles []string
	for i := 0; i < 10; i++ {
		deciles = append(deciles, strconv.Itoa(samples[i*len(samples)/10]/1024))
	}
	t.Logf("10,000 Ruby steps in %v (tasks created in the first %v); worker RSS: first %d KiB, peak %d KiB, last %d KiB "+
		"(%d samples, MiB at each tenth of the run: %s)", elapsed.Round(time.Millisecond), created.Round(time.Millisecond),
		first, peak, last, len(samples), strings.Join(deciles, " "))
}

// rssKB reads VmRSS of a process (Linux), 0 when unavailable.
func rssKB(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// TestPollReleasesTheGVL: while one Ruby thread waits in
// tasker_poll_step_events, another keeps running (Fiddle releases the GVL).
func TestPollReleasesTheGVL(t *testing.T) {
	rs := startRubySystem(t, []string{e2eTemplate("slow.yaml")})
	p := startProc(t, ".", rs.env(), rs.ruby, "-Ilib", filepath.Join("test", "e2e", "gvl_probe.rb"))
	<-p.exited
	require.NoError(t, p.err, p.output())
	var probe struct {
		WaitedMS int `json:"waited_ms"`
		Ticks    int `json:"ticks"`
	}
	lines := strings.Split(strings.TrimSpace(p.output()), "\n")
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &probe), p.output())
	t.Logf("poll waited %d ms; the other thread counted %d times meanwhile", probe.WaitedMS, probe.Ticks)
	require.GreaterOrEqual(t, probe.WaitedMS, 900, "the poll did wait")
	require.Greater(t, probe.Ticks, 1000, "the other thread ran during the wait")
}
