"""CSV batch processing, decorator style (template batch_processing_dsl_py).

The analyzer counts the CSV's rows and asks for at most ``max_workers``
batches; each worker sums price x stock over its rows; the aggregator adds
them up (products.csv: 1,000 rows, 5 workers, 35,588,047.0). Needs batch
steps in the engine.
"""

import csv
import os

from tasker_core import Batchable, StepHandler, StepHandlerResult
from tasker_core.step_handler.functional import BatchConfig, batch_analyzer, inputs


@batch_analyzer("batch_processing_dsl_py.step_handlers.csv_analyzer", worker_template="process_csv_batch_dsl_py")
@inputs("csv_file_path")
def csv_analyzer(csv_file_path, context):
    if not csv_file_path:
        return StepHandlerResult.failure("csv_file_path is required", "validation_error", False)
    batch_size = context.step_config.get("batch_size", 200)
    max_workers = context.step_config.get("max_workers", 5)
    try:
        with open(csv_file_path, encoding="utf-8") as f:
            rows = max(sum(1 for _ in csv.reader(f)) - 1, 0)
    except OSError:
        rows = 0
    if rows == 0:
        return BatchConfig(total_items=0, batch_size=batch_size)
    workers = min(-(-rows // batch_size), max_workers)
    return BatchConfig(total_items=rows, batch_size=-(-rows // workers),
                       metadata={"csv_file_path": csv_file_path, "batch_size": batch_size,
                                 "analysis_mode": context.get_input_or("analysis_mode", "default")})


def process_rows(path, start, end):
    """Rows start+1..end (1-based, header excluded): inventory value of each."""
    results, errors = [], []
    with open(path, encoding="utf-8") as f:
        for row_number, row in enumerate(csv.DictReader(f), start=1):
            if row_number <= start:
                continue
            if row_number > end:
                break
            try:
                price, stock = float(row.get("price", 0)), int(row.get("stock", 0))
            except (TypeError, ValueError) as exc:
                errors.append({"row_number": row_number, "error": str(exc)})
                continue
            results.append({"row_number": row_number, "product_id": row.get("id", f"PROD-{row_number}"),
                            "inventory_value": price * stock, "price": price, "stock": stock})
    return results, errors


class CsvBatchProcessorDslHandler(StepHandler, Batchable):
    handler_name = "batch_processing_dsl_py.step_handlers.csv_batch_processor"

    def call(self, context):
        inputs_ = context.step_inputs
        if inputs_.get("is_no_op"):
            return self.batch_worker_success(items_processed=0, items_succeeded=0, results=[], errors=[],
                                             last_cursor=0, metadata={"no_op": True})
        cursor = inputs_.get("cursor", {})
        path = context.get_dependency_field("analyze_csv_dsl_py", "batch_metadata", "csv_file_path")
        if not path or not os.path.exists(path):
            return StepHandlerResult.failure("csv_file_path not found in batch metadata", "dependency_error", False)
        results, errors = process_rows(path, cursor.get("start_cursor", 0), cursor.get("end_cursor", 0))
        return self.batch_worker_success(items_processed=len(results) + len(errors), items_succeeded=len(results),
                                         items_failed=len(errors), results=results, errors=errors,
                                         last_cursor=cursor.get("end_cursor", 0),
                                         metadata={"batch_id": cursor.get("batch_id", "unknown")})


def aggregate_inventory(handler, context, prefix):
    workers = [r for r in context.get_all_dependency_results(prefix) if isinstance(r, dict)]
    totals = handler.aggregate_worker_results(workers)
    value = sum(item.get("inventory_value", 0.0) for w in workers for item in w.get("results", []))
    summary = {"total_processed": totals["total_processed"], "total_inventory_value": value,
               "worker_count": totals["batch_count"]}
    return StepHandlerResult.success({**summary, "total_succeeded": totals["total_succeeded"],
                                      "total_failed": totals["total_failed"], "result": summary})


class CsvResultsAggregatorDslHandler(StepHandler, Batchable):
    handler_name = "batch_processing_dsl_py.step_handlers.csv_results_aggregator"

    def call(self, context):
        return aggregate_inventory(self, context, "process_csv_batch_")
