package native

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/worker/workertest"
)

func ecommerceWorkflow() []stepDef {
	return []stepDef{
		{name: "validate_cart", callable: "ecommerce_validate_cart"},
		{name: "process_payment", callable: "ecommerce_process_payment", deps: []string{"validate_cart"}},
		{name: "update_inventory", callable: "ecommerce_update_inventory", deps: []string{"process_payment"}},
		{name: "create_order", callable: "ecommerce_create_order", deps: []string{"update_inventory"}},
		{name: "send_confirmation", callable: "ecommerce_send_confirmation", deps: []string{"create_order"}},
	}
}

func sampleCart(token string) map[string]any {
	return map[string]any{
		"cart_items":    []map[string]any{{"product_id": 1, "quantity": 2}, {"product_id": 3, "quantity": 1}},
		"customer_info": map[string]any{"email": "bo@example.com", "name": "Bo Diaz"},
		"payment_info":  map[string]any{"method": "credit_card", "token": token, "amount": 72.76},
	}
}

func TestEcommerceCheckout(t *testing.T) {
	run := runWorkflow(t, workflow("ecommerce", ecommerceWorkflow()...), sampleCart("tok_test_visa"))
	require.True(t, run.Complete(), "failed: %v", run.Failed())

	var cart validatedCart
	decodeStep(t, run, "validate_cart", &cart)
	require.Equal(t, 79.97, cart.Subtotal) // 2×29.99 + 19.99
	require.Equal(t, 6.40, cart.Tax)       // 8 % of 79.97 = 6.3976
	require.Equal(t, 5.99, cart.Shipping)
	require.Equal(t, 92.36, cart.Total)
	require.Equal(t, 3, cart.ItemCount)

	var pay ecomPayment
	decodeStep(t, run, "process_payment", &pay)
	require.Equal(t, 92.36, pay.AmountCharged)
	require.Regexp(t, `^pay_[0-9A-F]{16}$`, pay.PaymentID)

	var inv inventoryUpdate
	decodeStep(t, run, "update_inventory", &inv)
	require.Equal(t, 3, inv.TotalItems)
	require.Equal(t, 98, inv.UpdatedProducts[0].NewStock)

	var order ecomOrder
	decodeStep(t, run, "create_order", &order)
	require.Regexp(t, `^ORD-[0-9]{8}$`, order.OrderNumber)
	require.Equal(t, pay.PaymentID, order.PaymentID)
	require.Equal(t, 92.36, order.Total)

	var conf confirmation
	decodeStep(t, run, "send_confirmation", &conf)
	require.True(t, conf.EmailSent)
	require.Equal(t, "bo@example.com", conf.Recipient)
	require.Equal(t, order.OrderNumber, conf.OrderNumber)
}

func TestEcommerceFailures(t *testing.T) {
	tmpl := workflow("ecommerce", ecommerceWorkflow()...)

	run := runWorkflow(t, tmpl, sampleCart("tok_test_declined"))
	require.Equal(t, []string{"process_payment"}, run.Failed())
	requireFailure(t, run.Step("process_payment").Result, "PaymentDeclined", false)
	require.False(t, run.Step("update_inventory").Ran())

	run = runWorkflow(t, tmpl, sampleCart("tok_test_gateway_error"))
	require.Equal(t, 3, run.Step("process_payment").Attempts, "a gateway outage is retried")
	requireFailure(t, run.Step("process_payment").Result, "RetryableError", true)

	h := handler(t, "ecommerce_validate_cart")
	for _, items := range [][]map[string]any{
		{},
		{{"product_id": 99, "quantity": 1}},
		{{"product_id": 1, "quantity": 0}},
	} {
		ctx := sampleCart("tok")
		ctx["cart_items"] = items
		requireFailure(t, workertest.Execute(h, workertest.NewStep("validate_cart").WithContext(ctx)), "ValidationError", false)
	}
	ctx := sampleCart("tok")
	ctx["cart_items"] = []map[string]any{{"product_id": 5, "quantity": 1}}
	requireFailure(t, workertest.Execute(h, workertest.NewStep("validate_cart").WithContext(ctx)), "OutOfStock", false)
}

