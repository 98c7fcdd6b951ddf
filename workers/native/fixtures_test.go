package native

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/template"
)

// fixturesDir is where tasker-core's task templates live beside the
// repository (tests read them in place; they are not copied into the repository).
var fixturesDir = filepath.Join("..", "..", "..", "shared", "fixtures", "tasker-core", "task_templates")

// coveredFixtures are the fixture files whose workflows this package
// implements; every callable in them must have a handler.
var coveredFixtures = []string{
	"rust/mathematical_sequence.yaml",
	"rust/diamond_pattern.yaml",
	"rust/hierarchical_tree.yaml",
	"rust/complex_dag.yaml",
	"rust/business_workflow.yaml",
	"rust/retry_mechanics_test.yaml",
	"rust/retry_exhaustion_test.yaml",
	"rust/boundary_max_attempts_zero.yaml",
	"rust/boundary_max_attempts_one.yaml",
	"rust/boundary_max_attempts_three.yaml",
	"rust/boundary_non_retryable_first.yaml",
	"rust/boundary_non_retryable_retries.yaml",
	"rust/dlq_staleness_test.yaml",
	"rust/ecommerce_order_processing_rs.yaml",
	"rust/data_pipeline_analytics_pipeline_rs.yaml",
	"rust/microservices_user_registration_rs.yaml",
	"rust/payments_process_refund_rs.yaml",
	"rust/customer_success_process_refund_rs.yaml",
	"rust/domain_event_publishing.yaml",
	"rust/method_dispatch_rust.yaml",
	"rust/conditional_approval_rust.yaml",
	"ruby/error_testing_handler.yaml",
	"ruby/permanent_error_only.yaml",
	"ruby/retryable_error_only.yaml",
	"ruby/success_only.yaml",
	"rust/batch_processing_products_csv.yaml",
	"rust/batch_processing_example.yaml",
	"rust/batch_resumption_test.yaml",
	"ruby/checkpoint_yield_test.yaml",
	"rust/diamond_decision_batch.yaml",
}

// fixture parses one fixture file (with its test-environment overrides),
// skipping the test when the fixtures are absent.
func fixture(t *testing.T, rel string) *template.Template {
	t.Helper()
	requireFixtures(t)
	ts, err := template.ParseFile(filepath.Join(fixturesDir, rel), template.ParseOptions{Environment: "test"})
	require.NoError(t, err, rel)
	require.Len(t, ts, 1, rel)
	require.NoError(t, ts[0].Validate(), rel)
	return ts[0]
}

func requireFixtures(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(fixturesDir); err != nil {
		t.Skipf("tasker-core fixtures not found at %s (%v); skipping fixture tests", fixturesDir, err)
	}
}

func TestRegisterCoversFixtureCallables(t *testing.T) {
	requireFixtures(t)
	r := registry(t)
	for _, rel := range coveredFixtures {
		tmpl := fixture(t, rel)
		for _, s := range tmpl.Steps {
			_, ok := r.Lookup(s.Handler.Callable)
			require.True(t, ok, "%s step %s: no handler for callable %q", rel, s.Name, s.Handler.Callable)
		}
	}

	// For the record: the Rust fixtures' callables left to the batch,
	// decision-point and checkpoint work (they need orchestrator support).
	files, err := filepath.Glob(filepath.Join(fixturesDir, "rust", "*.yaml"))
	require.NoError(t, err)
	var missing []string
	for _, f := range files {
		ts, err := template.ParseFile(f, template.ParseOptions{})
		require.NoError(t, err, f)
		for _, tmpl := range ts {
			for _, s := range tmpl.Steps {
				if _, ok := r.Lookup(s.Handler.Callable); !ok && !slices.Contains(missing, s.Handler.Callable) {
					missing = append(missing, s.Handler.Callable)
				}
			}
		}
	}
	slices.Sort(missing)
	t.Logf("Rust fixture callables without a Go handler (batch/decision/checkpoint workflows): %d", len(missing))
	for _, c := range missing {
		t.Logf("  %s", c)
	}
}

func TestRegisterTwiceReportsEveryDuplicate(t *testing.T) {
	r := registry(t)
	err := Register(r)
	require.Error(t, err)
	require.Contains(t, err.Error(), "FailNTimesHandler")
	require.Equal(t, Callables(), r.Callables())
}

