"""Success / retryable / permanent scenarios, decorator style (templates
success_only_dsl_py, retryable_error_only_dsl_py, permanent_error_only_dsl_py)."""

from datetime import datetime, timezone

from tasker_core import StepHandlerResult
from tasker_core.step_handler.functional import inputs, step_handler


def _now():
    return datetime.now(timezone.utc).isoformat()


@step_handler("test_scenarios_dsl_py.step_handlers.success_step")
@inputs("message")
def success_step(message):
    return {"status": "success", "message": message or "Step completed successfully", "timestamp": _now(),
            "handler": "SuccessStepHandler"}


@step_handler("test_scenarios_dsl_py.step_handlers.retryable_error_step")
@inputs("error_message")
def retryable_error_step(error_message):
    return StepHandlerResult.failure(error_message or "Temporary failure - please retry", "temporary_error", True,
                                     {"handler": "RetryableErrorStepHandler", "timestamp": _now()})


@step_handler("test_scenarios_dsl_py.step_handlers.permanent_error_step")
@inputs("error_message")
def permanent_error_step(error_message):
    return StepHandlerResult.failure(error_message or "Permanent failure - do not retry", "permanent_error", False,
                                     {"handler": "PermanentErrorStepHandler", "timestamp": _now()})