func pipelineWorkflow() []stepDef {
	return []stepDef{
		{name: "extract_sales_data", callable: "data_pipeline_extract_sales"},
		{name: "extract_inventory_data", callable: "data_pipeline_extract_inventory"},
		{name: "extract_customer_data", callable: "data_pipeline_extract_customers"},
		{name: "transform_sales", callable: "data_pipeline_transform_sales", deps: []string{"extract_sales_data"}},
		{name: "transform_inventory", callable: "data_pipeline_transform_inventory", deps: []string{"extract_inventory_data"}},
		{name: "transform_customers", callable: "data_pipeline_transform_customers", deps: []string{"extract_customer_data"}},
		{name: "aggregate_metrics", callable: "data_pipeline_aggregate_metrics", deps: []string{"transform_sales", "transform_inventory", "transform_customers"}},
		{name: "generate_insights", callable: "data_pipeline_generate_insights", deps: []string{"aggregate_metrics"}},
	}
}

func TestDataPipelineAggregates(t *testing.T) {
	run := runWorkflow(t, workflow("pipeline", pipelineWorkflow()...),
		map[string]any{"pipeline_id": "run-7", "date_range": map[string]any{"start_date": "2025-01-01", "end_date": "2025-01-31"}})
	require.True(t, run.Complete(), "failed: %v", run.Failed())

	var sales extractResult[saleRecord]
	decodeStep(t, run, "extract_sales_data", &sales)
	require.Equal(t, 6, sales.RecordCount)
	require.Equal(t, "run-7", sales.PipelineID)
	require.Equal(t, "2025-01-01", sales.DateRange["start_date"])

	var s salesSummary
	decodeStep(t, run, "transform_sales", &s)
	require.Equal(t, 1529.75, s.TotalRevenue)
	require.Equal(t, 25, s.TotalUnits)
	require.Equal(t, "north", s.TopRegion) // 499.95 + 199.90
	require.Equal(t, "PROD-A", s.TopProduct)
	require.Equal(t, 5, s.Customers)
	require.Equal(t, 254.96, s.AverageOrder) // 1529.75 / 6 = 254.958…

	var inv inventorySummary
	decodeStep(t, run, "transform_inventory", &inv)
	require.Equal(t, 450, inv.TotalUnits)
	require.Equal(t, []string{"PROD-A@WH-WEST", "PROD-C@WH-WEST"}, inv.ReorderAlerts)

	var cust customerSummary
	decodeStep(t, run, "transform_customers", &cust)
	require.Equal(t, 15031.50, cust.TotalLifetimeValue)
	require.Equal(t, []string{"CUST-001", "CUST-004"}, cust.HighValueCustomers)
	require.Equal(t, map[string]int{"gold": 2, "silver": 1, "bronze": 2}, cust.ByTier)

	var m metrics
	decodeStep(t, run, "aggregate_metrics", &m)
	require.Equal(t, metrics{
		TotalRevenue: 1529.75, TotalOrders: 6, TotalUnitsSold: 25, TotalInventory: 450, TotalCustomers: 5,
		RevenuePerCustomer: 305.95, SellThroughPercent: 5.26, ReorderAlerts: 2, TopRegion: "north",
		TopProduct: "PROD-A", RecordsProcessed: 16, SourcesJoined: 3,
	}, m)

	var ins insights
	decodeStep(t, run, "generate_insights", &ins)
	require.Equal(t, 65, ins.HealthScore) // -20 for two reorder alerts, -15 for slow sell-through
	require.Equal(t, "needs_attention", ins.Rating)
	require.Len(t, ins.Insights, 4)
}

func registrationWorkflow() []stepDef {
	return []stepDef{
		{name: "create_user_account", callable: "microservices_create_user_account"},
		{name: "setup_billing_profile", callable: "microservices_setup_billing_profile", deps: []string{"create_user_account"}},
		{name: "initialize_preferences", callable: "microservices_initialize_preferences", deps: []string{"create_user_account"}},
		{name: "send_welcome_sequence", callable: "microservices_send_welcome_sequence", deps: []string{"setup_billing_profile", "initialize_preferences"}},
		{name: "update_user_status", callable: "microservices_update_user_status", deps: []string{"send_welcome_sequence"}},
	}
}