// TestFixtureWorkflowsRunUnchanged runs tasker-core's own template files
// with the Go handlers and checks each workflow's answer.
func TestFixtureWorkflowsRunUnchanged(t *testing.T) {
	requireFixtures(t)
	order := map[string]any{
		"customer": map[string]any{"id": 7, "name": "Ada Park", "email": "ada@example.com"},
		"items":    []map[string]any{{"sku": "WIDGET-001", "quantity": 2, "price": 29.99}, {"sku": "WIDGET-002", "quantity": 1, "price": 49.99}},
		"payment":  map[string]any{"method": "credit_card", "token": "tok_ok"},
		"shipping": map[string]any{"method": "overnight", "address": map[string]any{"city": "Springfield"}},
	}
	for _, tc := range []struct {
		file     string
		ctx      any
		complete bool
		step     string // step whose result is checked
		field    string
		want     any
		attempts int
		failed   []string
	}{
		{file: "rust/mathematical_sequence.yaml", ctx: map[string]any{"even_number": 6}, complete: true,
			step: "linear_step_4", field: "result", want: num("2821109907456")},
		{file: "rust/diamond_pattern.yaml", ctx: map[string]any{"even_number": 6}, complete: true,
			step: "diamond_end", field: "result", want: num("2821109907456")},
		{file: "rust/hierarchical_tree.yaml", ctx: map[string]any{"even_number": 2}, complete: true,
			step: "tree_final_convergence", field: "result", want: "18446744073709551616"},
		{file: "rust/complex_dag.yaml", ctx: map[string]any{"even_number": 2}, complete: true,
			step: "dag_finalize", field: "result", want: "18446744073709551616"},
		{file: "rust/business_workflow.yaml", ctx: order, complete: true,
			step: "ship_order", field: "carrier", want: "FedEx"},
		{file: "rust/retry_mechanics_test.yaml", ctx: map[string]any{}, complete: true,
			step: "fail_twice_then_succeed", field: "attempts_before_success", want: num("3"), attempts: 3},
		{file: "rust/retry_exhaustion_test.yaml", ctx: map[string]any{}, step: "always_fail", attempts: 3,
			failed: []string{"always_fail"}},
		{file: "rust/boundary_max_attempts_zero.yaml", ctx: map[string]any{}, complete: true,
			step: "boundary_test_step", field: "noop", want: true, attempts: 1},
		{file: "rust/dlq_staleness_test.yaml", ctx: map[string]any{"test_input": 5}, complete: true,
			step: "dlq_step_2", field: "result", want: num("5")},
		{file: "rust/ecommerce_order_processing_rs.yaml", complete: true, step: "send_confirmation", field: "email_sent", want: true,
			ctx: map[string]any{
				"cart_items":    []map[string]any{{"product_id": 2, "quantity": 1}},
				"customer_info": map[string]any{"email": "bo@example.com", "name": "Bo"},
				"payment_info":  map[string]any{"method": "credit_card", "token": "tok_test_visa", "amount": 59.98},
			}},
		{file: "rust/data_pipeline_analytics_pipeline_rs.yaml", ctx: map[string]any{}, complete: true,
			step: "generate_insights", field: "rating", want: "needs_attention"},
		{file: "rust/microservices_user_registration_rs.yaml", complete: true, step: "update_user_status", field: "status", want: "active",
			ctx: map[string]any{"user_info": map[string]any{"email": "cy@example.com", "name": "Cy", "plan": "enterprise"}}},
		{file: "rust/payments_process_refund_rs.yaml", complete: true, step: "update_payment_records", field: "payment_status", want: "refunded",
			ctx: map[string]any{"payment_id": "pay_123", "refund_amount": 1500, "refund_reason": "customer_request"}},
		{file: "rust/customer_success_process_refund_rs.yaml", complete: true, step: "update_ticket_status", field: "status", want: "resolved",
			ctx: map[string]any{"ticket_id": "T-1", "customer_id": "C-1", "refund_amount": 1500, "customer_email": "eve@example.com"}},
		{file: "rust/domain_event_publishing.yaml", complete: true, step: "domain_events_send_notification", field: "channel", want: "email",
			ctx: map[string]any{"order_id": "6f1c2a4e-8f43-4a55-9a0e-1c6a5c1c0b11", "customer_id": "CUST-1", "amount": 10}},
		{file: "rust/method_dispatch_rust.yaml", complete: true, step: "refund_step_rust", field: "outcome", want: "refunded:late",
			ctx: map[string]any{"data": map[string]any{"amount": 12.5, "reason": "late"}}},
		{file: "ruby/success_only.yaml", ctx: map[string]any{}, complete: true, step: "success_step", field: "status", want: "success"},
		{file: "ruby/permanent_error_only.yaml", ctx: map[string]any{}, step: "permanent_error_step", attempts: 1,
			failed: []string{"permanent_error_step"}},
		{file: "ruby/retryable_error_only.yaml", ctx: map[string]any{}, step: "retryable_error_step", attempts: 2,
			failed: []string{"retryable_error_step"}},
		{file: "ruby/error_testing_handler.yaml", ctx: map[string]any{"scenario_type": "success"}, step: "success_step",
			field: "status", want: "success", failed: []string{"permanent_error_step", "retryable_error_step"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			run := runWorkflow(t, fixture(t, tc.file), tc.ctx)
			require.Equal(t, tc.complete, run.Complete(), "failed steps: %v", run.Failed())
			require.Equal(t, tc.failed, run.Failed())
			if tc.attempts > 0 {
				require.Equal(t, tc.attempts, run.Step(tc.step).Attempts)
			}
			if tc.field != "" {
				require.Equal(t, tc.want, valueOf(t, run.Step(tc.step).Result)[tc.field])
			}
		})
	}
}
