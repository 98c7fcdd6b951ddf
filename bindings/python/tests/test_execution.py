"""From a step event to the StepExecutionResult the library stores."""

import json
import math
import time
import unittest
from datetime import datetime, timezone
from decimal import Decimal

from tasker_core import HandlerRegistry, PermanentError, RetryableError, StepHandler, StepHandlerResult
from tasker_core.errors import ValidationError
from tasker_core.errors import NetworkError
from tasker_core import execution

from .support import make_event, run_event


class Handlers:
    class Ok(StepHandler):
        handler_name = "x.ok"

        def call(self, context):
            return StepHandlerResult.success({"n": context.get_input("n")}, {"note": "m"})

    class Returned(StepHandler):
        handler_name = "x.returned"

        def call(self, context):
            return context.get_input("value")

    class Failed(StepHandler):
        handler_name = "x.failed"

        def call(self, context):
            return StepHandlerResult.failure("nope", "validation_error", retryable=False, error_code="E1",
                                             metadata={"retry_after": 9})

    class RaisesPermanent(StepHandler):
        handler_name = "x.permanent"

        def call(self, context):
            raise ValidationError("Invalid payment method: test_invalid_card", error_code="BAD_CARD")

    class RaisesRetryable(StepHandler):
        handler_name = "x.retryable"

        def call(self, context):
            raise NetworkError("Payment service timeout after 30s", retry_after=5)

    class RaisesOther(StepHandler):
        handler_name = "x.other"

        def call(self, context):
            return {}["missing"]

    class Publishes(StepHandler):
        handler_name = "x.publishes"

        def call(self, context):
            context.publish_event("order.placed", {"n": context.get_input("n")})
            if context.get_input("fail"):
                raise PermanentError("declined")
            if context.get_input("unencodable"):
                context.publish_event("order.odd", {"x": object()})
            return {"ok": True}

    class Async(StepHandler):
        handler_name = "x.async"

        async def call(self, context):
            return {"async": True}

    class BadCtor(StepHandler):
        handler_name = "x.badctor"

        def __init__(self):
            raise RuntimeError("cannot build")

        def call(self, context):
            return None


def registry():
    r = HandlerRegistry()
    for cls in vars(Handlers).values():
        if isinstance(cls, type):
            r.register(cls.handler_name, cls)
    return r