func TestUserRegistrationPerPlan(t *testing.T) {
	tmpl := workflow("registration", registrationWorkflow()...)
	for _, tc := range []struct {
		plan     string
		price    float64
		billing  bool
		features int
		welcome  int
	}{
		{"", 0, false, 2, 2}, // no plan means free
		{"free", 0, false, 2, 2},
		{"pro", 29.99, true, 4, 4},
		{"enterprise", 299.99, true, 6, 5},
	} {
		info := map[string]any{"email": "Cy@Example.com", "name": "Cy"}
		if tc.plan != "" {
			info["plan"] = tc.plan
		}
		run := runWorkflow(t, tmpl, map[string]any{"user_info": info})
		require.True(t, run.Complete(), "plan %q failed: %v", tc.plan, run.Failed())

		var acct userAccount
		decodeStep(t, run, "create_user_account", &acct)
		require.Regexp(t, `^usr_[0-9a-f]{16}$`, acct.UserID)
		require.Equal(t, "cy@example.com", acct.Email)

		var bill billingProfile
		decodeStep(t, run, "setup_billing_profile", &bill)
		require.Equal(t, tc.price, bill.MonthlyPrice, tc.plan)
		require.Equal(t, tc.billing, bill.BillingEnabled, tc.plan)
		require.Equal(t, tc.billing, bill.BillingID != "", tc.plan)

		var sum registrationSummary
		decodeStep(t, run, "update_user_status", &sum)
		require.Equal(t, "active", sum.Status)
		require.Equal(t, acct.UserID, sum.UserID)
		require.Equal(t, tc.features, sum.FeatureCount, tc.plan)
		require.Equal(t, tc.welcome, sum.WelcomeMessages, tc.plan)
		require.True(t, sum.RegistrationDone)
	}

	h := handler(t, "microservices_create_user_account")
	for _, info := range []map[string]any{
		{"email": "nope", "name": "X"},
		{"email": "x@example.com"},
		{"email": "x@example.com", "name": "X", "plan": "platinum"},
	} {
		requireFailure(t, workertest.Execute(h, workertest.NewStep("create_user_account").
			WithContext(map[string]any{"user_info": info})), "ValidationError", false)
	}
	requireFailure(t, workertest.Execute(h, workertest.NewStep("create_user_account")), "ValidationError", false)
}

func TestPaymentsRefund(t *testing.T) {
	tmpl := workflow("payments_refund",
		stepDef{name: "validate_payment_eligibility", callable: "team_scaling_payments_validate_eligibility"},
		stepDef{name: "process_gateway_refund", callable: "team_scaling_payments_process_gateway_refund", deps: []string{"validate_payment_eligibility"}},
		stepDef{name: "update_payment_records", callable: "team_scaling_payments_update_records", deps: []string{"process_gateway_refund"}},
		stepDef{name: "notify_customer", callable: "team_scaling_payments_notify_customer", deps: []string{"update_payment_records"}},
	)
	run := runWorkflow(t, tmpl, map[string]any{"payment_id": "pay_abc123", "refund_amount": 2500,
		"partial_refund": true, "customer_email": "di@example.com"})
	require.True(t, run.Complete(), "failed: %v", run.Failed())
	var rec paymentRecord
	decodeStep(t, run, "update_payment_records", &rec)
	require.Equal(t, "partially_refunded", rec.PaymentStatus)
	require.Equal(t, int64(2500), rec.RefundCents)
	require.Regexp(t, `^rfnd_[0-9A-F]{16}$`, rec.RefundID)
	var notice customerNotice
	decodeStep(t, run, "notify_customer", &notice)
	require.True(t, notice.Notified)
	require.Equal(t, rec.RefundID, notice.RefundID)

	// Without an email the refund still completes; nobody is notified.
	run = runWorkflow(t, tmpl, map[string]any{"payment_id": "pay_abc123", "refund_amount": 2500})
	require.True(t, run.Complete())
	decodeStep(t, run, "notify_customer", &notice)
	require.False(t, notice.Notified)
	decodeStep(t, run, "update_payment_records", &rec)
	require.Equal(t, "refunded", rec.PaymentStatus)

	h := handler(t, "team_scaling_payments_validate_eligibility")
	for _, ctx := range []map[string]any{
		{"payment_id": "ch_123", "refund_amount": 100},
		{"payment_id": "pay_1", "refund_amount": 0},
		{"payment_id": "pay_1"},
		{"payment_id": "pay_1", "refund_amount": 100, "refund_reason": "boredom"},
		{"payment_id": "pay_1", "refund_amount": 2000000},
	} {
		requireFailure(t, workertest.Execute(h, workertest.NewStep("v").WithContext(ctx)), "ValidationError", false)
	}
}

