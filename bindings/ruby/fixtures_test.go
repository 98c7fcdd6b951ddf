package ruby_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/shared/testdb"
)

// rubyCase is one fixture template run with its input and what must come
// out: checks are JSON pointers into a step's result ("" = the whole value)
// and the JSON they must equal.
type rubyCase struct {
	file     string
	ctx      string
	status   string
	steps    int
	checks   map[string]map[string]string
	attempts map[string]int
	errored  []string
	needs    string // an engine feature the template needs; skipped while task creation is refused
	// events are the domain events published, in order ("name/mode"), when set.
	events []string
}

const (
	// tasker-core's Ruby order-fulfillment template requires customer, items,
	// payment and shipping while its handlers read customer_info,
	// order_items, payment_info and shipping_info: a task needs both.
	orderCtx = `{"customer_info":{"id":42,"email":"grace@example.com"},
		"order_items":[{"product_id":101,"quantity":2,"price":29.99},{"product_id":103,"quantity":1,"price":49.99}],
		"payment_info":{"method":"credit_card","token":"tok_test"},"shipping_info":{"address":"1 Navy Way","method":"express"},
		"customer":{"id":42,"name":"Grace Hopper","email":"grace@example.com"},
		"items":[{"sku":"101","quantity":2,"price":29.99},{"sku":"103","quantity":1,"price":49.99}],
		"payment":{"method":"credit_card","token":"tok_test"},"shipping":{"method":"express","address":{"street":"1 Navy Way"}}}`
	cartCtx = `{"cart_items":[{"product_id":1,"quantity":2},{"product_id":2,"quantity":1}],
		"customer_info":{"email":"customer@example.com","name":"John Doe","phone":"+1-555-0123"},
		"payment_info":{"method":"credit_card","token":"tok_test_valid","amount":124.76}}`
	userCtx     = `{"user_info":{"email":"ada@example.com","name":"Ada","plan":"pro","source":"web"}}`
	paymentsCtx = `{"payment_id":"pay_abc123","refund_amount":2999,"refund_reason":"customer_request",
		"customer_email":"customer@example.com","partial_refund":false}`
	supportCtx = `{"ticket_id":"TICKET-9001","customer_id":"CUST-123","refund_amount":2999,
		"refund_reason":"Product defective","customer_email":"c@example.com"}`
	sixToThe16th = "2821109907456"
	twoToThe64th = "18446744073709551616"
)

