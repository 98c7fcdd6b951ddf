package systest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/worker"
)

// killTemplate is one step whose handler the victim process runs until it
// is killed.
const killTemplate = `name: kill
namespace_name: systest_kill
version: "1.0.0"
steps:
  - name: only
    handler: {callable: systest_kill.only}
    retry: {retryable: true, max_attempts: 3}
`

// killClaimDeadline is the claim deadline (worker.claims.visibility_timeout)
// of the workers of the kill test: a step that runs again well within it
// was given back by dead worker detection, not by its deadline.
const killClaimDeadline = time.Minute

// victimEnv names the environment of the victim process.
const (
	victimEnvDB     = "TASKER_SYSTEST_VICTIM_DB"
	victimEnvSchema = "TASKER_SYSTEST_VICTIM_SCHEMA"
	victimEnvBroker = "TASKER_SYSTEST_VICTIM_BROKER"
)

func parseKillTemplate(t testing.TB) *template.Template {
	t.Helper()
	tpls, err := template.Parse([]byte(killTemplate), "kill.yaml", template.ParseOptions{})
	require.NoError(t, err)
	require.Len(t, tpls, 1)
	return tpls[0]
}

// TestBrokerVictimProcess is not a test: it is the worker process that
// TestKilledWorkerOnRabbitMQ starts from the test binary and SIGKILLs. It
// runs a worker on the rabbitmq backend whose handler blocks, and waits to
// be killed.
func TestBrokerVictimProcess(t *testing.T) {
	if os.Getenv(victimEnvDB) == "" {
		t.Skip("the victim process of TestKilledWorkerOnRabbitMQ (started by it)")
	}
	ctx := context.Background()
	cfg := config.Default(config.ContextWorker)
	cfg.Database.URL, cfg.Database.Schema = os.Getenv(victimEnvDB), os.Getenv(victimEnvSchema)
	cfg.Database.Pool.MaxConnections, cfg.Database.Pool.MinConnections = 4, 0
	cfg.Queues.Backend = config.BackendRabbitMQ
	cfg.Queues.RabbitMQ.URL = os.Getenv(victimEnvBroker)
	cfg.Queues.PollInterval = 200 * time.Millisecond
	cfg.Worker.WorkerID = "victim"
	cfg.Worker.Web.Enabled = false
	cfg.Worker.Claims.VisibilityTimeout = killClaimDeadline
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	in, err := infra.Connect(ctx, cfg, "victim", log)
	require.NoError(t, err)
	reg := worker.NewRegistry()
	require.NoError(t, worker.Register(reg, "systest_kill.only", worker.Func(
		func(ctx context.Context, _ *worker.Step[json.RawMessage]) (any, error) {
			fmt.Println("victim: running the step")
			<-ctx.Done()
			return nil, ctx.Err()
		})))
	svc, err := worker.Open(ctx, worker.OpenOptions{Config: cfg, Infra: in, Registry: reg,
		Templates: []*template.Template{parseKillTemplate(t)}, Logger: log})
	require.NoError(t, err)
	require.NoError(t, svc.Core().Start(ctx))
	fmt.Println("victim: started")
	time.Sleep(5 * time.Minute) // until killed
	t.Fatal("the victim was not killed")
}

