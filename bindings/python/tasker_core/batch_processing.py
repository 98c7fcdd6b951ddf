"""Batch processing helpers (mix :class:`Batchable` into a StepHandler).

A ``batchable`` step returns ``batch_analyzer_success(...)``: orchestration
then creates one ``batch_worker`` step per cursor range, named
``<worker_template_name>_<batch_id>``, whose inputs hold the range. A worker
returns ``batch_worker_success(...)`` or, to persist progress and be run
again from there, ``checkpoint_yield(...)``. A ``deferred_convergence``
step aggregates the workers with ``detect_aggregation_scenario(...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tasker_core.types import (BatchAnalyzerOutcome, BatchWorkerContext, BatchWorkerOutcome, CursorConfig, RustBatchWorkerInputs,
                               StepContext, StepHandlerResult, _dict, _meta, _result_of)


@dataclass
class BatchAggregationScenario:
    is_no_batches: bool
    batchable_result: dict[str, Any]
    batch_results: dict[str, dict[str, Any]]
    worker_count: int

    @classmethod
    def detect(cls, dependency_results: dict[str, Any], batchable_step_name: str, batch_worker_prefix: str) -> BatchAggregationScenario:
        analyzer = _result_of(dependency_results.get(batchable_step_name))
        if analyzer is None:
            raise ValueError(f"Missing batchable step dependency: {batchable_step_name}")
        analyzer = _dict(analyzer)
        outcome = analyzer.get("batch_processing_outcome")
        if isinstance(outcome, dict) and outcome.get("type") == "no_batches":
            return cls(True, analyzer, {}, 0)
        workers = {name: _dict(_result_of(dep)) for name, dep in dependency_results.items() if name.startswith(batch_worker_prefix)}
        if not workers:
            raise ValueError(f"No batch workers found with prefix '{batch_worker_prefix}' and batchable step "
                             f"'{batchable_step_name}' did not return a no_batches outcome")
        return cls(False, analyzer, workers, len(workers))

    def no_batches(self) -> bool:
        return self.is_no_batches


@dataclass
class BatchWorkerConfig:
    batch_id: str
    cursor_start: int
    cursor_end: int
    row_count: int
    worker_index: int
    total_workers: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Batchable:
    """Mixin for analyzers, workers and aggregators of batch workflows."""

    # --- analyzer side ---
    def create_cursor_config(self, start: int, end: int, step_size: int = 1, metadata: dict[str, Any] | None = None) -> CursorConfig:
        return CursorConfig(start, end, step_size, metadata or {})

    def create_cursor_ranges(self, total_items: int, batch_size: int, step_size: int = 1,
                             max_batches: int | None = None) -> list[CursorConfig]:
        """Split ``0..total_items`` into end-exclusive ranges of ``batch_size``
        (grown so there are at most ``max_batches``)."""
        if total_items == 0:
            return []
        if batch_size <= 0:
            raise ValueError("batch_size must be > 0")
        if max_batches and -(-total_items // batch_size) > max_batches:
            batch_size = -(-total_items // max_batches)
        return [CursorConfig(s, min(s + batch_size, total_items), step_size) for s in range(0, total_items, batch_size)]

    def create_cursor_configs(self, total_items: int, worker_count: int) -> list[BatchWorkerConfig]:
        if worker_count <= 0:
            raise ValueError("worker_count must be > 0")
        per = -(-total_items // worker_count) if total_items else 0
        out = []
        for i in range(worker_count):
            start, end = i * per, min((i + 1) * per, total_items)
            if start >= total_items:
                break
            out.append(BatchWorkerConfig(f"{i + 1:03d}", start, end, end - start, i, worker_count))
        return out

    def create_batch_outcome(self, total_items: int, batch_size: int, step_size: int = 1,
                             batch_metadata: dict[str, Any] | None = None) -> BatchAnalyzerOutcome:
        return BatchAnalyzerOutcome(self.create_cursor_ranges(total_items, batch_size, step_size), total_items, batch_metadata or {})

    def create_batch_outcome_from_ranges(self, ranges: list[tuple[int, int]], step_size: int = 1,
                                         total_items: int | None = None,
                                         batch_metadata: dict[str, Any] | None = None) -> BatchAnalyzerOutcome:
        return BatchAnalyzerOutcome.from_ranges(ranges, step_size, total_items, batch_metadata)

    def batch_analyzer_success(self, outcome: BatchAnalyzerOutcome | None = None, metadata: dict[str, Any] | None = None,
                               worker_template_name: str = "batch_worker", cursor_configs: list[CursorConfig] | None = None,
                               total_items: int | None = None, batch_metadata: dict[str, Any] | None = None) -> StepHandlerResult:
        """The analyzer's result: create one worker per cursor range (none: no_batches)."""
        if cursor_configs is not None:
            configs, total, bmeta = cursor_configs, total_items or 0, batch_metadata or {}
        elif outcome is not None:
            configs, total, bmeta = outcome.cursor_configs, outcome.total_items or 0, outcome.batch_metadata
        else:
            return self.no_batches_outcome("no_cursor_configs_provided")
        if not configs:
            return self.no_batches_outcome(bmeta.get("reason", "empty_dataset"), bmeta)
        cursors = [{"batch_id": f"{i + 1:03d}", "start_cursor": c.start_cursor, "end_cursor": c.end_cursor,
                    "batch_size": c.end_cursor - c.start_cursor} for i, c in enumerate(configs)]
        outcome_data = {"type": "create_batches", "worker_template_name": worker_template_name, "worker_count": len(cursors),
                        "cursor_configs": cursors, "total_items": total}
        result: dict[str, Any] = {"batch_processing_outcome": outcome_data, "worker_count": len(cursors), "total_items": total}
        if bmeta:
            result["batch_metadata"] = bmeta
        return StepHandlerResult.success(result, _meta(metadata, batch_analyzer=True))

    def no_batches_outcome(self, reason: str, metadata: dict[str, Any] | None = None) -> StepHandlerResult:
        result: dict[str, Any] = {"batch_processing_outcome": {"type": "no_batches"}, "reason": reason, **(metadata or {})}
        return StepHandlerResult.success(result, {"batch_analyzer": True, "no_batches": True})

    # --- worker side ---
    def get_batch_worker_inputs(self, context: StepContext) -> RustBatchWorkerInputs | None:
        try:
            return RustBatchWorkerInputs.model_validate(context.step_inputs) if context.step_inputs else None
        except (KeyError, TypeError, ValueError):
            return None

    def get_batch_context(self, context: StepContext) -> BatchWorkerContext | None:
        return BatchWorkerContext.from_step_context(context)

    def handle_no_op_worker(self, context: StepContext) -> StepHandlerResult | None:
        """A success for orchestration's placeholder worker (no batches), else None."""
        inputs = self.get_batch_worker_inputs(context)
        if inputs is None or not inputs.is_no_op:
            return None
        return StepHandlerResult.success({"batch_id": inputs.cursor.batch_id, "no_op": True, "processed_count": 0,
                                          "message": "No batches to process",
                                          "processed_at": datetime.now(timezone.utc).isoformat()})

    def create_worker_outcome(self, items_processed: int, items_succeeded: int = 0, items_failed: int = 0,
                              items_skipped: int = 0, results: list[dict[str, Any]] | None = None,
                              errors: list[dict[str, Any]] | None = None, last_cursor: int | None = None,
                              batch_metadata: dict[str, Any] | None = None) -> BatchWorkerOutcome:
        return BatchWorkerOutcome(items_processed, items_succeeded or items_processed, items_failed, items_skipped,
                                  results or [], errors or [], last_cursor, batch_metadata or {})

    def batch_worker_success(self, outcome: BatchWorkerOutcome | None = None, metadata: dict[str, Any] | None = None,
                             items_processed: int | None = None, items_succeeded: int | None = None, items_failed: int = 0,
                             items_skipped: int = 0, results: list[dict[str, Any]] | None = None,
                             errors: list[dict[str, Any]] | None = None, last_cursor: Any = None,
                             batch_metadata: dict[str, Any] | None = None) -> StepHandlerResult:
        if items_processed is not None:
            o = BatchWorkerOutcome(items_processed, items_processed if items_succeeded is None else items_succeeded,
                                   items_failed, items_skipped, results or [], errors or [], last_cursor, batch_metadata or {})
        elif outcome is not None:
            o = outcome
        else:
            return StepHandlerResult.failure("batch_worker_success requires either outcome or items_processed", "invalid_args", False)
        return StepHandlerResult.success(self._worker_result(o), _meta(metadata, batch_worker=True))

    def batch_worker_partial_failure(self, outcome: BatchWorkerOutcome, message: str | None = None,
                                     metadata: dict[str, Any] | None = None) -> StepHandlerResult:
        result = {**self._worker_result(outcome), "partial_failure": True}
        if message:
            result["partial_failure_message"] = message
        return StepHandlerResult.success(result, _meta(metadata, batch_worker=True, had_failures=True))

    @staticmethod
    def _worker_result(o: BatchWorkerOutcome) -> dict[str, Any]:
        result: dict[str, Any] = {"items_processed": o.items_processed, "items_succeeded": o.items_succeeded,
                                  "items_failed": o.items_failed, "items_skipped": o.items_skipped,
                                  "last_cursor": o.last_cursor, "batch_metadata": o.batch_metadata}
        if o.results:
            result["results"] = o.results
        if o.errors:
            result["errors"] = o.errors
        return result

    def checkpoint_yield(self, cursor: Any, items_processed: int,
                         accumulated_results: Any = None) -> StepHandlerResult:
        """Persist progress and have the same step run again from ``cursor``."""
        result: dict[str, Any] = {"type": "checkpoint_yield", "cursor": cursor, "items_processed": items_processed}
        if accumulated_results is not None:
            result["accumulated_results"] = accumulated_results
        return StepHandlerResult.success(result, {"checkpoint_yield": True, "batch_worker": True})

    # --- aggregator side ---
    def detect_aggregation_scenario(self, dependency_results: dict[str, Any], batchable_step_name: str,
                                    batch_worker_prefix: str) -> BatchAggregationScenario:
        return BatchAggregationScenario.detect(dependency_results, batchable_step_name, batch_worker_prefix)

    def no_batches_aggregation_result(self, zero_metrics: dict[str, Any] | None = None) -> StepHandlerResult:
        return StepHandlerResult.success({"worker_count": 0, "scenario": "no_batches", **(zero_metrics or {})})

    def aggregate_batch_worker_results(self, scenario: BatchAggregationScenario, zero_metrics: dict[str, Any] | None = None,
                                       aggregation_fn: Callable[[dict[str, dict[str, Any]]], dict[str, Any]] | None = None) -> StepHandlerResult:
        if scenario.is_no_batches:
            return self.no_batches_aggregation_result(zero_metrics)
        aggregated = aggregation_fn(scenario.batch_results) if aggregation_fn else {"batch_results": scenario.batch_results}
        return StepHandlerResult.success({**aggregated, "worker_count": scenario.worker_count, "scenario": "with_batches"})

    @staticmethod
    def aggregate_worker_results(worker_results: list[dict[str, Any]]) -> dict[str, Any]:
        present = [r for r in worker_results if r is not None]
        totals = {k: sum(r.get(k, 0) for r in present) for k in ("items_processed", "items_succeeded", "items_failed", "items_skipped")}
        errors = [e for r in present for e in (r.get("errors") or [])]
        processed = totals["items_processed"]
        return {"total_processed": processed, "total_succeeded": totals["items_succeeded"], "total_failed": totals["items_failed"],
                "total_skipped": totals["items_skipped"], "batch_count": len(worker_results),
                "success_rate": totals["items_succeeded"] / processed if processed > 0 else 0.0,
                "errors": errors[:100], "error_count": len(errors)}


__all__ = ["Batchable", "BatchAggregationScenario", "BatchWorkerConfig"]
