"""Every Python fixture workflow, step by step with hand-built events, to the
values tasker-core's Python handlers compute: tasker-core's own handler files
(read from ../shared, skipped when absent) and the handlers in examples/."""

import unittest

from .support import EXAMPLES, FIXTURES, REFERENCE, Flow, registry_with

EX = registry_with(EXAMPLES)
REF = registry_with(REFERENCE) if REFERENCE.is_dir() else None
NEEDS_REF = unittest.skipIf(REF is None, f"tasker-core's handler files are not at {REFERENCE}")
CSV = FIXTURES / "products.csv"
NEEDS_CSV = unittest.skipUnless(CSV.exists(), f"tasker-core's fixtures are not at {FIXTURES}")


def chain(registry, context, steps):
    flow = Flow(registry, context)
    for step, callable_name, *kw in steps:
        payload = flow.run(step, callable_name, **(kw[0] if kw else {}))
        if not payload["success"]:
            return flow, payload
    return flow, None


def run_batches(flow, analyzer, worker_template, worker_callable, aggregator, initialization=None):
    """Run an analyzer, one worker per cursor range (as orchestration creates them), and the aggregator."""
    a_step, a_callable = analyzer
    flow.run(a_step, a_callable, initialization=initialization or {})
    outcome = flow.value(a_step)["batch_processing_outcome"]
    yields = 0
    for cursor in outcome.get("cursor_configs", []) if outcome["type"] == "create_batches" else []:
        flow.run(f"{worker_template}_{cursor['batch_id']}", worker_callable, inputs={
            "cursor": cursor, "batch_metadata": {"cursor_field": "id", "failure_strategy": "continue_on_failure"},
            "is_no_op": False})
        yields += getattr(flow, "yields", 0)
        flow.yields = 0
    flow.run(*aggregator)
    return outcome, yields


class LinearAndDiamond(unittest.TestCase):
    def linear(self, registry, prefix, suffix, n):
        names = ["linear_step_1", "linear_step_2", "linear_step_3", "linear_step_4"]
        callables = ([f"{prefix}.LinearStep{i}Handler" for i in range(1, 5)] if suffix == "_py"
                     else [f"{prefix}.linear_step_{i}" for i in range(1, 5)])
        flow, failed = chain(registry, {"even_number": n}, [(s + suffix, c) for s, c in zip(names, callables)])
        self.assertIsNone(failed)
        return [flow.value(s + suffix)["result"] for s in names]

    @NEEDS_REF
    def test_linear_reference(self):
        self.assertEqual(self.linear(REF, "linear_workflow.step_handlers", "_py", 6), [36, 46, 138, 69.0])
        self.assertEqual(self.linear(REF, "linear_workflow.step_handlers", "_py", 10)[-1], 165.0)
        self.assertEqual(self.linear(REF, "linear_workflow.step_handlers", "_py", 8)[-1], 111.0)

    def test_linear_dsl(self):
        self.assertEqual(self.linear(EX, "linear_workflow_dsl_py.step_handlers", "_dsl_py", 6), [36, 46, 138, 69.0])
        flow, failed = chain(EX, {"even_number": 7}, [("linear_step_1_dsl_py", "linear_workflow_dsl_py.step_handlers.linear_step_1")])
        self.assertEqual((failed["error"]["error_type"], failed["error"]["retryable"]), ("validation_error", False))

    def diamond(self, registry, callables, suffix, n):
        steps = ["diamond_start", "diamond_branch_b", "diamond_branch_c", "diamond_end"]
        flow, failed = chain(registry, {"even_number": n}, [(s + suffix, c) for s, c in zip(steps, callables)])
        self.assertIsNone(failed)
        return flow.value("diamond_end" + suffix)["result"]

    @NEEDS_REF
    def test_diamond_reference(self):
        c = [f"diamond_workflow.step_handlers.Diamond{x}Handler" for x in ("Start", "BranchB", "BranchC", "End")]
        self.assertEqual([self.diamond(REF, c, "_py", n) for n in (6, 10, 4)], [66.5, 162.5, 36.5])

    def test_diamond_dsl(self):
        c = [f"diamond_workflow_dsl_py.step_handlers.{x}" for x in ("diamond_start", "diamond_branch_b", "diamond_branch_c", "diamond_end")]
        self.assertEqual([self.diamond(EX, c, "_dsl_py", n) for n in (6, 10, 4)], [66.5, 162.5, 36.5])


