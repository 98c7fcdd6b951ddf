"""Handlers for the end-to-end tests of the Python worker (templates in
tests/e2e_templates): each error kind, a slow step, an async step and a
trivial step for the scale run."""

import asyncio
import os
import threading
import time

from tasker_core import Batchable, PermanentError, RetryableError, StepHandler
from tasker_core.step_handler.functional import step_handler

P = "python_e2e.step_handlers."


class RaisesPermanent(StepHandler):
    """Raises PermanentError from a class handler: must fail at once, not be retried."""

    handler_name = P + "RaisesPermanent"

    def call(self, context):
        raise PermanentError("card declined for good", error_code="DECLINED")


class RaisesRetryable(StepHandler):
    """Raises RetryableError with a Retry-After of one second."""

    handler_name = P + "RaisesRetryable"

    def call(self, context):
        raise RetryableError(f"gateway busy (attempt {context.retry_count + 1})", retry_after=1)


class RaisesUncaught(StepHandler):
    handler_name = P + "RaisesUncaught"

    def call(self, context):
        return {"items": []}["missing"]


class NeverReturns(StepHandler):
    """Blocks far past its step timeout."""

    handler_name = P + "NeverReturns"

    def call(self, context):
        threading.Event().wait(3600)
        return {}


class Sleep(StepHandler):
    """Sleeps sleep_ms, then reports which process ran it."""

    handler_name = P + "Sleep"

    def call(self, context):
        time.sleep(context.get_input_or("sleep_ms", 100) / 1000)
        return {"slept_ms": context.get_input_or("sleep_ms", 100), "pid": os.getpid()}


class AsyncSleep(StepHandler):
    handler_name = P + "AsyncSleep"

    async def call(self, context):
        await asyncio.sleep(0.01)
        return {"async": True, "n": context.get_input("n")}


@step_handler(P + "noop")
def noop(context):
    return {"step": context.step_name}


class CountsWithCheckpoints(StepHandler, Batchable):
    """Adds up items 1..total, ten per run, yielding a checkpoint after each
    ten: the library stores it and runs the step again from there."""

    handler_name = P + "CountsWithCheckpoints"

    def call(self, context):
        total = context.get_input_or("total", 30)
        cursor = context.checkpoint_cursor or 0
        acc = context.accumulated_results or {"sum": 0, "runs": 0}
        end = min(cursor + 10, total)
        acc = {"sum": acc["sum"] + sum(range(cursor + 1, end + 1)), "runs": acc["runs"] + 1}
        if end < total:
            return self.checkpoint_yield(cursor=end, items_processed=end, accumulated_results=acc)
        return self.success({"sum": acc["sum"], "runs": acc["runs"], "history": len((context.checkpoint or {}).get("history", []))})