// rubyCases: tasker-core's Ruby fixture templates (each with its
// functional-DSL twin, whose step names end in _dsl) and the results
// tasker-core's Ruby handlers compute.
func rubyCases(productsCSV string) []rubyCase {
	var cases []rubyCase
	twin := func(c rubyCase) {
		cases = append(cases, c)
		d := c
		d.file = c.file[:len(c.file)-len(".yaml")] + "_dsl.yaml"
		d.checks, d.attempts, d.errored = map[string]map[string]string{}, map[string]int{}, nil
		for s, v := range c.checks {
			d.checks[s+"_dsl"] = v
		}
		for s, v := range c.attempts {
			d.attempts[s+"_dsl"] = v
		}
		for _, s := range c.errored {
			d.errored = append(d.errored, s+"_dsl")
		}
		cases = append(cases, d)
	}
	twin(rubyCase{file: "linear_workflow_handler.yaml", ctx: `{"even_number":6}`, status: "complete", steps: 4,
		checks: map[string]map[string]string{"linear_step_1": {"": "36"}, "linear_step_4": {"": sixToThe16th}}})
	twin(rubyCase{file: "diamond_workflow_handler.yaml", ctx: `{"even_number":6}`, status: "complete", steps: 4,
		checks: map[string]map[string]string{"diamond_end": {"": sixToThe16th}}})
	twin(rubyCase{file: "mixed_dag_workflow_handler.yaml", ctx: `{"even_number":2}`, status: "complete", steps: 7,
		checks: map[string]map[string]string{"dag_validate": {"": "65536"}, "dag_finalize": {"": twoToThe64th}}})
	twin(rubyCase{file: "tree_workflow_handler.yaml", ctx: `{"even_number":2}`, status: "complete", steps: 8,
		checks: map[string]map[string]string{"tree_final_convergence": {"": twoToThe64th}}})
	twin(rubyCase{file: "success_only.yaml", ctx: `{}`, status: "complete", steps: 1,
		checks: map[string]map[string]string{"success_step": {"/status": `"success"`, "/message": `"Step completed successfully"`}}})
	twin(rubyCase{file: "permanent_error_only.yaml", ctx: `{}`, status: "error", steps: 1,
		errored: []string{"permanent_error_step"}, attempts: map[string]int{"permanent_error_step": 1}})
	twin(rubyCase{file: "retryable_error_only.yaml", ctx: `{}`, status: "error", steps: 1,
		errored: []string{"retryable_error_step"}, attempts: map[string]int{"retryable_error_step": 2}})
	twin(rubyCase{file: "error_testing_handler.yaml", ctx: `{}`, status: "error", steps: 3, errored: []string{"permanent_error_step"}})
	cases = append(cases, rubyCase{file: "method_dispatch.yaml", ctx: `{"data":{"amount":100.0,"reason":"test_refund"}}`,
		status: "complete", steps: 4, checks: map[string]map[string]string{
			"validate_step":     {"/invoked_method": `"validate"`, "/validated": "true"},
			"process_step":      {"/invoked_method": `"process"`, "/processed_amount": "110.00000000000001", "/processing_fee": "10.000000000000014"},
			"refund_step":       {"/invoked_method": `"refund"`, "/refund_amount": "100.0", "/refund_reason": `"test_refund"`},
			"default_call_step": {"/invoked_method": `"call"`},
		}})
	cases = append(cases, rubyCase{file: "method_dispatch_dsl.yaml", ctx: `{"data":{"amount":100.0,"reason":"test_refund"}}`,
		status: "complete", steps: 4, checks: map[string]map[string]string{
			"process_step_dsl": {"/invoked_method": `"process"`, "/processed_amount": "110.00000000000001"},
			"refund_step_dsl":  {"/refund_reason": `"test_refund"`},
		}})
	cases = append(cases, rubyCase{file: "order_fulfillment_handler.yaml", ctx: orderCtx, status: "complete", steps: 4,
		checks: map[string]map[string]string{
			"validate_order":    {"/order_total": "109.97", "/validated_items/0/product_name": `"Premium Widget A"`},
			"reserve_inventory": {"/items_reserved": "2", "/reservation_status": `"confirmed"`},
			"process_payment":   {"/payment_status": `"completed"`, "/amount_charged": "109.97"},
			"ship_order":        {"/carrier": `"FedEx"`, "/service_type": `"FedEx Express"`, "/shipping_cost": "16.25"},
		}})
	cases = append(cases, rubyCase{file: "order_fulfillment_handler_dsl.yaml", ctx: orderCtx, status: "complete", steps: 4,
		checks: map[string]map[string]string{"ship_order_dsl": {"/carrier": `"UPS"`, "/shipping_cost": "8.99"}}})
	twin(rubyCase{file: "ecommerce_order_processing.yaml", ctx: cartCtx, status: "complete", steps: 5,
		checks: map[string]map[string]string{
			"validate_cart":     {"/subtotal": "109.97", "/tax": "8.8", "/shipping": "5.99", "/total": "124.76"},
			"update_inventory":  {"/total_items_reserved": "3"},
			"create_order":      {"/status": `"confirmed"`, "/total_amount": "124.76"},
			"send_confirmation": {"/email_sent": "true", "/recipient": `"customer@example.com"`},
		}})
	cases = append(cases, rubyCase{file: "data_pipeline_analytics_pipeline.yaml", ctx: `{}`, status: "complete", steps: 8,
		checks: map[string]map[string]string{
			"aggregate_metrics": {"/total_revenue": "3199.73", "/total_inventory_quantity": "575", "/revenue_per_customer": "639.95"},
			"generate_insights": {"/health_score": `{"score":100,"max_score":100,"rating":"Excellent"}`},
		}})
	cases = append(cases, rubyCase{file: "data_pipeline_analytics_pipeline_dsl.yaml", ctx: `{}`, status: "complete", steps: 8,
		checks: map[string]map[string]string{"aggregate_metrics_dsl": {"/sales_summary": `{"total_revenue":3199.73,"record_count":5}`}}})
	twin(rubyCase{file: "microservices_user_registration.yaml", ctx: userCtx, status: "complete", steps: 5,
		checks: map[string]map[string]string{
			"setup_billing_profile":  {"/price": "29.99", "/plan": `"pro"`},
			"initialize_preferences": {"/defaults_applied": "8"},
			"send_welcome_sequence":  {"/channels_used": `["email","in_app"]`},
			"update_user_status":     {"/status": `"active"`},
		}})
	twin(rubyCase{file: "payments_process_refund.yaml", ctx: paymentsCtx, status: "complete", steps: 4,
		checks: map[string]map[string]string{
			"validate_payment_eligibility": {"/original_amount": "3999"},
			"notify_customer":              {"/delivery_status": `"delivered"`, "/refund_amount": "2999"},
		}})
	twin(rubyCase{file: "customer_success_process_refund.yaml", ctx: supportCtx, status: "complete", steps: 5,
		checks: map[string]map[string]string{
			"check_refund_policy":  {"/customer_tier": `"standard"`, "/requires_approval": "true"},
			"update_ticket_status": {"/new_status": `"resolved"`},
		}})
	for _, amount := range []struct {
		n     int
		steps int
		path  string
	}{{500, 4, "auto"}, {2500, 4, "manager_only"}, {10000, 5, "dual_approval"}} {
		twin(rubyCase{file: "conditional_approval_handler.yaml",
			ctx:    fmt.Sprintf(`{"amount":%d,"requester":"grace","purpose":"new laptops"}`, amount.n),
			status: "complete", steps: amount.steps,
			checks: map[string]map[string]string{"finalize_approval": {"/approval_path": fmt.Sprintf("%q", amount.path)}}})
	}
	csvCtx, _ := json.Marshal(map[string]string{"csv_file_path": productsCSV})
	twin(rubyCase{file: "batch_processing_products_csv.yaml", ctx: string(csvCtx), status: "complete", steps: 7,
		checks: map[string]map[string]string{"aggregate_csv_results": {"/total_processed": "1000", "/total_inventory_value": "35588047.0",
			"/max_price_product": `"Rolex Submariner Watch"`, "/overall_average_rating": "3.85", "/worker_count": "5"}}})
	twin(rubyCase{file: "checkpoint_yield_test.yaml", ctx: `{"total_items":100,"items_per_checkpoint":25}`,
		status: "complete", steps: 3,
		checks: map[string]map[string]string{"aggregate_results": {"/total_processed": "100", "/running_total": "5050"}}})
	twin(rubyCase{file: "domain_event_publishing.yaml",
		ctx: `{"order_id":"ORD-1","customer_id":"CUST-1","amount":99.5}`, status: "complete", steps: 4,
		checks: map[string]map[string]string{"domain_events_process_payment": {"/amount": "99.5", "/status": `"success"`}},
		events: []string{"order.validated/fast", "payment.processed/durable", "inventory.updated/fast", "notification.sent/fast"}})
	return cases
}

