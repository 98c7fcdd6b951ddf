package python_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/shared/testdb"
)

// env is one test's orchestration plus what a Python worker needs to join it.
type env struct {
	sys       *systest.System
	c         *client.Client
	vars      []string
	templates []string // directories handed to the worker with --templates
	handlers  []string // directories handed to the worker with --handlers
}

// referenceDir holds tasker-core's verbatim Python handler files.
func referenceDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("TASKER_REFERENCE_HANDLERS"); d != "" {
		return d
	}
	shared := filepath.Dir(filepath.Dir(testdb.FixturesDir(t)))
	d := filepath.Join(shared, "reference", "tasker-core-bindings", "python")
	if _, err := os.Stat(d); err != nil {
		t.Skipf("tasker-core's Python handler files are not at %s (set TASKER_REFERENCE_HANDLERS)", d)
	}
	return d
}

// newEnv starts orchestration (no Go worker) on a fresh schema with the
// Python fixture templates and this package's e2e templates registered.
func newEnv(t testing.TB, extra ...string) *env {
	t.Helper()
	lib := library(t)
	fixtures := filepath.Join(testdb.FixturesDir(t), "task_templates", "python")
	own := filepath.Join(packageDir(t), "tests", "e2e_templates")
	var tpls []*template.Template
	for _, dir := range []string{fixtures, own} {
		found, err := template.LoadPaths([]string{dir}, template.ParseOptions{Environment: "test"})
		require.NoError(t, err, dir)
		tpls = append(tpls, found...)
	}
	sys := systest.Start(t, systest.Options{Workers: -1, Templates: tpls, PoolSize: 12})
	c, err := client.New(sys.URL)
	require.NoError(t, err)
	vars := append([]string{
		"TASKER_WORKER_LIB=" + lib, "DATABASE_URL=" + sys.DB.URL, "TASKER__DATABASE__SCHEMA=" + sys.DB.Schema,
		"TASKER_ENV=test", "TASKER_TEMPLATE_PATH=", "PYTHON_HANDLER_PATH=", "TASKER__WORKER__WEB__ENABLED=false",
		"PYTHONPATH=" + packageDir(t), "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1",
	}, extra...)
	return &env{sys: sys, c: c, vars: vars, templates: []string{fixtures, own},
		handlers: []string{referenceDir(t), filepath.Join(packageDir(t), "examples"), filepath.Join(packageDir(t), "tests", "e2e_handlers")}}
}

// worker starts a Python worker serving every template of the env.
func (e *env) worker(t testing.TB, args ...string) *worker {
	t.Helper()
	var all []string
	for _, d := range e.handlers {
		all = append(all, "--handlers", d)
	}
	for _, d := range e.templates {
		all = append(all, "--templates", d)
	}
	return startWorker(t, e.vars, append(all, args...)...)
}

// create submits a task.
func (e *env) create(t testing.TB, ns, name, ctx string) (uuid.UUID, error) {
	t.Helper()
	task, err := e.c.CreateTask(e.sys.Ctx, client.TaskRequest{Namespace: ns, Name: name, Version: "1.0.0",
		Context: json.RawMessage(ctx), IdempotencyKey: uuid.NewString()})
	if err != nil {
		return uuid.Nil, err
	}
	return task.TaskUUID, nil
}

// wait waits for a task to finish and returns it with its steps by name.
func (e *env) wait(t testing.TB, id uuid.UUID, within time.Duration) (*client.Task, map[string]client.Step) {
	t.Helper()
	ctx, cancel := context.WithTimeout(e.sys.Ctx, within)
	defer cancel()
	final, err := e.c.Wait(ctx, id, nil)
	require.NoError(t, err, "task %s did not finish", id)
	steps := map[string]client.Step{}
	for _, s := range final.Steps {
		steps[s.Name] = s
	}
	return final, steps
}

// field reads a dotted path out of a step's result.
func field(t *testing.T, s client.Step, path string) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(s.Result(), &v), "result of %s: %s", s.Name, s.Results)
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		require.True(t, ok, "%s: %s is not an object in %s", s.Name, path, s.Result())
		v, ok = m[k]
		require.True(t, ok, "%s: no %s in %s", s.Name, path, s.Result())
	}
	return v
}

// near is a float within 1e-9.
type near float64

