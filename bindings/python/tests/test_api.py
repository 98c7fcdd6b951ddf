"""The handler API: context, results, errors, decisions, batches, the DSL."""

import asyncio
import unittest
from dataclasses import dataclass

from tasker_core import (
    Batchable,
    BatchConfig,
    Decision,
    DecisionHandler,
    ErrorType,
    NetworkError,
    PermanentError,
    RetryableError,
    StepContext,
    StepHandler,
    StepHandlerResult,
    TaskerError,
    StepValidationError,
)
from tasker_core.errors import ValidationError
from tasker_core.step_handler.functional import batch_analyzer, batch_worker, decision_handler, depends_on, inputs, step_handler

from .support import make_event


def dep(result):
    return {"step_uuid": "x", "success": True, "status": "completed", "result": result, "metadata": {}}


class StepContextTest(unittest.TestCase):
    def test_fields_come_from_the_event(self):
        event = make_event("a.B", step_name="s1", context={"n": 6, "none": None}, inputs={"cursor": 1},
                           initialization={"factor": 3}, attempts=2, max_attempts=3,
                           deps={"p": dep({"result": 36}), "q": dep(7), "batch_001": dep({"k": 1}), "batch_002": dep({"k": 2})})
        ctx = StepContext.from_ffi_event(event, "a.B")
        self.assertEqual(ctx.input_data, {"n": 6, "none": None})  # the task context, as in tasker-core's Python
        self.assertEqual(ctx.step_inputs, {"cursor": 1})
        self.assertEqual(ctx.step_config, {"factor": 3})
        self.assertEqual(ctx.get_config("factor"), 3)
        self.assertEqual((ctx.retry_count, ctx.max_retries, ctx.is_retry(), ctx.is_last_retry()), (2, 3, True, True))
        self.assertEqual(str(ctx.step_uuid), event["step_uuid"])
        self.assertEqual(ctx.step_name, "s1")
        self.assertEqual(ctx.get_input("n"), 6)
        self.assertEqual(ctx.get_input_or("none", "dflt"), "dflt")
        self.assertEqual(ctx.get_dependency_result("p"), {"result": 36})
        self.assertEqual(ctx.get_dependency_result("q"), 7)
        self.assertIsNone(ctx.get_dependency_result("missing"))
        self.assertEqual(ctx.get_dependency_field("p", "result"), 36)
        self.assertIsNone(ctx.get_dependency_field("q", "x"))
        self.assertEqual(ctx.get_all_dependency_results("batch_"), [{"k": 1}, {"k": 2}])
        self.assertEqual(ctx.get_dependency_result_keys(), ["p", "q", "batch_001", "batch_002"])
        self.assertFalse(ctx.has_checkpoint())
        self.assertEqual(ctx.checkpoint_items_processed, 0)
        self.assertEqual(ctx.task_sequence_step.workflow_step.name, "s1")
        self.assertEqual(ctx.task_sequence_step.get_task_field("n"), 6)
        self.assertEqual(ctx.task_sequence_step.get_dependency_result("q"), 7)

    def test_checkpoint_accessors(self):
        cp = {"cursor": 25, "items_processed": 25, "accumulated_results": {"sum": 325}, "history": []}
        ctx = StepContext.from_ffi_event(make_event("a.B", checkpoint=cp))
        self.assertTrue(ctx.has_checkpoint())
        self.assertEqual((ctx.checkpoint_cursor, ctx.checkpoint_items_processed, ctx.accumulated_results),
                         (25, 25, {"sum": 325}))

    def test_missing_parts_default(self):
        ctx = StepContext.from_ffi_event({"event_id": "e", "task_uuid": "not-a-uuid", "step_uuid": "", "task_sequence_step": {}})
        self.assertEqual((ctx.input_data, ctx.step_config, ctx.retry_count, ctx.max_retries), ({}, {}, 0, 3))
        self.assertEqual(ctx.task_uuid, "not-a-uuid")