// TestRubyFixtureWorkflows runs tasker-core's Ruby fixture templates on a
// Ruby worker (tasker-core's handler files, unchanged, plus this gem's
// examples) and checks every result.
func TestRubyFixtureWorkflows(t *testing.T) {
	cases := rubyCases(testdb.Fixture(t, "products.csv"))
	var files []string
	seen := map[string]bool{}
	for _, c := range cases {
		if !seen[c.file] {
			seen[c.file] = true
			files = append(files, fixturePath(t, c.file))
		}
	}
	rs := startRubySystem(t, files)
	rs.startWorker(t, "ruby-fixtures", nil, "--concurrency", "4")
	for i, fc := range cases {
		t.Run(fmt.Sprintf("%02d %s", i, fc.file), func(t *testing.T) {
			t.Logf("context %s", fc.ctx)
			tpl := rs.byFile[fc.file]
			task, err := rs.client.CreateTask(rs.sys.Ctx, client.TaskRequest{Namespace: tpl.NamespaceName, Name: tpl.Name,
				Version: tpl.Version, Context: json.RawMessage(fc.ctx), IdempotencyKey: fmt.Sprintf("ruby-fixture-%d", i)})
			var apiErr *client.Error
			if fc.needs != "" && errors.As(err, &apiErr) && apiErr.Status == http.StatusUnprocessableEntity {
				t.Skipf("waiting for %s in the engine: %v", fc.needs, err)
			}
			require.NoError(t, err)
			waitCtx, cancel := context.WithTimeout(rs.sys.Ctx, 90*time.Second)
			defer cancel()
			final, err := rs.client.Wait(waitCtx, task.TaskUUID, nil)
			require.NoError(t, err)
			steps := map[string]client.Step{}
			for _, s := range final.Steps {
				steps[s.Name] = s
			}
			require.Equal(t, fc.status, final.Status, "steps: %v", stepStates(final.Steps))
			require.Len(t, final.Steps, fc.steps)
			for name, n := range fc.attempts {
				require.Equal(t, n, steps[name].Attempts, "attempts of %s", name)
			}
			for _, name := range fc.errored {
				require.Equal(t, "error", steps[name].CurrentState, name)
			}
			if fc.status == "complete" {
				for name, s := range steps {
					require.Equal(t, "complete", s.CurrentState, name)
				}
			}
			if fc.events != nil {
				evs, err := rs.client.DomainEvents(rs.sys.Ctx, task.TaskUUID, 0)
				require.NoError(t, err)
				var got []string
				for _, ev := range evs {
					got = append(got, ev.EventName+"/"+ev.Metadata.DeliveryMode)
				}
				t.Logf("events: %q", got)
				require.Equal(t, fc.events, got, "domain events of tasker-core's handlers, published with their results")
			}
			for name, checks := range fc.checks {
				s, ok := steps[name]
				require.True(t, ok, "no step %s", name)
				for ptr, want := range checks {
					got, err := pointer(s.Result(), ptr)
					require.NoError(t, err, "%s result %s", name, s.Result())
					requireJSONEqual(t, want, got, name+ptr)
				}
			}
		})
	}
}