// fixture is one tasker-core Python fixture run with the values it must produce.
type fixture struct {
	file, ns, name, ctx string
	status              string
	steps               int
	want                map[string]any // "step.path" -> value (numbers as float64 or near)
	attempts            map[string]int
	needs               string   // engine feature the template needs (skipped while task creation refuses it)
	events              []string // the domain events published, in order ("name/mode"), when set
}

var ecommerceCtx = `{"cart_items":[{"product_id":1,"quantity":2},{"product_id":2,"quantity":1}],
	"customer_info":{"email":"customer@example.com","name":"John Doe","phone":"+1-555-0123"},
	"payment_info":{"method":"credit_card","token":"tok_test_valid","amount":124.76}}`

func pythonFixtures(csvPath string) []fixture {
	var out []fixture
	for _, v := range []struct{ sfx, dsl string }{{"_py", ""}, {"_dsl_py", "_dsl"}} {
		s := v.sfx
		d := func(step string) string { // blog steps carry the suffix only in the twins
			if v.dsl == "" {
				return step
			}
			return step + "_dsl_py"
		}
		out = append(out,
			fixture{file: "linear_workflow_handler" + s, ns: "linear_workflow" + s, name: "mathematical_sequence" + s,
				ctx: `{"even_number":6}`, status: "complete", steps: 4, want: map[string]any{
					"linear_step_1" + s + ".result": 36.0, "linear_step_2" + s + ".result": 46.0,
					"linear_step_3" + s + ".result": 138.0, "linear_step_4" + s + ".result": 69.0,
					"linear_step_4" + s + ".operation": "divide"}},
			fixture{file: "diamond_workflow_handler" + s, ns: "diamond_workflow" + s, name: "parallel_computation" + s,
				ctx: `{"even_number":6}`, status: "complete", steps: 4, want: map[string]any{
					"diamond_branch_b" + s + ".result": 61.0, "diamond_branch_c" + s + ".result": 72.0,
					"diamond_end" + s + ".result": 66.5}},
			fixture{file: "success_only" + s, ns: "test_scenarios" + s, name: "success_only" + s, ctx: `{}`,
				status: "complete", steps: 1, want: map[string]any{
					"success_step" + s + ".status": "success", "success_step" + s + ".message": "Step completed successfully"}},
			fixture{file: "retryable_error_only" + s, ns: "test_scenarios" + s, name: "retryable_error_only" + s, ctx: `{}`,
				status: "error", steps: 1, attempts: map[string]int{"retryable_error_step" + s: 2}},
			fixture{file: "permanent_error_only" + s, ns: "test_scenarios" + s, name: "permanent_error_only" + s, ctx: `{}`,
				status: "error", steps: 1, attempts: map[string]int{"permanent_error_step" + s: 1}},
			fixture{file: "method_dispatch" + s, ns: "resolver_tests" + s, name: "method_dispatch" + s,
				ctx: `{"data":{"amount":100.0,"reason":"test_refund"}}`, status: "complete", steps: 4, want: map[string]any{
					"validate_step" + s + ".invoked_method": "validate", "validate_step" + s + ".validated": true,
					"process_step" + s + ".invoked_method": "process", "process_step" + s + ".processed_amount": 110.00000000000001,
					"process_step" + s + ".processing_fee": 10.000000000000014, "refund_step" + s + ".invoked_method": "refund",
					"refund_step" + s + ".refund_amount": 100.0, "refund_step" + s + ".refund_reason": "test_refund",
					"default_call_step" + s + ".invoked_method": "call"}},
			fixture{file: "ecommerce_order_processing" + s, ns: "ecommerce" + s, name: "ecommerce_order_processing" + s,
				ctx: ecommerceCtx, status: "complete", steps: 5, want: map[string]any{
					d("validate_cart") + ".subtotal": near(109.97), d("validate_cart") + ".tax": 8.8,
					d("validate_cart") + ".shipping": 5.99, d("validate_cart") + ".total": near(124.76),
					d("process_payment") + ".status": "completed", d("update_inventory") + ".total_items_reserved": 3.0,
					d("create_order") + ".status": "confirmed", d("send_confirmation") + ".email_sent": true}},
			fixture{file: "data_pipeline_analytics_pipeline" + s, ns: "data_pipeline" + s, name: "analytics_pipeline" + s,
				ctx: `{}`, status: "complete", steps: 8, want: map[string]any{
					d("aggregate_metrics") + ".total_revenue": near(3199.73), d("aggregate_metrics") + ".total_customers": 5.0,
					d("aggregate_metrics") + ".revenue_per_customer": 639.95, d("aggregate_metrics") + ".inventory_turnover_indicator": 5.5647,
					d("generate_insights") + ".health_score.score": 100.0, d("generate_insights") + ".health_score.rating": "Excellent"}},
			fixture{file: "microservices_user_registration" + s, ns: "microservices" + s, name: "user_registration" + s,
				ctx:    `{"user_info":{"email":"new.user@example.com","name":"Test User","plan":"pro","source":"api_test"}}`,
				status: "complete", steps: 5, want: map[string]any{
					d("create_user_account") + ".status": "created", d("setup_billing_profile") + ".price": 29.99,
					d("initialize_preferences") + ".defaults_applied": 8.0, d("update_user_status") + ".status": "active",
					d("update_user_status") + ".registration_summary.preferences_count": 8.0}},
			fixture{file: "payments_process_refund" + s, ns: "payments" + s, name: "payments_process_refund" + s,
				ctx:    `{"payment_id":"pay_abc123","refund_amount":2500,"refund_reason":"customer_request","customer_email":"c@example.com"}`,
				status: "complete", steps: 4, want: map[string]any{
					d("validate_payment_eligibility") + ".original_amount": 3500.0, d("process_gateway_refund") + ".refund_status": "processed",
					d("update_payment_records") + ".payment_status": "refunded", d("notify_customer") + ".delivery_status": "delivered"}},
			fixture{file: "customer_success_process_refund" + s, ns: "customer_success" + s, name: "customer_success_process_refund" + s,
				ctx: `{"ticket_id":"TICKET-9001","customer_id":"CUST-42","refund_amount":4999,"refund_reason":"defective",
					"customer_email":"customer@example.com","correlation_id":"cs-fixed"}`,
				status: "complete", steps: 5, want: map[string]any{
					d("validate_refund_request") + ".customer_tier": "standard", d("check_refund_policy") + ".days_since_purchase": 30.0,
					d("get_manager_approval") + ".approval_required": true, d("execute_refund_workflow") + ".correlation_id": "cs-fixed",
					d("update_ticket_status") + ".new_status": "resolved"}},
			fixture{file: "domain_event_publishing" + s, ns: "domain_events" + s, name: "domain_event_publishing" + s,
				ctx:    `{"order_id":"7c0e5f4e-3c2b-4d7e-9a51-0f6a1f0b2c3d","customer_id":"CUST-1","amount":99.5}`,
				status: "complete", steps: 4, want: map[string]any{
					"domain_events_py_validate_order" + v.dsl + ".validated":  true,
					"domain_events_py_process_payment" + v.dsl + ".amount":    99.5,
					"domain_events_py_send_notification" + v.dsl + ".channel": "email"},
				events: []string{"order.validated/fast", "payment.processed/durable", "inventory.updated/fast", "notification.sent/fast"}},
			fixture{file: "conditional_approval_handler" + s, ns: "conditional_approval" + s, name: "approval_routing" + s,
				ctx: `{"amount":500,"requester":"ann","purpose":"laptops"}`, status: "complete", steps: 4,
				want: map[string]any{"finalize_approval" + s + ".final_status": "approved", "finalize_approval" + s + ".approval_count": 1.0}},
			fixture{file: "batch_processing" + s, ns: "csv_processing" + s, name: "csv_product_inventory_analyzer" + s,
				ctx: fmt.Sprintf(`{"csv_file_path":%q}`, csvPath), status: "complete", steps: 7,
				want: map[string]any{"aggregate_csv_results" + s + ".total_processed": 1000.0, "aggregate_csv_results" + s + ".worker_count": 5.0,
					"aggregate_csv_results" + s + ".total_inventory_value": near(35588047.0)}},
		)
	}
	for _, s := range []string{"", "_dsl"} {
		step := "aggregate_results"
		if s != "" {
			step += "_dsl_py"
		}
		out = append(out, fixture{file: "checkpoint_yield_test" + s, ns: "python_e2e_checkpoint_yield", name: "checkpoint_yield_test" + s,
			ctx: `{"total_items":100,"items_per_checkpoint":25}`, status: "complete", steps: 3,
			want: map[string]any{step + ".total_processed": 100.0, step + ".running_total": 5050.0, step + ".checkpoints_used": 4.0}})
	}
	return out
}

