"""Checkpoint yield, decorator style (template checkpoint_yield_test_dsl).

One batch over ``total_items`` (default 100); the worker yields a checkpoint
every ``items_per_checkpoint`` (default 25) items and resumes from it; item i
is worth i+1 (100 items: running_total 5050). ``fail_after_items`` /
``fail_on_attempt`` / ``permanent_failure`` inject failures. Needs batch steps
in the engine.
"""

from tasker_core import Batchable, ErrorType, StepHandler
from tasker_core.step_handler.functional import BatchConfig, batch_analyzer


@batch_analyzer("checkpoint_yield_dsl_py.step_handlers.checkpoint_yield_analyzer",
                worker_template="checkpoint_yield_batch_dsl_py")
def checkpoint_yield_analyzer(context):
    total = context.get_input_or("total_items", 100)
    if total <= 0:
        return BatchConfig(total_items=0, batch_size=1)
    return BatchConfig(total_items=total, batch_size=total,
                       metadata={"test_type": "checkpoint_yield", "items_per_batch": total})


class CheckpointWorker(StepHandler, Batchable):
    """Processes its range, yielding every ``items_per_checkpoint`` items."""

    handler_name = "checkpoint_yield_dsl_py.step_handlers.checkpoint_yield_worker"

    def call(self, context):
        no_op = self.handle_no_op_worker(context)
        if no_op:
            return no_op
        batch = self.get_batch_worker_inputs(context)
        if batch is None:
            return self.failure("No batch inputs found", ErrorType.VALIDATION_ERROR, False)
        every = context.get_input_or("items_per_checkpoint", context.get_config("items_per_checkpoint") or 25)
        fail_after = context.get_input("fail_after_items")
        fail_attempt = context.get_input_or("fail_on_attempt", 1)
        permanent = context.get_input_or("permanent_failure", False)
        if context.has_checkpoint():
            cursor = context.checkpoint_cursor or batch.cursor.start_cursor
            acc = context.accumulated_results or {"running_total": 0, "item_ids": []}
            done = context.checkpoint_items_processed
        else:
            cursor, acc, done = batch.cursor.start_cursor, {"running_total": 0, "item_ids": []}, 0
        end, in_chunk = batch.cursor.end_cursor, 0
        while cursor < end:
            if fail_after is not None and done >= fail_after and context.retry_count + 1 == fail_attempt:
                kind = "permanent" if permanent else "transient"
                return self.failure(f"Injected {kind} failure after {done} items",
                                    ErrorType.PERMANENT_ERROR if permanent else ErrorType.RETRYABLE_ERROR, not permanent,
                                    {"items_processed": done, "cursor_at_failure": cursor, "failure_type": kind})
            acc["running_total"] += cursor + 1
            acc["item_ids"].append(f"item_{cursor:04d}")
            cursor, in_chunk, done = cursor + 1, in_chunk + 1, done + 1
            if in_chunk >= every and cursor < end:
                return self.checkpoint_yield(cursor=cursor, items_processed=done, accumulated_results=acc)
        return self.batch_worker_success(items_processed=done, items_succeeded=done, items_failed=0,
                                         batch_metadata={**acc, "final_cursor": cursor, "checkpoints_used": done // every})


def aggregate_checkpoints(handler, context, analyzer, prefix):
    scenario = handler.detect_aggregation_scenario(context.dependency_results, analyzer, prefix)
    if scenario.is_no_batches:
        return handler.no_batches_aggregation_result({"total_processed": 0, "running_total": 0, "test_passed": True,
                                                      "scenario": "no_batches"})
    results = [r for r in scenario.batch_results.values() if r]
    metas = [r.get("batch_metadata", {}) for r in results]
    return handler.success({
        "total_processed": sum(r.get("items_processed", 0) for r in results),
        "running_total": sum(m.get("running_total", 0) for m in metas),
        "item_count": sum(len(m.get("item_ids", [])) for m in metas),
        "checkpoints_used": sum(m.get("checkpoints_used", 0) for m in metas),
        "worker_count": scenario.worker_count, "test_passed": True, "scenario": "with_batches"})


class CheckpointAggregator(StepHandler, Batchable):
    handler_name = "checkpoint_yield_dsl_py.step_handlers.checkpoint_yield_aggregator"

    def call(self, context):
        return aggregate_checkpoints(self, context, "analyze_items_dsl_py", "checkpoint_yield_batch_dsl_py_")