// TestKilledWorkerOnRabbitMQ: on the rabbitmq backend, a worker process is
// SIGKILLed while it runs a step. Its liveness lock dies with its database
// session and the broker requeues its unacknowledged delivery (which the
// other worker defers: the claim still looks live). Orchestration's dead
// worker detection finds the claim through the open tasks, ends it and
// sends the step a new message: the other (already running) worker reruns
// the step within seconds, not after its one-minute claim deadline, with
// the lost run counted and one recorded result. Before that, with no
// worker at all, /health/detailed counts the step as unserved.
func TestKilledWorkerOnRabbitMQ(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a worker process")
	}
	broker := systest.BrokerVHost(t)
	tpl := parseKillTemplate(t)
	opts := systest.Options{RabbitMQURL: broker, Workers: -1, Templates: []*template.Template{tpl},
		Registry: func() *worker.Registry {
			reg := worker.NewRegistry()
			require.NoError(t, worker.Register(reg, "systest_kill.only", worker.Func(
				func(context.Context, *worker.Step[json.RawMessage]) (map[string]string, error) {
					return map[string]string{"ran_on": "rescuer"}, nil
				})))
			return reg
		},
		Worker: func(w *config.Worker) { w.Claims.VisibilityTimeout = killClaimDeadline }}
	sys := systest.Start(t, opts)
	created, err := sys.Core.CreateTask(sys.Ctx, orchestration.TaskRequest{Namespace: "systest_kill", Name: "kill",
		Version: "1.0.0", Context: json.RawMessage(`{}`), IdentityKey: t.Name()})
	require.NoError(t, err)
	task := created.Task.UUID

	// No worker yet: the step waits, unserved, and health says so.
	var health api.DetailedHealthResponse
	require.Eventually(t, func() bool {
		health = detailedHealth(t, sys.URL)
		return len(health.UnservedSteps) == 1
	}, 30*time.Second, 50*time.Millisecond, "the waiting step is counted as unserved")
	require.Equal(t, "degraded", health.Checks[api.CheckUnservedSteps].Status)
	require.Equal(t, api.UnservedSteps{Namespace: "systest_kill", Callable: "systest_kill.only", Steps: 1,
		OldestMessageAgeSeconds: health.UnservedSteps[0].OldestMessageAgeSeconds}, health.UnservedSteps[0])
	metrics := httpGet(t, sys.URL+"/metrics")
	require.Contains(t, metrics, `tasker_unserved_steps{callable="systest_kill.only",namespace="systest_kill"} 1`)

	// The victim claims the step and runs it until it is killed.
	victim := exec.Command(os.Args[0], "-test.run=^TestBrokerVictimProcess$", "-test.v") //nolint:gosec // the test binary itself
	victim.Env = append(os.Environ(), victimEnvDB+"="+sys.DB.URL, victimEnvSchema+"="+sys.DB.Schema, victimEnvBroker+"="+broker)
	out, err := victim.StdoutPipe()
	require.NoError(t, err)
	victim.Stderr = victim.Stdout
	require.NoError(t, victim.Start())
	exited := make(chan error, 1)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		exited <- victim.Wait()
	}()
	var waited error
	kill := sync.OnceFunc(func() {
		_ = victim.Process.Kill() // SIGKILL
		waited = <-exited
	})
	t.Cleanup(kill)
	waitLine(t, lines, "victim: running the step")
	steps, err := sys.Store.StepReadiness(sys.Ctx, []uuid.UUID{task}, nil)
	require.NoError(t, err)
	require.Len(t, steps, 1)
	step := steps[0]
	require.Equal(t, state.StepInProgress, step.State)
	require.Equal(t, "victim", step.ClaimedBy)

	// The rescuer is running before the kill (as in a real deployment).
	sys.StartWorker("rescuer", opts, []*template.Template{tpl})
	killed := time.Now()
	kill()
	require.ErrorContains(t, waited, "killed")
	require.Eventually(t, func() bool {
		tk, err := sys.Store.GetTask(sys.Ctx, task)
		return err == nil && tk.State.Terminal()
	}, 20*time.Second, 20*time.Millisecond, "the killed worker's step was not rerun within 20 s (claim deadline %v)", killClaimDeadline)
	t.Logf("SIGKILL → task complete on the other worker: %v (claim deadline %v)",
		time.Since(killed).Round(time.Millisecond), killClaimDeadline)

	tk, err := sys.Store.GetTask(sys.Ctx, task)
	require.NoError(t, err)
	require.Equal(t, state.TaskComplete, tk.State)
	st, err := sys.Store.GetStep(sys.Ctx, task, step.UUID)
	require.NoError(t, err)
	require.Equal(t, 2, st.Attempts, "the lost run counts as an attempt")
	audit, err := sys.Store.StepAudit(sys.Ctx, task, step.UUID)
	require.NoError(t, err)
	require.Len(t, audit, 1, "exactly one recorded result")
	require.Equal(t, "rescuer", audit[0].WorkerID)
	hist, err := sys.Store.StepTransitions(sys.Ctx, task, step.UUID)
	require.NoError(t, err)
	var meta []string
	for _, h := range hist {
		meta = append(meta, string(h.Metadata))
	}
	require.Contains(t, strings.Join(meta, " "), `"previous_claimer": "victim"`, "the claim was ended, then reclaimed")

	health = detailedHealth(t, sys.URL)
	require.Equal(t, "healthy", health.Checks[api.CheckUnservedSteps].Status)
	require.Empty(t, health.UnservedSteps)
}

// waitLine waits for the victim to print want.
func waitLine(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l := <-lines:
			if strings.Contains(l, want) {
				return
			}
		case <-timeout:
			t.Fatalf("the victim process did not print %q within 60 s", want)
		}
	}
}

func detailedHealth(t *testing.T, base string) api.DetailedHealthResponse {
	t.Helper()
	var out api.DetailedHealthResponse
	require.NoError(t, json.Unmarshal([]byte(httpGet(t, base+"/health/detailed")), &out))
	return out
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