class Scenarios(unittest.TestCase):
    def check(self, registry, callables):
        ok = Flow(registry).run("success", callables[0])
        self.assertEqual((ok["result"]["status"], ok["result"]["message"]), ("success", "Step completed successfully"))
        retry = Flow(registry).run("retryable", callables[1])
        self.assertEqual((retry["error"]["message"], retry["error"]["error_type"], retry["error"]["retryable"]),
                         ("Temporary failure - please retry", "temporary_error", True))
        perm = Flow(registry).run("permanent", callables[2])
        self.assertEqual((perm["error"]["message"], perm["error"]["retryable"]), ("Permanent failure - do not retry", False))

    @NEEDS_REF
    def test_reference(self):
        self.check(REF, [f"test_scenarios.step_handlers.{x}StepHandler" for x in ("Success", "RetryableError", "PermanentError")])

    def test_dsl(self):
        self.check(EX, [f"test_scenarios_dsl_py.step_handlers.{x}" for x in ("success_step", "retryable_error_step", "permanent_error_step")])


class MethodDispatch(unittest.TestCase):
    def check(self, registry, callable_name, suffix):
        methods = [("validate_step", "validate"), ("process_step", "process"), ("refund_step", "refund"), ("default_call_step", None)]
        flow, failed = chain(registry, {"data": {"amount": 100.0, "reason": "test_refund"}},
                             [(s + suffix, callable_name, {"method": m}) for s, m in methods])
        self.assertIsNone(failed)
        got = {s: flow.value(s + suffix) for s, _ in methods}
        self.assertEqual([got[s]["invoked_method"] for s, _ in methods], ["validate", "process", "refund", "call"])
        self.assertTrue(got["validate_step"]["validated"])
        self.assertEqual((got["process_step"]["processed_amount"], got["process_step"]["processing_fee"]),
                         (110.00000000000001, 10.000000000000014))
        self.assertEqual((got["refund_step"]["refund_amount"], got["refund_step"]["refund_reason"]), (100.0, "test_refund"))
        missing = Flow(registry, {"data": {}}).run("validate_step" + suffix, callable_name, method="validate")
        self.assertEqual((missing["error"]["error_type"], missing["error"]["retryable"]), ("validation_error", False))

    @NEEDS_REF
    def test_reference(self):
        self.check(REF, "resolver_tests.step_handlers.MultiMethodHandler", "_py")

    def test_dsl(self):
        self.check(EX, "resolver_tests_dsl_py.step_handlers.multi_method", "_dsl_py")


class ConditionalApproval(unittest.TestCase):
    def check(self, registry, prefix, names, suffix):
        expected = {500: ["auto_approve"], 999.99: ["auto_approve"], 1000: ["manager_approval"], 2500: ["manager_approval"],
                    5000: ["manager_approval", "finance_review"], 10000: ["manager_approval", "finance_review"]}
        for amount, branches in expected.items():
            flow, failed = chain(registry, {"amount": amount, "requester": "ann", "purpose": "laptops"},
                                 [("validate_request" + suffix, prefix + names["validate_request"]),
                                  ("routing_decision" + suffix, prefix + names["routing_decision"])])
            self.assertIsNone(failed)
            outcome = flow.value("routing_decision" + suffix)
            self.assertEqual(outcome["decision_point_outcome"], {"type": "create_steps", "step_names": [b + suffix for b in branches]})
            self.assertEqual(outcome["routing_context"]["amount"], amount)
            for b in branches:
                flow.run(b + suffix, prefix + names[b])
            flow.run("finalize_approval" + suffix, prefix + names["finalize_approval"])
            final = flow.value("finalize_approval" + suffix)
            self.assertEqual((final["final_status"], final["approval_count"], final["all_approved"]), ("approved", len(branches), True))
            self.assertEqual([a["type"] for a in final["approvals"]], [b.split("_")[0] for b in branches])
        invalid = Flow(registry, {"amount": -1}).run("validate_request" + suffix, prefix + names["validate_request"])
        self.assertEqual(invalid["error"]["message"], "Validation failed: amount must be a positive number, requester is required, purpose is required")

    @NEEDS_REF
    def test_reference(self):
        names = {s: "".join(p.title() for p in s.split("_")) + "Handler" for s in
                 ("validate_request", "routing_decision", "auto_approve", "manager_approval", "finance_review", "finalize_approval")}
        self.check(REF, "conditional_approval.step_handlers.", names, "_py")

    def test_dsl(self):
        names = {s: s for s in ("validate_request", "routing_decision", "auto_approve", "manager_approval", "finance_review", "finalize_approval")}
        self.check(EX, "conditional_approval_dsl_py.step_handlers.", names, "_dsl_py")