// TestFixtureWorkflows runs every Python fixture template of tasker-core,
// unchanged, through a Python worker running tasker-core's own handler files
// and the handlers in examples/, and checks each result.
func TestFixtureWorkflows(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Python worker")
	}
	e := newEnv(t)
	w := e.worker(t, "--concurrency", "8")
	csv := filepath.Join(testdb.FixturesDir(t), "products.csv")
	for _, fc := range pythonFixtures(csv) {
		t.Run(fc.file, func(t *testing.T) {
			id, err := e.create(t, fc.ns, fc.name, fc.ctx)
			var apiErr *client.Error
			if fc.needs != "" && errors.As(err, &apiErr) && apiErr.Status == 422 {
				t.Skipf("waiting for %s in the engine: %v", fc.needs, err)
			}
			require.NoError(t, err)
			final, steps := e.wait(t, id, 60*time.Second)
			require.Equal(t, fc.status, final.Status, "steps: %+v", steps)
			require.Len(t, steps, fc.steps)
			if fc.status == "complete" {
				for name, s := range steps {
					require.Equal(t, "complete", s.CurrentState, name)
				}
			}
			for name, n := range fc.attempts {
				require.Equal(t, n, steps[name].Attempts, "attempts of %s", name)
				if fc.status == "error" {
					require.Equal(t, "error", steps[name].CurrentState, name)
				}
			}
			for key, want := range fc.want {
				step, path, _ := strings.Cut(key, ".")
				s, ok := steps[step]
				require.True(t, ok, "no step %s", step)
				got := field(t, s, path)
				if f, isNear := want.(near); isNear {
					require.InDelta(t, float64(f), got, 1e-6, key)
					continue
				}
				require.Equal(t, want, got, key)
			}
			if fc.events != nil {
				evs, err := e.c.DomainEvents(e.sys.Ctx, id, 0)
				require.NoError(t, err)
				var got []string
				for _, ev := range evs {
					got = append(got, ev.EventName+"/"+ev.Metadata.DeliveryMode)
				}
				t.Logf("events: %q", got)
				require.Equal(t, fc.events, got, "domain events of tasker-core's handlers, published with their results")
			}
			if fc.status == "complete" {
				var meta struct {
					Metadata struct {
						WorkerID string `json:"worker_id"`
					} `json:"metadata"`
				}
				for _, s := range steps {
					require.NoError(t, json.Unmarshal(s.Results, &meta))
					require.Equal(t, w.id, meta.Metadata.WorkerID, "step %s ran on the Python worker", s.Name)
				}
			}
		})
	}
}

