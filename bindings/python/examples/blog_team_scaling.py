"""Two teams, two namespaces (templates customer_success_process_refund_py,
payments_process_refund_py and their _dsl_py twins).

Customer success: validate request -> refund policy -> manager approval ->
hand the refund to payments -> resolve the ticket. Payments: eligibility ->
gateway refund -> payment records -> notify the customer. Amounts are in
cents. Test hooks in identifiers (``ticket_denied``, ``pay_test_gateway_error``,
``@test_bounce`` ...) produce the failures the originals simulate.
"""

import re
import uuid
import zlib
from datetime import datetime, timedelta, timezone

from tasker_core import StepHandler, StepHandlerResult
from tasker_core.step_handler.functional import depends_on, inputs, step_handler

REFUND_POLICIES = {
    "standard": {"window_days": 30, "requires_approval": True, "max_amount": 10000},
    "gold": {"window_days": 60, "requires_approval": False, "max_amount": 50000},
    "premium": {"window_days": 90, "requires_approval": False, "max_amount": 100000},
}


def _now():
    return datetime.now(timezone.utc)


def _fail(message, code, retryable=False):
    return StepHandlerResult.failure(message, retryable=retryable, error_code=code)


def _ok(result, **metadata):
    return StepHandlerResult.success(result, metadata)


def _stable(text, n):
    return zlib.crc32(str(text).encode()) % n + 1


# --- customer success -------------------------------------------------------

def validate_refund_request(ticket_id, customer_id, refund_amount):
    missing = [n for n, v in (("ticket_id", ticket_id), ("customer_id", customer_id), ("refund_amount", refund_amount)) if not v]
    if missing:
        return _fail(f"Missing required fields for refund validation: {', '.join(missing)}", "MISSING_REQUIRED_FIELDS")
    for hook in ("closed", "cancelled", "duplicate"):
        if f"ticket_{hook}" in ticket_id:
            return _fail(f"Cannot process refund for {hook} ticket", f"TICKET_{hook.upper()}")
    lowered = customer_id.lower()
    tier = "premium" if "vip" in lowered or "premium" in lowered else "gold" if "gold" in lowered else "standard"
    return _ok({"request_validated": True, "ticket_id": ticket_id, "customer_id": customer_id, "ticket_status": "open",
                "customer_tier": tier, "original_purchase_date": (_now() - timedelta(days=30)).isoformat(),
                "payment_id": f"pay_{uuid.uuid4().hex[:12]}", "validation_timestamp": _now().isoformat(),
                "namespace": "customer_success"}, operation="validate_refund_request", customer_tier=tier)


def check_refund_policy(validation, refund_amount):
    if not validation or not validation.get("request_validated"):
        return _fail("Request validation must be completed before policy check", "MISSING_VALIDATION")
    tier = validation.get("customer_tier") or "standard"
    policy = REFUND_POLICIES.get(tier, REFUND_POLICIES["standard"])
    purchased = datetime.fromisoformat(validation["original_purchase_date"].replace("Z", "+00:00"))
    days = (_now() - purchased).days
    if days > policy["window_days"]:
        return _fail(f"Refund request outside policy window: {days} days (max: {policy['window_days']} days)",
                     "OUTSIDE_REFUND_WINDOW")
    if refund_amount > policy["max_amount"]:
        return _fail(f"Refund amount exceeds policy limit: ${refund_amount / 100:.2f} (max: ${policy['max_amount'] / 100:.2f})",
                     "EXCEEDS_AMOUNT_LIMIT")
    return _ok({"policy_checked": True, "policy_compliant": True, "customer_tier": tier,
                "refund_window_days": policy["window_days"], "days_since_purchase": days, "within_refund_window": True,
                "requires_approval": policy["requires_approval"], "max_allowed_amount": policy["max_amount"],
                "policy_checked_at": _now().isoformat(), "namespace": "customer_success"},
               operation="check_refund_policy", requires_approval=policy["requires_approval"])