@NEEDS_CSV
class CsvBatches(unittest.TestCase):
    def check(self, registry, p, analyzer, worker_template, worker, aggregator):
        flow = Flow(registry, {"csv_file_path": str(CSV)})
        outcome, _ = run_batches(flow, analyzer, worker_template, p + worker, aggregator,
                                 initialization={"batch_size": 200, "max_workers": 5})
        self.assertEqual((outcome["worker_count"], outcome["total_items"]), (5, 1000))
        self.assertEqual([c["end_cursor"] for c in outcome["cursor_configs"]], [200, 400, 600, 800, 1000])
        agg = flow.value(aggregator[0])
        self.assertEqual((agg["total_processed"], agg["total_succeeded"], agg["total_failed"], agg["worker_count"]), (1000, 1000, 0, 5))
        self.assertAlmostEqual(agg["total_inventory_value"], 35588047.0, places=2)
        self.assertEqual(agg["result"]["total_processed"], 1000)
        empty = Flow(registry, {"csv_file_path": str(FIXTURES / "products_empty.csv")})
        outcome, _ = run_batches(empty, analyzer, worker_template, p + worker, aggregator)
        self.assertEqual(outcome, {"type": "no_batches"})
        self.assertEqual(empty.value(aggregator[0])["total_processed"], 0)

    @NEEDS_REF
    def test_reference(self):
        p = "batch_processing.step_handlers."
        self.check(REF, p, ("analyze_csv_py", p + "CsvAnalyzerHandler"), "process_csv_batch_py", "CsvBatchProcessorHandler",
                   ("aggregate_csv_results_py", p + "CsvResultsAggregatorHandler"))

    def test_dsl(self):
        p = "batch_processing_dsl_py.step_handlers."
        self.check(EX, p, ("analyze_csv_dsl_py", p + "csv_analyzer"), "process_csv_batch_dsl_py", "csv_batch_processor",
                   ("aggregate_csv_results_dsl_py", p + "csv_results_aggregator"))