func TestCustomerSuccessRefund(t *testing.T) {
	tmpl := workflow("cs_refund",
		stepDef{name: "validate_refund_request", callable: "team_scaling_cs_validate_refund_request"},
		stepDef{name: "check_refund_policy", callable: "team_scaling_cs_check_refund_policy", deps: []string{"validate_refund_request"}},
		stepDef{name: "get_manager_approval", callable: "team_scaling_cs_get_manager_approval", deps: []string{"check_refund_policy"}},
		stepDef{name: "execute_refund_workflow", callable: "team_scaling_cs_execute_refund_workflow", deps: []string{"get_manager_approval"}},
		stepDef{name: "update_ticket_status", callable: "team_scaling_cs_update_ticket_status", deps: []string{"execute_refund_workflow"}},
	)
	base := func(amount int, requires any) map[string]any {
		ctx := map[string]any{"ticket_id": "T-1", "customer_id": "C-9", "refund_amount": amount,
			"customer_email": "eve@example.com", "payment_id": "pay_777"}
		if requires != nil {
			ctx["requires_approval"] = requires
		}
		return ctx
	}
	for _, tc := range []struct {
		ctx      map[string]any
		required bool
	}{
		{base(1000, false), false},
		{base(1000, nil), true},    // requires_approval defaults to true
		{base(75000, false), true}, // above 500.00 always needs a manager
		{base(1000, true), true},
	} {
		run := runWorkflow(t, tmpl, tc.ctx)
		require.True(t, run.Complete(), "failed: %v", run.Failed())
		var ok approval
		decodeStep(t, run, "get_manager_approval", &ok)
		require.Equal(t, tc.required, ok.Required, "%v", tc.ctx)
		require.True(t, ok.Approved)
		var del delegatedRefund
		decodeStep(t, run, "execute_refund_workflow", &del)
		require.Equal(t, "pay_777", del.PaymentID)
		require.Equal(t, "payments_rs", del.TargetNamespace)
		var ticket ticketUpdate
		decodeStep(t, run, "update_ticket_status", &ticket)
		require.Equal(t, "resolved", ticket.Status)
		require.Equal(t, del.DelegatedTaskID, ticket.DelegatedTaskID)
	}
	run := runWorkflow(t, tmpl, map[string]any{"ticket_id": "T-1", "customer_id": "C-9", "refund_amount": 10})
	requireFailure(t, run.Step("validate_refund_request").Result, "ValidationError", false)
}

