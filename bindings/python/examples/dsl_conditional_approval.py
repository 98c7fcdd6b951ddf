"""Conditional approval, decorator style (template conditional_approval_handler_dsl_py).

validate -> routing decision (< 1,000: auto; < 5,000: manager; else manager +
finance) -> the chosen approvals -> finalize (deferred convergence).
Needs decision points in the engine.
"""

from tasker_core import StepHandlerResult
from tasker_core.step_handler.functional import Decision, decision_handler, depends_on, inputs, step_handler

SMALL_THRESHOLD = 1000.0
LARGE_THRESHOLD = 5000.0


@step_handler("conditional_approval_dsl_py.step_handlers.validate_request")
@inputs("amount", "requester", "purpose")
def validate_request(amount, requester, purpose):
    errors = []
    if amount is None:
        errors.append("amount is required")
    elif not isinstance(amount, (int, float)) or amount <= 0:
        errors.append("amount must be a positive number")
    if not requester:
        errors.append("requester is required")
    if not purpose:
        errors.append("purpose is required")
    if errors:
        return StepHandlerResult.failure(f"Validation failed: {', '.join(errors)}", "validation_error", False)
    return {"validated": True, "amount": amount, "requester": requester, "purpose": purpose}


@decision_handler("conditional_approval_dsl_py.step_handlers.routing_decision")
@depends_on(validated="validate_request_dsl_py")
def routing_decision(validated):
    amount = (validated or {}).get("amount")
    if amount is None:
        return StepHandlerResult.failure("Missing amount from validate_request_dsl_py", "dependency_error", True)
    if amount < SMALL_THRESHOLD:
        return Decision.route(["auto_approve_dsl_py"], approval_path="auto", amount=amount, threshold_used="small")
    if amount < LARGE_THRESHOLD:
        return Decision.route(["manager_approval_dsl_py"], approval_path="manager", amount=amount, threshold_used="medium")
    return Decision.route(["manager_approval_dsl_py", "finance_review_dsl_py"], approval_path="dual", amount=amount,
                          threshold_used="large")


def _approval(routing, approval_type, approver, notes, **extra):
    if routing is None:
        return StepHandlerResult.failure("Missing routing decision result", "dependency_error", True)
    amount = routing.get("routing_context", {}).get("amount", 0)
    return {"approved": True, "approval_type": approval_type, "approved_amount": amount, "approver": approver,
            **extra, "notes": notes}


@step_handler("conditional_approval_dsl_py.step_handlers.auto_approve")
@depends_on(routing="routing_decision_dsl_py")
def auto_approve(routing):
    return _approval(routing, "auto", "system", "Auto-approved for amounts under $1,000")


@step_handler("conditional_approval_dsl_py.step_handlers.manager_approval")
@depends_on(routing="routing_decision_dsl_py")
def manager_approval(routing):
    return _approval(routing, "manager", "manager@example.com", "Manager approved after review")


@step_handler("conditional_approval_dsl_py.step_handlers.finance_review")
@depends_on(routing="routing_decision_dsl_py")
def finance_review(routing):
    return _approval(routing, "finance", "finance@example.com", "Finance review completed for large amount",
                     budget_code="CAPEX-2024")


@step_handler("conditional_approval_dsl_py.step_handlers.finalize_approval")
@depends_on(auto="auto_approve_dsl_py", manager="manager_approval_dsl_py", finance="finance_review_dsl_py")
def finalize_approval(auto, manager, finance):
    approvals = [{"type": kind, "approved": r.get("approved", False), "approver": r.get("approver")}
                 for kind, r in (("auto", auto), ("manager", manager), ("finance", finance)) if r]
    all_approved = all(a["approved"] for a in approvals)
    return {"final_status": "approved" if all_approved else "rejected", "approval_count": len(approvals),
            "approvals": approvals, "all_approved": all_approved}