class ResultAndErrorTest(unittest.TestCase):
    def test_factories(self):
        ok = StepHandlerResult.success({"a": 1}, {"m": 2})
        self.assertTrue(ok.is_success and ok.is_success_result())
        self.assertEqual((ok.result, ok.metadata), ({"a": 1}, {"m": 2}))
        bad = StepHandlerResult.failure("boom", ErrorType.VALIDATION_ERROR, retryable=False, error_code="E1")
        self.assertTrue(bad.is_failure_result())
        self.assertEqual((bad.error_message, bad.error_type, bad.retryable, bad.error_code),
                         ("boom", "validation_error", False, "E1"))
        self.assertEqual(StepHandlerResult.failure("x").error_type, "handler_error")
        self.assertTrue(StepHandlerResult(success=True, result={}).is_success)
        self.assertEqual(StepHandlerResult.success({}).model_dump()["success"], True)
        self.assertTrue(ErrorType.is_typically_retryable("timeout"))
        self.assertFalse(ErrorType.is_standard("custom"))

    def test_error_classes(self):
        self.assertTrue(NetworkError("n").retryable)
        self.assertFalse(ValidationError("v").retryable)
        self.assertIs(StepValidationError, ValidationError)
        self.assertTrue(issubclass(PermanentError, TaskerError))
        e = RetryableError("later", retry_after=5, error_code="RL", context={"k": 1})
        self.assertEqual(e.metadata, {"error_code": "RL", "retry_after": 5, "k": 1})
        self.assertEqual(e.to_dict()["error_type"], "RetryableError")
        self.assertTrue(TaskerError("x", retryable=False).retryable is False)


class HandlerHelpersTest(unittest.TestCase):
    def test_step_handler_helpers(self):
        class H(StepHandler):
            handler_name = "h"

            def call(self, context):
                return self.success()

        h = H()
        self.assertEqual(h.call(None).result, {})
        self.assertEqual(h.failure("m", retryable=False).retryable, False)
        self.assertEqual((h.name, h.version), ("h", "1.0.0"))
        with self.assertRaises(TypeError):
            StepHandler()  # abstract

    def test_decision_helpers(self):
        class D(DecisionHandler):
            handler_name = "d"

            def call(self, context):
                return None

        r = D().decision_success(["a", "b"], routing_context={"amount": 5})
        self.assertEqual(r.result, {"decision_point_outcome": {"type": "create_steps", "step_names": ["a", "b"]},
                                    "routing_context": {"amount": 5}})
        self.assertEqual(r.metadata["decision_handler"], "d")
        skip = D().skip_branches("nothing to do")
        self.assertEqual(skip.result, {"decision_point_outcome": {"type": "no_branches"}, "reason": "nothing to do"})
        fail = D().decision_failure("bad")
        self.assertEqual((fail.is_success, fail.error_type, fail.retryable), (False, "decision_error", False))