// stepError is the error part of a stored step result.
type stepError struct {
	Error struct {
		Message   string   `json:"message"`
		ErrorType string   `json:"error_type"`
		Retryable bool     `json:"retryable"`
		Backtrace []string `json:"backtrace"`
	} `json:"error"`
}

// TestErrorKinds: a raised PermanentError fails at once (tasker-core retried
// it), a RetryableError is retried to max_attempts after its Retry-After, an
// uncaught exception is retried, a handler that never returns is failed by
// the step timeout, and the worker keeps working after all of them:
// checkpoint yields and an async handler still run.
func TestErrorKinds(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Python worker")
	}
	e := newEnv(t)
	e.worker(t, "--concurrency", "4")

	run := func(name, step string) (client.Step, stepError) {
		id, err := e.create(t, "python_e2e", name, `{}`)
		require.NoError(t, err)
		final, steps := e.wait(t, id, 60*time.Second)
		require.Equal(t, "error", final.Status, name)
		s := steps[step]
		require.Equal(t, "error", s.CurrentState, step)
		var se stepError
		require.NoError(t, json.Unmarshal(s.Results, &se), "%s: %s", step, s.Results)
		return s, se
	}
	s, perm := run("python_raises_permanent", "raises_permanent")
	require.Equal(t, 1, s.Attempts, "a PermanentError is not retried")
	require.Equal(t, "card declined for good", perm.Error.Message)
	require.Equal(t, "PermanentError", perm.Error.ErrorType)
	require.False(t, perm.Error.Retryable)
	s, retry := run("python_raises_retryable", "raises_retryable")
	require.Equal(t, 3, s.Attempts)
	require.Equal(t, "gateway busy (attempt 3)", retry.Error.Message)
	require.True(t, retry.Error.Retryable)
	audit, err := e.c.StepAudit(e.sys.Ctx, s.TaskUUID, s.StepUUID)
	require.NoError(t, err)
	require.Len(t, audit, 3)
	for i := 1; i < len(audit); i++ { // the template's backoff is 50-200 ms; retry_after=1 asks for 1 s
		require.GreaterOrEqual(t, audit[i].RecordedAt.Sub(audit[i-1].RecordedAt), 900*time.Millisecond, "attempt %d came before its Retry-After", i+1)
	}
	s, uncaught := run("python_raises_uncaught", "raises_uncaught")
	require.Equal(t, 2, s.Attempts)
	require.Equal(t, "KeyError", uncaught.Error.ErrorType)
	require.NotEmpty(t, uncaught.Error.Backtrace)

	id, err := e.create(t, "python_e2e", "python_hang", `{}`)
	require.NoError(t, err)
	final, steps := e.wait(t, id, 60*time.Second)
	require.Equal(t, "error", final.Status)
	require.Equal(t, 2, steps["never_returns"].Attempts, "each attempt ends at the step timeout")
	require.Equal(t, "error", steps["never_returns"].CurrentState)
	t.Logf("never_returns: %s", steps["never_returns"].Results)

	id, err = e.create(t, "python_e2e", "python_checkpoint", `{"total":35}`)
	require.NoError(t, err)
	final, steps = e.wait(t, id, 30*time.Second)
	require.Equal(t, "complete", final.Status)
	require.Equal(t, 1, steps["count"].Attempts, "yielding does not count as an attempt")
	require.Equal(t, 630.0, field(t, steps["count"], "sum"), "1+2+...+35 across four runs")
	require.Equal(t, 4.0, field(t, steps["count"], "runs"))
	require.Equal(t, 3.0, field(t, steps["count"], "history"), "three checkpoints were stored")

	id, err = e.create(t, "python_e2e", "python_async", `{"n":7}`)
	require.NoError(t, err)
	final, steps = e.wait(t, id, 30*time.Second)
	require.Equal(t, "complete", final.Status, "the worker still runs steps after the hung ones")
	require.Equal(t, 7.0, field(t, steps["awaits"], "n"))
	require.Equal(t, true, field(t, steps["awaits"], "async"))
}