def get_manager_approval(policy, validation):
    if not policy or not policy.get("policy_checked"):
        return _fail("Policy check must be completed before approval", "MISSING_POLICY_CHECK")
    now = _now().isoformat()
    if not policy.get("requires_approval"):
        return _ok({"approval_obtained": True, "approval_required": False, "auto_approved": True, "approval_id": None,
                    "manager_id": None, "manager_notes": f"Auto-approved for customer tier {policy.get('customer_tier')}",
                    "approved_at": now, "namespace": "customer_success"}, operation="get_manager_approval")
    ticket_id = (validation or {}).get("ticket_id") or ""
    if "ticket_denied" in ticket_id:
        return _fail("Manager denied refund request: Manager denied refund request", "APPROVAL_DENIED")
    if "ticket_pending" in ticket_id:
        return _fail("Waiting for manager approval", "APPROVAL_PENDING", retryable=True)
    return _ok({"approval_obtained": True, "approval_required": True, "auto_approved": False,
                "approval_id": f"appr_{uuid.uuid4().hex[:16]}", "manager_id": f"mgr_{_stable(ticket_id, 5)}",
                "manager_notes": f"Approved refund request for customer {(validation or {}).get('customer_id')}",
                "approved_at": now, "namespace": "customer_success"}, operation="get_manager_approval")


def execute_refund_workflow(approval, validation, correlation_id):
    if not approval or not approval.get("approval_obtained"):
        return _fail("Manager approval must be obtained before executing refund", "MISSING_APPROVAL")
    if not (validation or {}).get("payment_id"):
        return _fail("Payment ID not found in validation results", "MISSING_PAYMENT_ID")
    correlation_id = correlation_id or f"cs-{uuid.uuid4().hex[:16]}"
    task_id = f"task_{uuid.uuid4()}"
    return _ok({"task_delegated": True, "target_namespace": "payments", "target_workflow": "process_refund",
                "delegated_task_id": task_id, "delegated_task_status": "created",
                "delegation_timestamp": _now().isoformat(), "correlation_id": correlation_id,
                "namespace": "customer_success"}, operation="execute_refund_workflow", delegated_task_id=task_id)


def update_ticket_status(delegation, validation, refund_amount):
    if not delegation or not delegation.get("task_delegated"):
        return _fail("Refund workflow must be executed before updating ticket", "MISSING_DELEGATION")
    ticket_id = (validation or {}).get("ticket_id") or ""
    if "ticket_locked" in ticket_id:
        return _fail("Ticket locked by another agent, will retry", "TICKET_LOCKED", retryable=True)
    if "ticket_update_error" in ticket_id:
        return _fail("Ticket update failed: System error updating ticket", "UPDATE_FAILED", retryable=True)
    task_id = delegation.get("delegated_task_id")
    note = (f"Refund of ${refund_amount / 100:.2f} processed successfully. Delegated task ID: {task_id}. "
            f"Correlation ID: {delegation.get('correlation_id')}")
    return _ok({"ticket_updated": True, "ticket_id": ticket_id, "previous_status": "in_progress", "new_status": "resolved",
                "resolution_note": note, "updated_at": _now().isoformat(), "refund_completed": True,
                "delegated_task_id": task_id, "namespace": "customer_success"}, operation="update_ticket_status")


# --- payments -----------------------------------------------------------------

def validate_payment_eligibility(payment_id, refund_amount):
    missing = [n for n, v in (("payment_id", payment_id), ("refund_amount", refund_amount)) if not v]
    if missing:
        return _fail(f"Missing required fields for payment validation: {', '.join(missing)}", "MISSING_REQUIRED_FIELDS")
    if refund_amount <= 0:
        return _fail(f"Refund amount must be positive, got: {refund_amount}", "INVALID_REFUND_AMOUNT")
    if not re.match(r"^pay_[a-zA-Z0-9_]+$", payment_id):
        return _fail(f"Invalid payment ID format: {payment_id}", "INVALID_PAYMENT_ID")
    if "pay_test_insufficient" in payment_id:
        return _fail("Insufficient funds available for refund", "INSUFFICIENT_FUNDS")
    if "pay_test_processing" in payment_id:
        return _fail("Payment is still processing, cannot refund yet", "PAYMENT_PROCESSING", retryable=True)
    if "pay_test_ineligible" in payment_id:
        return _fail("Payment is not eligible for refund: Payment is past refund window", "PAYMENT_INELIGIBLE")
    return _ok({"payment_validated": True, "payment_id": payment_id, "original_amount": refund_amount + 1000,
                "refund_amount": refund_amount, "payment_method": "credit_card", "gateway_provider": "MockPaymentGateway",
                "eligibility_status": "eligible", "validation_timestamp": _now().isoformat(), "namespace": "payments"},
               operation="validate_payment_eligibility")