class BatchableTest(unittest.TestCase):
    b = Batchable()

    def test_cursor_ranges(self):
        ranges = self.b.create_cursor_ranges(1000, 200, max_batches=5)
        self.assertEqual([(c.start_cursor, c.end_cursor) for c in ranges], [(0, 200), (200, 400), (400, 600), (600, 800), (800, 1000)])
        self.assertEqual(len(self.b.create_cursor_ranges(1000, 100, max_batches=3)), 3)
        self.assertEqual(self.b.create_cursor_ranges(0, 10), [])
        with self.assertRaises(ValueError):
            self.b.create_cursor_ranges(5, 0)
        configs = self.b.create_cursor_configs(10, 3)
        self.assertEqual([(c.batch_id, c.cursor_start, c.cursor_end) for c in configs], [("001", 0, 4), ("002", 4, 8), ("003", 8, 10)])

    def test_analyzer_outcomes(self):
        r = self.b.batch_analyzer_success(cursor_configs=self.b.create_cursor_ranges(5, 2), total_items=5,
                                          worker_template_name="w", batch_metadata={"f": 1})
        outcome = r.result["batch_processing_outcome"]
        self.assertEqual(outcome["type"], "create_batches")
        self.assertEqual(outcome["cursor_configs"][2], {"batch_id": "003", "start_cursor": 4, "end_cursor": 5, "batch_size": 1})
        self.assertEqual((r.result["worker_count"], r.result["batch_metadata"]), (3, {"f": 1}))
        none = self.b.batch_analyzer_success(cursor_configs=[], total_items=0, batch_metadata={"reason": "empty"})
        self.assertEqual(none.result["batch_processing_outcome"], {"type": "no_batches"})
        self.assertEqual(none.result["reason"], "empty")

    def test_worker_helpers(self):
        ctx = StepContext.from_ffi_event(make_event("w", inputs={
            "cursor": {"batch_id": "002", "start_cursor": 10, "end_cursor": 20, "batch_size": 10},
            "batch_metadata": {"cursor_field": "id", "failure_strategy": "fail_fast"}, "is_no_op": False}))
        inputs_ = self.b.get_batch_worker_inputs(ctx)
        self.assertEqual((inputs_.cursor.batch_id, inputs_.cursor.start_cursor, inputs_.cursor.end_cursor), ("002", 10, 20))
        self.assertIsNone(self.b.handle_no_op_worker(ctx))
        bctx = self.b.get_batch_context(ctx)
        self.assertEqual((bctx.batch_id, bctx.start_cursor, bctx.end_cursor), ("002", 10, 20))
        noop = StepContext.from_ffi_event(make_event("w", inputs={"cursor": {"batch_id": "000", "start_cursor": 0, "end_cursor": 0}, "is_no_op": True}))
        self.assertTrue(self.b.handle_no_op_worker(noop).result["no_op"])
        done = self.b.batch_worker_success(items_processed=3, items_failed=1, results=[{"a": 1}])
        self.assertEqual((done.result["items_succeeded"], done.result["results"], done.metadata), (3, [{"a": 1}], {"batch_worker": True}))
        cp = self.b.checkpoint_yield(cursor=5, items_processed=5, accumulated_results={"t": 15})
        self.assertEqual((cp.result["type"], cp.metadata["checkpoint_yield"]), ("checkpoint_yield", True))

    def test_aggregation(self):
        deps = {"analyze": dep({"batch_processing_outcome": {"type": "create_batches"}}),
                "w_001": dep({"items_processed": 2, "items_succeeded": 2, "errors": [{"e": 1}]}),
                "w_002": dep({"items_processed": 3, "items_succeeded": 1})}
        s = self.b.detect_aggregation_scenario(deps, "analyze", "w_")
        self.assertEqual((s.is_no_batches, s.worker_count), (False, 2))
        agg = self.b.aggregate_worker_results(list(s.batch_results.values()))
        self.assertEqual((agg["total_processed"], agg["total_succeeded"], agg["error_count"], agg["batch_count"]), (5, 3, 1, 2))
        no = self.b.detect_aggregation_scenario({"analyze": dep({"batch_processing_outcome": {"type": "no_batches"}})}, "analyze", "w_")
        self.assertTrue(no.is_no_batches)
        self.assertEqual(self.b.no_batches_aggregation_result({"total": 0}).result, {"worker_count": 0, "scenario": "no_batches", "total": 0})
        with self.assertRaises(ValueError):
            self.b.detect_aggregation_scenario({}, "analyze", "w_")


@dataclass
class Order:
    id: int
    total: float = 0.0


