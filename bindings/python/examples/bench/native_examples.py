"""Python handlers for the native Go worker's example templates, for
`tasker bench --handlers python`.

They serve examples_linear, examples_diamond, examples_dag and examples_tree
(workers/native/templates) under the templates' callables and compute what
the Go handlers compute: a root step squares the task's even_number, every
other step squares the product of its parents' results. Each result is an
object whose "result" field holds the number, as the Go handlers return it.

    python3 -m tasker_core.worker --handlers bindings/python/examples/bench \\
        --templates workers/native/templates
"""

from tasker_core import StepHandler, StepHandlerResult
from tasker_core.registry import HandlerRegistry

PARENTS = {
    "linear_workflow": {
        "LinearStep1Handler": [],
        "LinearStep2Handler": ["linear_step_1"],
        "LinearStep3Handler": ["linear_step_2"],
        "LinearStep4Handler": ["linear_step_3"],
    },
    "diamond_workflow": {
        "DiamondStartHandler": [],
        "DiamondBranchBHandler": ["diamond_start"],
        "DiamondBranchCHandler": ["diamond_start"],
        "DiamondEndHandler": ["diamond_branch_b", "diamond_branch_c"],
    },
    "mixed_dag_workflow": {
        "DagInitHandler": [],
        "DagProcessLeftHandler": ["dag_init"],
        "DagProcessRightHandler": ["dag_init"],
        "DagValidateHandler": ["dag_process_left", "dag_process_right"],
        "DagTransformHandler": ["dag_process_left"],
        "DagAnalyzeHandler": ["dag_process_right"],
        "DagFinalizeHandler": ["dag_validate", "dag_transform", "dag_analyze"],
    },
    "tree_workflow": {
        "TreeRootHandler": [],
        "TreeBranchLeftHandler": ["tree_root"],
        "TreeBranchRightHandler": ["tree_root"],
        "TreeLeafDHandler": ["tree_branch_left"],
        "TreeLeafEHandler": ["tree_branch_left"],
        "TreeLeafFHandler": ["tree_branch_right"],
        "TreeLeafGHandler": ["tree_branch_right"],
        "TreeFinalConvergenceHandler": ["tree_leaf_d", "tree_leaf_e", "tree_leaf_f", "tree_leaf_g"],
    },
}


def _as_int(value):
    """A parent's number: an integer, or the decimal string a large one is."""
    if isinstance(value, dict):
        value = value.get("result")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


class SquaringHandler(StepHandler):
    """Squares the product of its parents' results (the task's even_number
    for a root step). Subclasses set ``parents``."""

    parents: list[str] = []

    def call(self, context):
        if not self.parents:
            n = context.get_input("even_number")
            if not isinstance(n, int) or isinstance(n, bool) or n % 2 != 0:
                return StepHandlerResult.failure(f"even_number must be an even integer, got: {n!r}", "validation_error", False)
            factors = {"even_number": n}
        else:
            factors = {}
            for parent in self.parents:
                value = _as_int(context.get_dependency_result(parent))
                if value is None:
                    return StepHandlerResult.failure(f"{parent} result not found", "dependency_error", True)
                factors[parent] = value
        product = 1
        for value in factors.values():
            product *= value
        return StepHandlerResult.success({"result": product * product, "operation": "square" if len(factors) == 1 else "multiply_and_square",
                                          "inputs": factors})


def _register():
    registry = HandlerRegistry.instance()
    for workflow, handlers in PARENTS.items():
        for name, parents in handlers.items():
            callable_name = f"tasker_example_rs::step_handlers::{workflow}::{name}"
            cls = type(name, (SquaringHandler,), {"parents": parents, "handler_name": callable_name})
            registry.register(callable_name, cls)


_register()