// TestDomainEventsResultsMatchEventSchemas runs tasker-core's
// domain_event_publishing fixture: each handler publishes the events its
// step declares, with payloads that pass the declared schemas (a payload
// that did not would fail the step); a declined payment publishes
// payment.failed instead of payment.processed.
func TestDomainEventsResultsMatchEventSchemas(t *testing.T) {
	tmpl := fixture(t, "rust/domain_event_publishing.yaml")
	tmpl.Steps[0].Handler.Initialization = map[string]any{"validation_mode": "strict"}
	events := func(run *workertest.WorkflowRun, step string) []string {
		var names []string
		for _, e := range run.Step(step).Events {
			names = append(names, e.Name+"/"+e.DeliveryMode+"/"+e.Condition)
		}
		return names
	}
	ctx := map[string]any{"order_id": "6f1c2a4e-8f43-4a55-9a0e-1c6a5c1c0b11", "customer_id": "CUST-1", "amount": 99.5}
	run := runWorkflow(t, tmpl, ctx)
	require.True(t, run.Complete(), "failed: %v", run.Failed())

	v := valueOf(t, run.Step("domain_events_validate_order").Result)
	require.Equal(t, ctx["order_id"], v["order_id"])
	require.NotEmpty(t, v["validation_timestamp"])
	require.Equal(t, "strict", v["validation_mode"])
	v = valueOf(t, run.Step("domain_events_process_payment").Result)
	require.Regexp(t, `^TXN-[0-9A-F]{16}$`, v["transaction_id"])
	require.Equal(t, num("99.5"), v["amount"])
	require.Equal(t, "credit_card", v["payment_method"])
	v = valueOf(t, run.Step("domain_events_update_inventory").Result)
	require.Equal(t, true, v["success"])
	v = valueOf(t, run.Step("domain_events_send_notification").Result)
	require.Equal(t, "email", v["channel"])
	require.Equal(t, "CUST-1", v["recipient"])
	require.Equal(t, []string{"order.validated/fast/success"}, events(run, "domain_events_validate_order"))
	require.Equal(t, []string{"payment.processed/durable/success"}, events(run, "domain_events_process_payment"))
	require.Equal(t, []string{"inventory.updated/fast/always"}, events(run, "domain_events_update_inventory"))
	require.Equal(t, []string{"notification.sent/fast/success"}, events(run, "domain_events_send_notification"))
	require.Equal(t, "PaymentEventPublisher", run.Step("domain_events_process_payment").Events[0].FiredBy)

	ctx["simulate_failure"] = true
	run = runWorkflow(t, tmpl, ctx)
	require.Equal(t, []string{"domain_events_process_payment"}, run.Failed())
	res := run.Step("domain_events_process_payment").Result
	requireFailure(t, res, "PaymentError", false)
	require.Equal(t, "PAYMENT_DECLINED", res.ErrorCode())
	require.Equal(t, []string{"payment.failed/durable/failure"}, events(run, "domain_events_process_payment"))

	run = runWorkflow(t, tmpl, map[string]any{"order_id": " ", "customer_id": "CUST-1"})
	requireFailure(t, run.Step("domain_events_validate_order").Result, "ValidationError", false)
	require.Empty(t, run.Step("domain_events_validate_order").Events)
}

func TestMultiMethodDispatchesOnHandlerMethod(t *testing.T) {
	h := handler(t, callableMultiMethod)
	ctx := map[string]any{"data": map[string]any{"amount": 100, "reason": "damaged"}}
	for _, tc := range []struct {
		method  string
		outcome string
		value   string
	}{
		{"validate", "validated", "100"},
		{"process", "processed", "110"},
		{"refund", "refunded:damaged", "-100"},
		{"call", "default_call", "100"},
		{"", "default_call", "100"}, // no method means call
	} {
		step := workertest.NewStep("s").WithContext(ctx).WithMethod(tc.method).
			WithConfig(map[string]any{"step_number": 2})
		v := valueOf(t, workertest.Execute(h, step))
		require.Equal(t, tc.outcome, v["outcome"], tc.method)
		require.Equal(t, num(tc.value), v["value"], tc.method)
		require.Equal(t, num("2"), v["step_number"])
	}
	// The template's expected_method guards against mis-dispatch.
	res := workertest.Execute(h, workertest.NewStep("s").WithContext(ctx).WithMethod("refund").
		WithConfig(map[string]any{"expected_method": "process"}))
	requireFailure(t, res, "PermanentError", false)
	require.Equal(t, "METHOD_MISMATCH", res.ErrorCode())
	res = workertest.Execute(h, workertest.NewStep("s").WithContext(ctx).WithMethod("explode"))
	require.Equal(t, "UNKNOWN_METHOD", res.ErrorCode())
	requireFailure(t, workertest.Execute(h, workertest.NewStep("s").WithMethod("validate")), "ValidationError", false)

	// The fixture's four steps in a row.
	tmpl := workflow("dispatch",
		stepDef{name: "validate_step", callable: callableMultiMethod, method: "validate", init: map[string]any{"expected_method": "validate"}},
		stepDef{name: "process_step", callable: callableMultiMethod, method: "process", deps: []string{"validate_step"}, init: map[string]any{"expected_method": "process"}},
		stepDef{name: "refund_step", callable: callableMultiMethod, method: "refund", deps: []string{"process_step"}, init: map[string]any{"expected_method": "refund"}},
		stepDef{name: "default_call_step", callable: callableMultiMethod, deps: []string{"refund_step"}, init: map[string]any{"expected_method": "call"}},
	)
	require.True(t, runWorkflow(t, tmpl, ctx).Complete())
}