class CheckpointYield(unittest.TestCase):
    def check(self, registry, p, names, steps):
        analyzer, worker_template, aggregator = steps

        def run(context):
            flow = Flow(registry, context)
            _, yields = run_batches(flow, (analyzer, p + names[0]), worker_template, p + names[1], (aggregator, p + names[2]))
            return flow.value(aggregator), yields

        agg, yields = run({"total_items": 100, "items_per_checkpoint": 25})
        self.assertEqual((agg["total_processed"], agg["running_total"], agg["item_count"], agg["checkpoints_used"], yields),
                         (100, 5050, 100, 4, 3))
        agg, yields = run({"total_items": 50, "items_per_checkpoint": 5})
        self.assertEqual((agg["total_processed"], agg["checkpoints_used"], yields), (50, 10, 9))
        agg, yields = run({"total_items": 10, "items_per_checkpoint": 20})
        self.assertEqual((agg["running_total"], yields), (55, 0))
        agg, _ = run({"total_items": 0})
        self.assertEqual((agg["scenario"], agg["total_processed"], agg["worker_count"]), ("no_batches", 0, 0))
        # failure injection: a transient failure after 50 items on the first attempt, resumed from the checkpoint
        flow = Flow(registry, {"total_items": 100, "items_per_checkpoint": 20, "fail_after_items": 50})
        flow.run(analyzer, p + names[0])
        cursor = flow.value(analyzer)["batch_processing_outcome"]["cursor_configs"][0]
        inputs = {"cursor": cursor, "batch_metadata": {}, "is_no_op": False}
        failed = flow.run(f"{worker_template}_001", p + names[1], inputs=inputs)
        self.assertEqual((failed["error"]["message"], failed["error"]["retryable"]), ("Injected transient failure after 50 items", True))
        permanent = Flow(registry, {"total_items": 100, "items_per_checkpoint": 25, "fail_after_items": 30, "permanent_failure": True})
        permanent.results = dict(flow.results)
        failed = permanent.run(f"{worker_template}_001", p + names[1], inputs=inputs)
        self.assertEqual((failed["error"]["retryable"], failed["error"]["error_type"]), (False, "permanent_error"))
        retried = Flow(registry, flow.context)
        retried.results = dict(flow.results)
        done = retried.run(f"{worker_template}_001", p + names[1], inputs=inputs, attempts=1)
        self.assertEqual(done["result"]["batch_metadata"]["running_total"], 5050)

    @NEEDS_REF
    def test_reference(self):
        self.check(REF, "CheckpointYield.StepHandlers.", ["CheckpointYieldAnalyzerHandler", "CheckpointYieldWorkerHandler",
                   "CheckpointYieldAggregatorHandler"], ("analyze_items", "checkpoint_yield_batch", "aggregate_results"))

    def test_dsl(self):
        self.check(EX, "checkpoint_yield_dsl_py.step_handlers.", ["checkpoint_yield_analyzer", "checkpoint_yield_worker",
                   "checkpoint_yield_aggregator"], ("analyze_items_dsl_py", "checkpoint_yield_batch_dsl_py", "aggregate_results_dsl_py"))