class FunctionalTest(unittest.TestCase):
    def ctx(self, **kw):
        return StepContext.from_ffi_event(make_event("f", **kw))

    def test_injection_and_wrapping(self):
        @step_handler("ns.f")
        @depends_on(prev="step_a")
        @inputs("n", "missing")
        def f(prev, n, missing, context):
            return {"sum": prev["v"] + n, "missing": missing, "step": context.step_name}

        h = f._handler_class()
        r = h.call(self.ctx(context={"n": 2}, deps={"step_a": dep({"v": 40})}))
        self.assertEqual(r.result, {"sum": 42, "missing": None, "step": "step"})
        self.assertEqual(f._handler_class.handler_name, "ns.f")
        self.assertEqual(f(prev={"v": 1}, n=1, missing=None, context=self.ctx())["sum"], 2)  # still a plain function

        @step_handler("ns.g")
        def g():
            return 5

        self.assertEqual(g._handler_class().call(self.ctx()).result, {"result": 5})

        @step_handler("ns.none")
        def none():
            return None

        self.assertEqual(none._handler_class().call(self.ctx()).result, {})

    def test_model_inputs_and_deps(self):
        @step_handler("ns.m")
        @inputs(Order)
        @depends_on(prev=("step_a", Order))
        def m(inputs, prev):
            return {"id": inputs.id, "prev_total": prev.total}

        r = m._handler_class().call(self.ctx(context={"id": 9, "x": 1}, deps={"step_a": dep({"id": 1, "total": 2.5})}))
        self.assertEqual(r.result, {"id": 9, "prev_total": 2.5})

    def test_exceptions_become_failures(self):
        @step_handler("ns.p")
        def p():
            raise PermanentError("no", error_code="E")

        @step_handler("ns.r")
        def r():
            raise RetryableError("later", retry_after=7)

        @step_handler("ns.x")
        def x():
            raise KeyError("k")

        pr = p._handler_class().call(self.ctx())
        self.assertEqual((pr.error_type, pr.retryable, pr.metadata["error_code"]), ("permanent_error", False, "E"))
        rr = r._handler_class().call(self.ctx())
        self.assertEqual((rr.error_type, rr.retryable, rr.metadata["retry_after"]), ("retryable_error", True, 7))
        xr = x._handler_class().call(self.ctx())
        self.assertEqual((xr.error_type, xr.retryable, xr.metadata["exception_type"]), ("handler_error", True, "KeyError"))
        self.assertIn("Traceback", xr.metadata["traceback"])

    def test_async_function(self):
        @step_handler("ns.a")
        @inputs("n")
        async def a(n):
            await asyncio.sleep(0)
            return {"n": n}

        r = asyncio.run(a._handler_class().call(self.ctx(context={"n": 3})))
        self.assertEqual(r.result, {"n": 3})

    def test_decision_and_batch_decorators(self):
        @decision_handler("ns.d")
        @inputs("amount")
        def d(amount):
            return Decision.route(["big"], amount=amount) if amount > 10 else Decision.skip("small")

        routed = d._handler_class().call(self.ctx(context={"amount": 50}))
        self.assertEqual(routed.result["decision_point_outcome"], {"type": "create_steps", "step_names": ["big"]})
        self.assertEqual(routed.result["routing_context"], {"amount": 50})
        skipped = d._handler_class().call(self.ctx(context={"amount": 5}))
        self.assertEqual(skipped.result["decision_point_outcome"], {"type": "no_branches"})

        @batch_analyzer("ns.an", worker_template="work")
        def an():
            return BatchConfig(total_items=10, batch_size=4, metadata={"src": "x"})

        out = an._handler_class().call(self.ctx()).result
        self.assertEqual(out["batch_processing_outcome"]["worker_template_name"], "work")
        self.assertEqual(out["worker_count"], 3)

        @batch_worker("ns.bw")
        def bw(batch_context):
            return {"range": [batch_context.start_cursor, batch_context.end_cursor]}

        res = bw._handler_class().call(self.ctx(inputs={"cursor": {"batch_id": "001", "start_cursor": 4, "end_cursor": 8}}))
        self.assertEqual(res.result, {"range": [4, 8]})


if __name__ == "__main__":
    unittest.main()
