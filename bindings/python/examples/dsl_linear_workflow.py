"""Linear workflow, decorator style (template linear_workflow_handler_dsl_py):
square, +10, x3, /2 — 6 gives 36, 46, 138, 69.0."""

from tasker_core import StepHandlerResult
from tasker_core.step_handler.functional import depends_on, inputs, step_handler


def _value(output, step):
    value = output.get("result") if isinstance(output, dict) else output
    if value is None:
        return None, StepHandlerResult.failure(f"Missing result from {step}", "dependency_error", True)
    return value, None


@step_handler("linear_workflow_dsl_py.step_handlers.linear_step_1")
@inputs("even_number")
def linear_step_1(even_number, _context):
    if even_number is None:
        return StepHandlerResult.failure("Task context must contain an even_number", "validation_error", False)
    if not isinstance(even_number, int) or even_number % 2 != 0:
        return StepHandlerResult.failure(f"even_number must be an even integer, got: {even_number}", "validation_error", False)
    return {"result": even_number * even_number, "operation": "square", "step_type": "initial",
            "input_refs": {"even_number": "task.context.even_number"}}


@step_handler("linear_workflow_dsl_py.step_handlers.linear_step_2")
@depends_on(previous="linear_step_1_dsl_py")
def linear_step_2(previous):
    value, failure = _value(previous, "linear_step_1_dsl_py")
    return failure or {"result": value + 10, "operation": "add", "constant": 10, "input_value": value}


@step_handler("linear_workflow_dsl_py.step_handlers.linear_step_3")
@depends_on(previous="linear_step_2_dsl_py")
def linear_step_3(previous):
    value, failure = _value(previous, "linear_step_2_dsl_py")
    return failure or {"result": value * 3, "operation": "multiply", "factor": 3, "input_value": value}


@step_handler("linear_workflow_dsl_py.step_handlers.linear_step_4")
@depends_on(previous="linear_step_3_dsl_py")
def linear_step_4(previous):
    value, failure = _value(previous, "linear_step_3_dsl_py")
    return failure or {"result": value / 2, "operation": "divide", "divisor": 2, "input_value": value}