def process_gateway_refund(validation):
    if not validation or not validation.get("payment_validated"):
        return _fail("Payment validation must be completed before processing refund", "MISSING_VALIDATION")
    payment_id = validation.get("payment_id") or ""
    hooks = {"pay_test_gateway_timeout": ("Gateway timeout, will retry", "GATEWAY_TIMEOUT", True),
             "pay_test_gateway_error": ("Gateway refund failed: Gateway error", "GATEWAY_REFUND_FAILED", False),
             "pay_test_rate_limit": ("Gateway rate limited, will retry", "RATE_LIMITED", True)}
    for hook, (message, code, retryable) in hooks.items():
        if hook in payment_id:
            return _fail(message, code, retryable)
    now = _now()
    refund_id = f"rfnd_{uuid.uuid4().hex[:24]}"
    return _ok({"refund_processed": True, "refund_id": refund_id, "payment_id": payment_id,
                "refund_amount": validation.get("refund_amount"), "refund_status": "processed",
                "gateway_transaction_id": f"gtx_{uuid.uuid4().hex[:20]}", "gateway_provider": "MockPaymentGateway",
                "processed_at": now.isoformat(), "estimated_arrival": (now + timedelta(days=5)).isoformat(),
                "namespace": "payments"}, operation="process_gateway_refund", refund_id=refund_id)


def update_payment_records(refund):
    if not refund or not refund.get("refund_processed"):
        return _fail("Gateway refund must be completed before updating records", "MISSING_REFUND")
    payment_id = refund.get("payment_id") or ""
    if "pay_test_record_lock" in payment_id:
        return _fail("Payment record locked, will retry", "RECORD_LOCKED", retryable=True)
    if "pay_test_record_error" in payment_id:
        return _fail("Record update failed: Database error", "UPDATE_FAILED", retryable=True)
    return _ok({"records_updated": True, "payment_id": payment_id, "refund_id": refund.get("refund_id"),
                "record_id": f"rec_{uuid.uuid4().hex[:16]}", "payment_status": "refunded", "refund_status": "completed",
                "history_entries_created": 2, "updated_at": _now().isoformat(), "namespace": "payments"},
               operation="update_payment_records")


def notify_customer(refund, customer_email):
    if not refund or not refund.get("refund_processed"):
        return _fail("Refund must be processed before sending notification", "MISSING_REFUND")
    if not customer_email:
        return _fail("Customer email is required for notification", "MISSING_CUSTOMER_EMAIL")
    if not re.match(r"^[^@\s]+@[^@\s]+$", customer_email):
        return _fail(f"Invalid customer email format: {customer_email}", "INVALID_EMAIL_FORMAT")
    hooks = {"@test_bounce": ("Customer email bounced", "EMAIL_BOUNCED", False),
             "@test_invalid": ("Invalid customer email address", "INVALID_EMAIL", False),
             "@test_rate_limit": ("Email service rate limited, will retry", "RATE_LIMITED", True)}
    for hook, (message, code, retryable) in hooks.items():
        if hook in customer_email:
            return _fail(message, code, retryable)
    return _ok({"notification_sent": True, "customer_email": customer_email, "message_id": f"msg_{uuid.uuid4().hex[:24]}",
                "notification_type": "refund_confirmation", "sent_at": _now().isoformat(), "delivery_status": "delivered",
                "refund_id": refund.get("refund_id"), "refund_amount": refund.get("refund_amount"), "namespace": "payments"},
               operation="notify_customer")


# --- class handlers -----------------------------------------------------------

CS = "team_scaling.customer_success.step_handlers."
PAY = "team_scaling.payments.step_handlers."


class ValidateRefundRequestHandler(StepHandler):
    handler_name = CS + "ValidateRefundRequestHandler"

    def call(self, c):
        return validate_refund_request(c.get_input("ticket_id"), c.get_input("customer_id"), c.get_input("refund_amount"))


class CheckRefundPolicyHandler(StepHandler):
    handler_name = CS + "CheckRefundPolicyHandler"

    def call(self, c):
        return check_refund_policy(c.get_dependency_result("validate_refund_request"), c.get_input("refund_amount"))


