"""Diamond workflow, decorator style (template diamond_workflow_handler_dsl_py):
start n², B = start+25, C = start*2, end = (B+C)/2 — 6 gives 66.5."""

from tasker_core import StepHandlerResult
from tasker_core.step_handler.functional import depends_on, inputs, step_handler


def _value(output):
    return output.get("result") if isinstance(output, dict) else output


@step_handler("diamond_workflow_dsl_py.step_handlers.diamond_start")
@inputs("even_number")
def diamond_start(even_number):
    if even_number is None:
        return StepHandlerResult.failure("Task context must contain an even_number", "validation_error", False)
    if not isinstance(even_number, int) or even_number % 2 != 0:
        return StepHandlerResult.failure(f"even_number must be an even integer, got: {even_number}", "validation_error", False)
    return {"result": even_number * even_number, "operation": "square", "step_type": "initial"}


def _branch(start_output, branch, operation, **change):
    value = _value(start_output)
    if value is None:
        return StepHandlerResult.failure("Missing result from diamond_start_dsl_py", "dependency_error", True)
    result = value + change["constant"] if "constant" in change else value * change["factor"]
    return {"result": result, "operation": operation, **change, "input_value": value, "branch": branch}


@step_handler("diamond_workflow_dsl_py.step_handlers.diamond_branch_b")
@depends_on(start_output="diamond_start_dsl_py")
def diamond_branch_b(start_output):
    return _branch(start_output, "B", "add", constant=25)


@step_handler("diamond_workflow_dsl_py.step_handlers.diamond_branch_c")
@depends_on(start_output="diamond_start_dsl_py")
def diamond_branch_c(start_output):
    return _branch(start_output, "C", "multiply", factor=2)


@step_handler("diamond_workflow_dsl_py.step_handlers.diamond_end")
@depends_on(b_output="diamond_branch_b_dsl_py", c_output="diamond_branch_c_dsl_py")
def diamond_end(b_output, c_output):
    b, c = _value(b_output), _value(c_output)
    missing = [name for name, v in (("diamond_branch_b_dsl_py", b), ("diamond_branch_c_dsl_py", c)) if v is None]
    if missing:
        return StepHandlerResult.failure(f"Missing results from: {', '.join(missing)}", "dependency_error", True)
    return {"result": (b + c) / 2, "operation": "average", "branch_b_value": b, "branch_c_value": c,
            "step_type": "convergence"}
