"""Method dispatch, decorator style (template method_dispatch_dsl_py).

The template points four steps at one callable with ``handler.method``
validate / process / refund / (default) call. A decorated function is one
method, so each method is its own function registered with ``method=``.
"""

import time

from tasker_core import StepHandlerResult
from tasker_core.step_handler.functional import inputs, step_handler

CALLABLE = "resolver_tests_dsl_py.step_handlers.multi_method"


def _base(method, message, context):
    return {"invoked_method": method, "handler": "MultiMethodHandler", "message": message,
            "step_uuid": str(context.step_uuid)}


@step_handler(CALLABLE)
@inputs("data")
def multi_method(data, context):
    return {**_base("call", "Default call method invoked", context), "input_received": data or {}}


@step_handler(CALLABLE, method="validate")
@inputs("data")
def multi_method_validate(data, context):
    data = data or {}
    if "amount" not in data:
        return StepHandlerResult.failure('Validation failed: missing required field "amount"', "validation_error", False)
    return {**_base("validate", "Validation completed successfully", context), "validated": True, "input_validated": data}


@step_handler(CALLABLE, method="process")
@inputs("data")
def multi_method_process(data, context):
    amount = (data or {}).get("amount", 0)
    processed = amount * 1.1
    return {**_base("process", "Processing completed", context), "original_amount": amount,
            "processed_amount": processed, "processing_fee": processed - amount}


@step_handler(CALLABLE, method="refund")
@inputs("data")
def multi_method_refund(data, context):
    data = data or {}
    return {**_base("refund", "Refund processed", context), "refund_amount": data.get("amount", 0),
            "refund_reason": data.get("reason", "not_specified"), "refund_id": f"refund_{int(time.time())}"}


@step_handler("resolver_tests_dsl_py.step_handlers.alternate_method")
def alternate_method(context):
    return _base("call", "Alternate handler default method", context) | {"handler": "AlternateMethodHandler"}