// waitState polls until the task's only step reaches state.
func (e *env) waitState(t *testing.T, id uuid.UUID, state string) {
	t.Helper()
	require.Eventually(t, func() bool {
		steps, err := e.c.Steps(e.sys.Ctx, id)
		return err == nil && len(steps) == 1 && steps[0].CurrentState == state
	}, 60*time.Second, 20*time.Millisecond, "step never reached %s", state)
}

// TestWorkerKilledMidStep: a Python worker is SIGKILLed while its step runs;
// the step is reclaimed by a second Python worker and the task completes.
func TestWorkerKilledMidStep(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Python workers")
	}
	e := newEnv(t, "TASKER__WORKER__CLAIMS__VISIBILITY_TIMEOUT=2s", "TASKER__WORKER__CLAIMS__HEARTBEAT_INTERVAL=500ms")
	victim := e.worker(t, "--worker-id", "py-victim")
	id, err := e.create(t, "python_e2e", "python_slow", `{"sleep_ms":3000}`)
	require.NoError(t, err)
	e.waitState(t, id, "in_progress")
	victim.stop(syscall.SIGKILL, 5*time.Second)

	rescuer := e.worker(t, "--worker-id", "py-rescuer")
	final, steps := e.wait(t, id, 60*time.Second)
	require.Equal(t, "complete", final.Status)
	require.Equal(t, 2, steps["nap"].Attempts, "the killed attempt counts")
	var res struct {
		Metadata struct {
			WorkerID string `json:"worker_id"`
		} `json:"metadata"`
	}
	require.NoError(t, json.Unmarshal(steps["nap"].Results, &res))
	require.Equal(t, rescuer.id, res.Metadata.WorkerID)
}

