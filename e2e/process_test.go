package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/shared/testdb"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds tasker and tasker-worker once per test run.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "tasker-e2e-bin-")
		if buildErr != nil {
			return
		}
		for _, pkg := range []string{"tasker", "tasker-worker"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, pkg), "./cmd/"+pkg)
			cmd.Dir = ".."
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("building %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	require.NoError(t, buildErr)
	return binDir
}

// proc is a running child process with its combined output captured.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    strings.Builder
	lines  chan string
	exited chan struct{}
	err    error
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func start(t *testing.T, env []string, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(filepath.Join(binaries(t), name), args...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &proc{cmd: cmd, lines: make(chan string, 1000), exited: make(chan struct{})}
	require.NoError(t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.output())
		}
	})
	return p
}

// waitLine waits for an output line matching re and returns its submatches.
func (p *proc) waitLine(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l := <-p.lines:
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-p.exited:
			t.Fatalf("process exited before printing %s: %v", re, p.err)
		case <-deadline:
			t.Fatalf("no line matching %s", re)
		}
	}
}

var apiLine = regexp.MustCompile(`REST API on (http://\S+)`)

// processEnv points processes at a fresh migrated schema.
func processEnv(t *testing.T, extra ...string) []string {
	db := testdb.New(t)
	return append([]string{"DATABASE_URL=" + db.URL, "TASKER__DATABASE__SCHEMA=" + db.Schema, "TASKER_ENV=test",
		"TASKER__WORKER__WEB__ENABLED=false", "TASKER_TEMPLATE_PATH="}, extra...)
}

func startServer(t *testing.T, env []string) *client.Client {
	srv := start(t, env, "tasker", "server", "--bind", "127.0.0.1:0")
	url := srv.waitLine(t, apiLine)[1]
	c, err := client.New(url)
	require.NoError(t, err)
	return c
}

func slowTask(t *testing.T, ctx context.Context, c *client.Client, sleepMS int) uuid.UUID {
	task, err := c.CreateTask(ctx, client.TaskRequest{Namespace: "examples_slow", Name: "slow_step", Version: "1.0.0",
		Context: json.RawMessage(fmt.Sprintf(`{"sleep_ms":%d}`, sleepMS))})
	require.NoError(t, err)
	return task.TaskUUID
}

// waitStepStarted polls until the task's only step was claimed: it is in
// progress or past it.
func waitStepStarted(t *testing.T, ctx context.Context, c *client.Client, task uuid.UUID) {
	require.Eventually(t, func() bool {
		steps, err := c.Steps(ctx, task)
		if err != nil || len(steps) == 0 {
			return false
		}
		switch steps[0].CurrentState {
		case "pending", "enqueued":
			return false
		}
		return true
	}, 60*time.Second, 20*time.Millisecond, "step never started")
}

// waitStep polls until the task's only step is in state.
func waitStep(t *testing.T, ctx context.Context, c *client.Client, task uuid.UUID, state string) client.Step {
	var step client.Step
	require.Eventually(t, func() bool {
		// No require here: the condition runs off the test goroutine.
		steps, err := c.Steps(ctx, task)
		if err != nil || len(steps) == 0 {
			return false
		}
		step = steps[0]
		return step.CurrentState == state
	}, 60*time.Second, 20*time.Millisecond, "step never reached %s", state)
	return step
}

// TestWorkerKilledMidStep: a worker is SIGKILLed while a step runs; its death
// is noticed (dead worker detection) or its claim lapses with the message's
// visibility timeout, whichever comes first; another worker reclaims the
// step (the attempt counts) and the task completes, on each queue backend.
// TestKilledWorkerIsNoticedInSeconds measures the detection with a 30 s
// deadline.
func TestWorkerKilledMidStep(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	onBackends(t, runWorkerKilledMidStep)
}

func runWorkerKilledMidStep(t *testing.T, b queueBackend) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := b.processEnv(t, "TASKER__WORKER__CLAIMS__VISIBILITY_TIMEOUT=2s", "TASKER__WORKER__CLAIMS__HEARTBEAT_INTERVAL=500ms")
	c := startServer(t, env)
	victim := start(t, append(env, "TASKER__WORKER__WORKER_ID=victim"), "tasker-worker")
	victim.waitLine(t, regexp.MustCompile(`tasker-worker started`))
	task := slowTask(t, ctx, c, 3000)
	waitStep(t, ctx, c, task, "in_progress")
	require.NoError(t, victim.cmd.Process.Signal(syscall.SIGKILL))
	<-victim.exited

	rescuer := start(t, append(env, "TASKER__WORKER__WORKER_ID=rescuer"), "tasker-worker")
	rescuer.waitLine(t, regexp.MustCompile(`tasker-worker started`))
	final, err := c.Wait(ctx, task, nil)
	require.NoError(t, err)
	require.Equal(t, "complete", final.Status)
	require.Equal(t, 2, final.Steps[0].Attempts, "the killed attempt counts")
	audit, err := c.StepAudit(ctx, task, final.Steps[0].StepUUID)
	require.NoError(t, err)
	require.Len(t, audit, 1, "only the rescuing worker reported a result")
	require.Equal(t, "rescuer", audit[0].WorkerID)
}

// TestSigtermBusyWorker: SIGTERM to a worker running several long steps; it
// exits within its 5 s budget, releases what did not finish, and another
// worker completes every task — nothing is lost. It runs on each queue
// backend.
func TestSigtermBusyWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	onBackends(t, runSigtermBusyWorker)
}

func runSigtermBusyWorker(t *testing.T, b queueBackend) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := b.processEnv(t, "TASKER__WORKER__SHUTDOWN_GRACE=2s", "TASKER__WORKER__HANDLERS__MIN_CONCURRENT=8",
		"TASKER__WORKER__HANDLERS__MAX_CONCURRENT=8")
	c := startServer(t, env)
	busy := start(t, append(env, "TASKER__WORKER__WORKER_ID=busy"), "tasker-worker")
	busy.waitLine(t, regexp.MustCompile(`tasker-worker started`))
	var tasks []uuid.UUID
	for i := range 6 {
		ms := 6000 // longer than the grace: these get released
		if i%2 == 0 {
			ms = 500 // these finish within the grace
		}
		tasks = append(tasks, slowTask(t, ctx, c, ms))
	}
	// A 500 ms step may be over before a loaded machine's poll sees it
	// run: started is enough.
	for _, id := range tasks {
		waitStepStarted(t, ctx, c, id)
	}
	sent := time.Now()
	require.NoError(t, busy.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-busy.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("worker did not exit after SIGTERM")
	}
	took := time.Since(sent)
	t.Logf("worker exited %v after SIGTERM", took)
	require.NoError(t, busy.err, "clean exit")
	require.Less(t, took, 5*time.Second, "shutdown budget")

	start(t, append(env, "TASKER__WORKER__WORKER_ID=next"), "tasker-worker")
	for i, id := range tasks {
		final, err := c.Wait(ctx, id, nil)
		require.NoError(t, err)
		require.Equal(t, "complete", final.Status)
		if i%2 == 1 {
			require.Equal(t, 1, final.Steps[0].Attempts, "a released step did not spend an attempt")
		}
	}
}