class BlogWorkflows(unittest.TestCase):
    """The blog workflows, class style and decorator twins, to the same values."""

    def both(self, class_prefix, dsl_prefix, steps, context):
        out = []
        for prefix, suffix, style in ((class_prefix, "", "class"), (dsl_prefix, "_dsl_py", "dsl")):
            flow, failed = chain(EX, context, [(s + suffix, prefix + (c if style == "class" else d)) for s, c, d in steps])
            self.assertIsNone(failed, failed)
            out.append({s: flow.value(s + suffix) for s, _, _ in steps})
        return out

    def test_ecommerce(self):
        steps = [("validate_cart", "ValidateCartHandler", "validate_cart"), ("process_payment", "ProcessPaymentHandler", "process_payment"),
                 ("update_inventory", "UpdateInventoryHandler", "update_inventory"), ("create_order", "CreateOrderHandler", "create_order"),
                 ("send_confirmation", "SendConfirmationHandler", "send_confirmation")]
        context = {"cart_items": [{"product_id": 1, "quantity": 2}, {"product_id": 2, "quantity": 1}],
                   "customer_info": {"email": "customer@example.com", "name": "John Doe", "phone": "+1-555-0123"},
                   "payment_info": {"method": "credit_card", "token": "tok_test_valid", "amount": 124.76}}
        for r in self.both("ecommerce.step_handlers.", "ecommerce_dsl_py.step_handlers.", steps, context):
            cart = r["validate_cart"]
            self.assertEqual((cart["subtotal"], cart["tax"], cart["shipping"], round(cart["total"], 2), cart["item_count"]),
                             (109.97, 8.8, 5.99, 124.76, 2))
            self.assertEqual(r["process_payment"]["status"], "completed")
            self.assertEqual([(p["product_id"], p["new_stock"]) for p in r["update_inventory"]["updated_products"]], [(1, 98), (2, 49)])
            self.assertEqual(r["update_inventory"]["total_items_reserved"], 3)
            self.assertEqual((r["create_order"]["status"], r["create_order"]["total_amount"]), ("confirmed", cart["total"]))
            self.assertRegex(r["create_order"]["order_number"], r"^ORD-\d{8}-[0-9A-F]{8}$")
            self.assertEqual((r["send_confirmation"]["email_sent"], r["send_confirmation"]["recipient"]), (True, "customer@example.com"))
        declined = Flow(EX, {**context, "payment_info": {"method": "card", "token": "tok_test_declined", "amount": 124.76}})
        declined.run("validate_cart", "ecommerce.step_handlers.ValidateCartHandler")
        p = declined.run("process_payment", "ecommerce.step_handlers.ProcessPaymentHandler")
        self.assertEqual((p["error"]["error_type"], p["error"]["retryable"], p["metadata"]["error_code"]), ("PermanentError", False, "PAYMENT_DECLINED"))
        flaky = Flow(EX, {**context, "payment_info": {"method": "card", "token": "tok_test_network_error", "amount": 124.76}})
        flaky.run("validate_cart", "ecommerce.step_handlers.ValidateCartHandler")
        p = flaky.run("process_payment", "ecommerce.step_handlers.ProcessPaymentHandler")
        self.assertEqual(p["orchestration_metadata"]["backoff_hint"]["delay_seconds"], 15)

    def test_data_pipeline(self):
        names = ["extract_sales_data", "extract_inventory_data", "extract_customer_data", "transform_sales", "transform_inventory",
                 "transform_customers", "aggregate_metrics", "generate_insights"]
        classes = ["ExtractSalesDataHandler", "ExtractInventoryDataHandler", "ExtractCustomerDataHandler", "TransformSalesHandler",
                   "TransformInventoryHandler", "TransformCustomersHandler", "AggregateMetricsHandler", "GenerateInsightsHandler"]
        steps = list(zip(names, classes, names))
        for r in self.both("data_pipeline.step_handlers.", "data_pipeline_dsl_py.step_handlers.", steps, {}):
            agg = r["aggregate_metrics"]
            self.assertAlmostEqual(agg["total_revenue"], 3199.73, places=6)
            self.assertEqual((agg["total_inventory_quantity"], agg["total_customers"], agg["total_customer_lifetime_value"],
                              agg["inventory_reorder_alerts"], agg["revenue_per_customer"], agg["inventory_turnover_indicator"]),
                             (575, 5, 30500.0, 0, 639.95, 5.5647))
            self.assertEqual(r["generate_insights"]["health_score"], {"score": 100, "max_score": 100, "rating": "Excellent"})
            self.assertEqual([i["category"] for i in r["generate_insights"]["insights"]], ["Revenue", "Inventory", "Customer Value"])
            self.assertEqual(r["transform_customers"]["value_segments"], {"high_value": 1, "medium_value": 3, "low_value": 1})

    def test_microservices(self):
        steps = [(s, c, s) for s, c in (("create_user_account", "CreateUserAccountHandler"), ("setup_billing_profile", "SetupBillingProfileHandler"),
                                        ("initialize_preferences", "InitializePreferencesHandler"),
                                        ("send_welcome_sequence", "SendWelcomeSequenceHandler"), ("update_user_status", "UpdateUserStatusHandler"))]
        context = {"user_info": {"email": "new.user@example.com", "name": "Test User", "plan": "pro", "source": "api_test"}}
        for r in self.both("microservices.step_handlers.", "microservices_dsl_py.step_handlers.", steps, context):
            self.assertEqual((r["create_user_account"]["status"], r["setup_billing_profile"]["price"]), ("created", 29.99))
            self.assertEqual((r["initialize_preferences"]["preferences"]["theme"], r["initialize_preferences"]["defaults_applied"]), ("dark", 8))
            self.assertEqual(r["send_welcome_sequence"]["channels_used"], ["email", "in_app"])
            final = r["update_user_status"]
            self.assertEqual((final["status"], final["plan"], final["registration_summary"]["preferences_count"]), ("active", "pro", 8))
            self.assertEqual(final["registration_summary"]["billing_id"], r["setup_billing_profile"]["billing_id"])
        bad = Flow(EX, {"user_info": {"email": "not-an-email", "name": "x"}}).run("create_user_account", "microservices.step_handlers.CreateUserAccountHandler")
        self.assertEqual((bad["metadata"]["error_code"], bad["error"]["retryable"]), ("INVALID_EMAIL_FORMAT", False))

    def test_customer_success_and_payments(self):
        cs = [(s, c, s) for s, c in (("validate_refund_request", "ValidateRefundRequestHandler"), ("check_refund_policy", "CheckRefundPolicyHandler"),
                                     ("get_manager_approval", "GetManagerApprovalHandler"), ("execute_refund_workflow", "ExecuteRefundWorkflowHandler"),
                                     ("update_ticket_status", "UpdateTicketStatusHandler"))]
        context = {"ticket_id": "TICKET-9001", "customer_id": "CUST-42", "refund_amount": 4999, "refund_reason": "defective",
                   "customer_email": "customer@example.com", "correlation_id": "cs-fixed"}
        for r in self.both("team_scaling.customer_success.step_handlers.", "team_scaling_dsl_py.customer_success.step_handlers.", cs, context):
            self.assertEqual((r["validate_refund_request"]["customer_tier"], r["check_refund_policy"]["days_since_purchase"],
                              r["check_refund_policy"]["requires_approval"]), ("standard", 30, True))
            self.assertEqual((r["get_manager_approval"]["approval_required"], r["execute_refund_workflow"]["correlation_id"]), (True, "cs-fixed"))
            self.assertEqual(r["update_ticket_status"]["new_status"], "resolved")
            self.assertTrue(r["update_ticket_status"]["resolution_note"].startswith("Refund of $49.99 processed successfully."))
        pay = [(s, c, s) for s, c in (("validate_payment_eligibility", "ValidatePaymentEligibilityHandler"),
                                      ("process_gateway_refund", "ProcessGatewayRefundHandler"),
                                      ("update_payment_records", "UpdatePaymentRecordsHandler"), ("notify_customer", "NotifyCustomerHandler"))]
        context = {"payment_id": "pay_abc123", "refund_amount": 2500, "refund_reason": "defective", "customer_email": "c@example.com"}
        for r in self.both("team_scaling.payments.step_handlers.", "team_scaling_dsl_py.payments.step_handlers.", pay, context):
            self.assertEqual((r["validate_payment_eligibility"]["original_amount"], r["process_gateway_refund"]["refund_amount"]), (3500, 2500))
            self.assertEqual((r["update_payment_records"]["payment_status"], r["notify_customer"]["delivery_status"]), ("refunded", "delivered"))
        denied = Flow(EX, {**context, "payment_id": "pay_test_gateway_error"})
        denied.run("validate_payment_eligibility", "team_scaling.payments.step_handlers.ValidatePaymentEligibilityHandler")
        p = denied.run("process_gateway_refund", "team_scaling.payments.step_handlers.ProcessGatewayRefundHandler")
        self.assertEqual((p["metadata"]["error_code"], p["error"]["retryable"]), ("GATEWAY_REFUND_FAILED", False))

    def test_domain_events(self):
        steps = [("domain_events_py_validate_order", "domain_events_py.step_handlers.ValidateOrderHandler", {"initialization": {"validation_mode": "strict"}}),
                 ("domain_events_py_process_payment", "domain_events_py.step_handlers.ProcessPaymentHandler", {"initialization": {"payment_provider": "mock"}}),
                 ("domain_events_py_update_inventory", "domain_events_py.step_handlers.UpdateInventoryHandler"),
                 ("domain_events_py_send_notification", "domain_events_py.step_handlers.SendNotificationHandler", {"initialization": {"notification_type": "email"}})]
        flow, failed = chain(EX, {"order_id": "ORD-1", "customer_id": "CUST-1", "amount": 99.5}, steps)
        self.assertIsNone(failed)
        self.assertEqual(flow.value(steps[0][0])["validation_checks"], ["order_id_present", "customer_id_present", "amount_positive"])
        self.assertEqual((flow.value(steps[1][0])["amount"], flow.value(steps[2][0])["items"][1]), (99.5, {"sku": "ITEM-002", "quantity": 2}))
        self.assertEqual((flow.value(steps[3][0])["channel"], flow.value(steps[3][0])["recipient"]), ("email", "CUST-1"))
        strict = Flow(EX, {"amount": 0}).run(steps[0][0], steps[0][1], initialization={"validation_mode": "strict"})
        self.assertEqual((strict["error"]["error_type"], strict["error"]["retryable"]), ("ValidationError", False))
        dsl = Flow(EX, {"order_id": "ORD-1", "customer_id": "CUST-1", "amount": 99.5}).run(
            "domain_events_py_validate_order_dsl", "domain_events_dsl_py.step_handlers.validate_order")
        self.assertTrue(dsl["result"]["validated"])


if __name__ == "__main__":
    unittest.main()