func stepStates(steps []client.Step) map[string]string {
	out := map[string]string{}
	for _, s := range steps {
		out[s.Name] = fmt.Sprintf("%s (attempts %d) %s", s.CurrentState, s.Attempts, s.FailureMessage())
	}
	return out
}

// TestRubyServesTheBenchTemplates: with examples/bench, a Ruby worker runs
// the native example templates `tasker bench` uses (registered by the test
// system), and skips the namespaces it has no handlers for.
func TestRubyServesTheBenchTemplates(t *testing.T) {
	rs := startRubySystem(t, nil)
	native, err := filepath.Abs(filepath.Join("..", "..", "workers", "native", "templates"))
	require.NoError(t, err)
	rs.templates = native
	rs.handlers = []string{filepath.Join("examples", "bench")}
	w := rs.startWorker(t, "ruby-bench", nil)
	for _, sc := range []struct{ ns, name, ctx, last, want string }{
		{"examples_linear", "square_chain", `{"even_number":6}`, "linear_step_4", sixToThe16th},
		{"examples_diamond", "square_diamond", `{"even_number":6}`, "diamond_end", sixToThe16th},
		{"examples_dag", "mixed_dag", `{"even_number":2}`, "dag_finalize", twoToThe64th},
		{"examples_tree", "square_tree", `{"even_number":2}`, "tree_final_convergence", twoToThe64th},
	} {
		task, err := rs.client.CreateTask(rs.sys.Ctx, client.TaskRequest{Namespace: sc.ns, Name: sc.name, Version: "1.0.0",
			Context: json.RawMessage(sc.ctx)})
		require.NoError(t, err)
		final := rs.wait(t, task.TaskUUID)
		require.Equal(t, "complete", final.Status, "%s: %v", sc.name, stepStates(final.Steps))
		for _, s := range final.Steps {
			if s.Name == sc.last {
				requireJSONEqual(t, sc.want, s.Result(), sc.name)
			}
		}
	}
	// examples_slow's handler is not among the Ruby bench handlers: its
	// step is left in the queue for a worker that has it (reported as
	// unserved), not failed by the Ruby worker.
	slow, err := rs.client.CreateTask(rs.sys.Ctx, client.TaskRequest{Namespace: "examples_slow", Name: "slow_step", Version: "1.0.0",
		Context: json.RawMessage(`{"sleep_ms": 1}`)})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		h, err := rs.client.DetailedHealth(rs.sys.Ctx)
		return err == nil && len(h.UnservedSteps) == 1 && h.UnservedSteps[0].Callable == "Examples::SleepHandler"
	}, time.Minute, 50*time.Millisecond)
	steps, err := rs.client.Steps(rs.sys.Ctx, slow.TaskUUID)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"nap": "enqueued (attempts 0) "}, stepStates(steps))
	require.NotContains(t, w.output(), "handler_not_found")
}