// TestSigtermDrainsAndHandsBack: SIGTERM while steps run; the worker exits
// within 5 s, finishing the short steps and releasing the long one, which a
// second worker completes: nothing is lost.
func TestSigtermDrainsAndHandsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Python workers")
	}
	e := newEnv(t, "TASKER__WORKER__CLAIMS__VISIBILITY_TIMEOUT=2s", "TASKER__WORKER__CLAIMS__HEARTBEAT_INTERVAL=500ms")
	first := e.worker(t, "--worker-id", "py-first", "--concurrency", "4")
	var ids []uuid.UUID
	for _, ms := range []int{1000, 1000, 8000} {
		id, err := e.create(t, "python_e2e", "python_slow", fmt.Sprintf(`{"sleep_ms":%d}`, ms))
		require.NoError(t, err)
		ids = append(ids, id)
	}
	for _, id := range ids {
		e.waitState(t, id, "in_progress")
	}
	took := first.stop(syscall.SIGTERM, 10*time.Second)
	t.Logf("SIGTERM to exit: %s", took)
	require.Less(t, took, 5*time.Second)
	require.Contains(t, first.output(), "tasker_core.worker stopped")
	require.Regexp(t, `msg="received SIGTERM, shutting down" .*source=python logger=tasker_core.worker`, first.output(),
		"Python logging goes into the worker's structured log")

	e.worker(t, "--worker-id", "py-second")
	for i, id := range ids {
		final, steps := e.wait(t, id, 60*time.Second)
		require.Equal(t, "complete", final.Status, "task %d", i)
		var res struct {
			Metadata struct {
				WorkerID string `json:"worker_id"`
			} `json:"metadata"`
		}
		require.NoError(t, json.Unmarshal(steps["nap"].Results, &res))
		if i < 2 {
			require.Equal(t, "py-first", res.Metadata.WorkerID, "short steps finish during the drain")
		} else {
			require.Equal(t, "py-second", res.Metadata.WorkerID, "the long step was handed back")
		}
	}
}

// TestTenThousandSteps pushes 10,000 steps (1,000 tasks of ten) through one
// Python worker, sampling its resident memory; the numbers are logged.
func TestTenThousandSteps(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 steps")
	}
	e := newEnv(t, "TASKER__WORKER__HANDLERS__ADAPTIVE=false")
	w := e.worker(t, "--concurrency", "16")
	const tasks = 1000
	var samples []int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				samples = append(samples, w.rssKB())
			}
		}
	}()
	// At most 200 tasks (2,000 steps) outstanding keeps the queue under the
	// orchestrator's admission limit.
	start := time.Now()
	window := make(chan struct{}, 200)
	failures := make(chan error, tasks)
	var complete atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < tasks; i++ {
		window <- struct{}{}
		id, err := e.create(t, "python_e2e", "python_fanout", `{}`)
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-window }()
			ctx, cancel := context.WithTimeout(e.sys.Ctx, 5*time.Minute)
			defer cancel()
			final, err := e.c.Wait(ctx, id, nil)
			switch {
			case err != nil:
				failures <- err
			case final.Status != "complete" || len(final.Steps) != 10:
				failures <- fmt.Errorf("task %s: %s with %d steps", id, final.Status, len(final.Steps))
			default:
				complete.Add(1)
			}
		}()
	}
	wg.Wait()
	close(failures)
	for err := range failures {
		require.NoError(t, err)
	}
	elapsed := time.Since(start)
	cpu := w.cpuSeconds()
	close(stop)
	<-done
	require.EqualValues(t, tasks, complete.Load())
	require.NotEmpty(t, samples)
	sorted := append([]int64(nil), samples...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	first, last, peak := samples[0], samples[len(samples)-1], sorted[len(sorted)-1]
	t.Logf("10,000 Python steps in %s (%.0f steps/s); worker process CPU %.1f s (%.2f ms/step, the Go library included); RSS first %d KiB, median %d KiB, peak %d KiB, last %d KiB (%d samples)",
		elapsed.Round(time.Millisecond), 10000/elapsed.Seconds(), cpu, cpu/10, first, sorted[len(sorted)/2], peak, last, len(samples))
	// Bounded, not timed: a leak of even 10 KiB per step would add ~100 MiB.
	require.Less(t, float64(peak-first), math.Max(64*1024, float64(first)), "worker memory kept growing")
}