class GetManagerApprovalHandler(StepHandler):
    handler_name = CS + "GetManagerApprovalHandler"

    def call(self, c):
        return get_manager_approval(c.get_dependency_result("check_refund_policy"),
                                    c.get_dependency_result("validate_refund_request"))


class ExecuteRefundWorkflowHandler(StepHandler):
    handler_name = CS + "ExecuteRefundWorkflowHandler"

    def call(self, c):
        return execute_refund_workflow(c.get_dependency_result("get_manager_approval"),
                                       c.get_dependency_result("validate_refund_request"), c.get_input("correlation_id"))


class UpdateTicketStatusHandler(StepHandler):
    handler_name = CS + "UpdateTicketStatusHandler"

    def call(self, c):
        return update_ticket_status(c.get_dependency_result("execute_refund_workflow"),
                                    c.get_dependency_result("validate_refund_request"), c.get_input("refund_amount"))


class ValidatePaymentEligibilityHandler(StepHandler):
    handler_name = PAY + "ValidatePaymentEligibilityHandler"

    def call(self, c):
        return validate_payment_eligibility(c.get_input("payment_id"), c.get_input("refund_amount"))


class ProcessGatewayRefundHandler(StepHandler):
    handler_name = PAY + "ProcessGatewayRefundHandler"

    def call(self, c):
        return process_gateway_refund(c.get_dependency_result("validate_payment_eligibility"))


class UpdatePaymentRecordsHandler(StepHandler):
    handler_name = PAY + "UpdatePaymentRecordsHandler"

    def call(self, c):
        return update_payment_records(c.get_dependency_result("process_gateway_refund"))


class NotifyCustomerHandler(StepHandler):
    handler_name = PAY + "NotifyCustomerHandler"

    def call(self, c):
        return notify_customer(c.get_dependency_result("process_gateway_refund"), c.get_input("customer_email"))


# --- decorator twins ----------------------------------------------------------

CS_DSL = "team_scaling_dsl_py.customer_success.step_handlers."
PAY_DSL = "team_scaling_dsl_py.payments.step_handlers."


@step_handler(CS_DSL + "validate_refund_request")
@inputs("ticket_id", "customer_id", "refund_amount")
def cs_validate_refund_request(ticket_id, customer_id, refund_amount):
    return validate_refund_request(ticket_id, customer_id, refund_amount)


@step_handler(CS_DSL + "check_refund_policy")
@inputs("refund_amount")
@depends_on(validation="validate_refund_request_dsl_py")
def cs_check_refund_policy(validation, refund_amount):
    return check_refund_policy(validation, refund_amount)


@step_handler(CS_DSL + "get_manager_approval")
@depends_on(policy="check_refund_policy_dsl_py", validation="validate_refund_request_dsl_py")
def cs_get_manager_approval(policy, validation):
    return get_manager_approval(policy, validation)


@step_handler(CS_DSL + "execute_refund_workflow")
@inputs("correlation_id")
@depends_on(approval="get_manager_approval_dsl_py", validation="validate_refund_request_dsl_py")
def cs_execute_refund_workflow(approval, validation, correlation_id):
    return execute_refund_workflow(approval, validation, correlation_id)


@step_handler(CS_DSL + "update_ticket_status")
@inputs("refund_amount")
@depends_on(delegation="execute_refund_workflow_dsl_py", validation="validate_refund_request_dsl_py")
def cs_update_ticket_status(delegation, validation, refund_amount):
    return update_ticket_status(delegation, validation, refund_amount)


@step_handler(PAY_DSL + "validate_payment_eligibility")
@inputs("payment_id", "refund_amount")
def pay_validate_payment_eligibility(payment_id, refund_amount):
    return validate_payment_eligibility(payment_id, refund_amount)


@step_handler(PAY_DSL + "process_gateway_refund")
@depends_on(validation="validate_payment_eligibility_dsl_py")
def pay_process_gateway_refund(validation):
    return process_gateway_refund(validation)


@step_handler(PAY_DSL + "update_payment_records")
@depends_on(refund="process_gateway_refund_dsl_py")
def pay_update_payment_records(refund):
    return update_payment_records(refund)


@step_handler(PAY_DSL + "notify_customer")
@inputs("customer_email")
@depends_on(refund="process_gateway_refund_dsl_py")
def pay_notify_customer(refund, customer_email):
    return notify_customer(refund, customer_email)