class ResultPayloadTest(unittest.TestCase):
    r = registry()

    def test_success_json_is_the_dicts_encoding(self):
        # A success is written around the handler's values; the text must be
        # what encoding the whole payload as a dict gives.
        p = execution.prepare(self.r, make_event("x.ok"), time.monotonic())
        fixed = "2026-01-01T00:00:00.000001+00:00"
        original_now = execution.now
        execution.now = lambda: fixed
        self.addCleanup(setattr, execution, "now", original_now)
        for result, metadata, version, events in [
                (None, {}, None, []), ({"n": 1, "s": "é\u2028\"<"}, {"note": "m"}, "1.2", []), ([1, 2.5, None], None, None, []),
                ("text", {"k": [1]}, None, [{"event_name": "e", "payload": {"a": 1}}]), (7, {"set": {1}}, 3, [])]:
            r = StepHandlerResult.success(result, metadata)
            p.handler_version = version
            p.context.published_events = events
            meta = r.metadata
            want = {"step_uuid": p.step_uuid, "success": True, "metadata": {
                "execution_time_ms": 12, "retryable": False, "custom": meta, "worker_id": "w\u00e9", "started_at": p.started_at,
                "completed_at": fixed}, "error": None, "orchestration_metadata": None, "status": "completed",
                "result": {} if result is None else result}
            if version:
                want["metadata"]["handler_version"] = version
            if events:
                want["domain_events"] = events
            self.assertEqual(execution.result_payload(p, r, "w\u00e9", 12), execution._ENCODER.encode(want), result)
        bad = execution.result_payload(p, StepHandlerResult.success({"x": object()}), "w", 1)
        self.assertIn("invalid_result", bad)
        self.assertEqual(execution.dumps({"after": "an error"}), '{"after":"an error"}')

    def test_dumps_keeps_the_encoders_checks(self):
        loop = []
        loop.append(loop)
        for _ in range(2):  # the markers of a failed encode do not linger
            with self.assertRaisesRegex(ValueError, "Circular reference"):
                execution.dumps({"a": loop})
        with self.assertRaises(ValueError):
            execution.dumps([float("nan")])
        same = [1]
        self.assertEqual(execution.dumps([same, same]), "[[1],[1]]", "a value seen twice is not a cycle")

    def run_(self, name, **kw):
        kind, payload = run_event(self.r, make_event(name, **kw))
        self.assertEqual(kind, "complete")
        return payload

    def test_success(self):
        p = self.run_("x.ok", context={"n": 3})
        self.assertEqual((p["success"], p["status"], p["result"]), (True, "completed", {"n": 3}))
        self.assertEqual(p["metadata"]["custom"], {"note": "m"})
        self.assertEqual(p["metadata"]["retryable"], False)
        self.assertEqual(p["metadata"]["worker_id"], "test-worker")
        self.assertIsNone(p["error"])

    def test_published_events_travel_with_the_result(self):
        p = self.run_("x.publishes", context={"n": 7})
        self.assertEqual((p["success"], p["domain_events"]), (True, [{"event_name": "order.placed", "payload": {"n": 7}}]))
        # Published before the exception: kept with the failure.
        p = self.run_("x.publishes", context={"n": 8, "fail": True})
        self.assertEqual((p["success"], p["domain_events"]), (False, [{"event_name": "order.placed", "payload": {"n": 8}}]))
        self.assertNotIn("domain_events", self.run_("x.ok", context={"n": 1}))
        # A payload JSON cannot hold fails the step, without its events.
        p = self.run_("x.publishes", context={"n": 9, "unencodable": True})
        self.assertEqual(p["error"]["error_type"], "invalid_result")
        self.assertNotIn("domain_events", p)
        with self.assertRaises(ValueError):
            execution.StepContext().publish_event("")

    def test_returned_values(self):
        self.assertEqual(self.run_("x.returned", context={"value": {"a": 1}})["result"], {"a": 1})
        self.assertEqual(self.run_("x.returned", context={"value": None})["result"], {})
        self.assertEqual(self.run_("x.returned", context={"value": 42})["result"], {"result": 42})
        self.assertEqual(self.run_("x.returned", context={"value": [1, 2]})["result"], {"result": [1, 2]})

    def test_returned_failure_keeps_flags(self):
        p = self.run_("x.failed")
        self.assertEqual((p["success"], p["status"]), (False, "error"))
        self.assertEqual(p["error"]["message"], "nope")
        self.assertEqual((p["error"]["error_type"], p["error"]["retryable"]), ("validation_error", False))
        self.assertEqual(p["metadata"]["error_code"], "E1")
        self.assertIsNone(p["orchestration_metadata"], "no backoff hint for a step that will not be retried")

    def test_raised_permanent_error_is_not_retried(self):
        p = self.run_("x.permanent")
        self.assertFalse(p["error"]["retryable"])
        self.assertFalse(p["metadata"]["retryable"])
        self.assertEqual(p["error"]["error_type"], "ValidationError")
        self.assertEqual(p["error"]["message"], "Invalid payment method: test_invalid_card")
        self.assertEqual(p["metadata"]["error_code"], "BAD_CARD")
        self.assertTrue(any("raise ValidationError" in line for line in p["error"]["backtrace"]))

    def test_raised_retryable_error_carries_retry_after(self):
        p = self.run_("x.retryable")
        self.assertTrue(p["error"]["retryable"])
        self.assertEqual(p["error"]["error_type"], "NetworkError")
        self.assertEqual(p["orchestration_metadata"], {"backoff_hint": {"backoff_type": "ServerRequested", "delay_seconds": 5}})

    def test_uncaught_exception_is_retryable(self):
        p = self.run_("x.other")
        self.assertEqual((p["error"]["error_type"], p["error"]["retryable"]), ("KeyError", True))
        self.assertEqual(p["error"]["message"], "'missing'")
        self.assertIn("Traceback (most recent call last):", p["error"]["backtrace"][0])

    def test_async_handler(self):
        self.assertEqual(self.run_("x.async")["result"], {"async": True})

    def test_unknown_callable_and_method(self):
        p = self.run_("x.nobody")
        self.assertEqual((p["error"]["error_type"], p["error"]["retryable"]), ("handler_not_found", False))
        p = self.run_("x.ok", method="refund")
        self.assertIn("has no method 'refund'", p["error"]["message"])

    def test_constructor_failure(self):
        p = self.run_("x.badctor")
        self.assertEqual((p["error"]["error_type"], p["error"]["message"]), ("RuntimeError", "cannot build"))

    def test_values_json_cannot_hold(self):
        prep = execution.prepare(self.r, make_event("x.ok"), time.monotonic())
        odd = StepHandlerResult.success({"when": datetime(2026, 1, 2, tzinfo=timezone.utc), "d": Decimal("1.5"),
                                         "s": {3}, "t": (1, 2)})
        self.assertEqual(json.loads(execution.result_payload(prep, odd, "w", 1))["result"],
                         {"when": "2026-01-02T00:00:00+00:00", "d": "1.5", "s": [3], "t": [1, 2]})
        for bad in ({"x": object()}, {"x": math.nan}):
            p = json.loads(execution.result_payload(prep, StepHandlerResult.success(bad), "w", 1))
            self.assertEqual((p["success"], p["error"]["error_type"], p["error"]["retryable"]), (False, "invalid_result", False))

    def test_retry_after_from_metadata(self):
        prep = execution.prepare(self.r, make_event("x.ok"), time.monotonic())
        for meta, want in (({"retry_after": 2.2}, 3), ({"retry_after_seconds": 30}, 30), ({"retry_after": "soon"}, None),
                           ({"retry_after": True}, None), ({}, None)):
            p = json.loads(execution.result_payload(prep, StepHandlerResult.failure("f", metadata=meta), "w", 1))
            got = (p["orchestration_metadata"] or {}).get("backoff_hint", {}).get("delay_seconds")
            self.assertEqual(got, want, meta)

    def test_checkpoint_payload(self):
        from tasker_core import Batchable

        prep = execution.prepare(self.r, make_event("x.ok"), time.monotonic())
        r = Batchable().checkpoint_yield(cursor={"page": 2}, items_processed=20, accumulated_results={"sum": 1})
        self.assertTrue(execution.is_checkpoint(r))
        self.assertEqual(json.loads(execution.checkpoint_payload(prep, r)),
                         {"step_uuid": prep.step_uuid, "cursor": {"page": 2}, "items_processed": 20, "accumulated_results": {"sum": 1}})
        self.assertFalse(execution.is_checkpoint(StepHandlerResult.failure("x", metadata={"checkpoint_yield": True})))


class ClassBasedPermanentErrorTest(unittest.TestCase):
    def test_permanent_subclasses(self):
        class Custom(PermanentError):
            pass

        result, _ = execution.outcome_from_exception(Custom("stop"))
        self.assertEqual((result.retryable, result.error_type), (False, "Custom"))
        result, _ = execution.outcome_from_exception(RetryableError("again"))
        self.assertTrue(result.retryable)


if __name__ == "__main__":
    unittest.main()
