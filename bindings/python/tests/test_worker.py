"""The worker's poll loop, slots, async loop, checkpoints, shutdown and log
bridge, against an in-memory stand-in for the worker library."""

import contextlib
import io
import logging
import os
import tempfile
import threading
import time
import unittest
from pathlib import Path
from unittest import mock

from tasker_core import Batchable, HandlerRegistry, StepHandler, StepHandlerResult
from tasker_core.ffi import TaskerLogHandler
from tasker_core.worker import Worker, main, runnable_callables

from .support import FakeLibrary, make_event

gate = threading.Event()
running = {"now": 0, "max": 0}
lock = threading.Lock()


class Blocking(StepHandler):
    handler_name = "w.blocking"

    def call(self, context):
        with lock:
            running["now"] += 1
            running["max"] = max(running["max"], running["now"])
        gate.wait(10)
        with lock:
            running["now"] -= 1
        return {"thread": threading.current_thread().name}


class Quick(StepHandler):
    handler_name = "w.quick"

    def call(self, context):
        return {"n": context.get_input("n")}


class AsyncHandler(StepHandler):
    handler_name = "w.async"

    async def call(self, context):
        return {"thread": threading.current_thread().name}


class Hangs(StepHandler):
    handler_name = "w.hangs"
    release = threading.Event()

    def call(self, context):
        self.release.wait(30)
        return {}


class Exits(StepHandler):
    handler_name = "w.exits"

    def call(self, context):
        raise SystemExit(3)


class Yields(StepHandler, Batchable):
    handler_name = "w.yields"

    def call(self, context):
        return self.checkpoint_yield(cursor=10, items_processed=10, accumulated_results={"t": 55})


def registry():
    r = HandlerRegistry()
    for cls in (Blocking, Quick, AsyncHandler, Hangs, Exits, Yields):
        r.register(cls.handler_name, cls)
    return r


class WorkerTest(unittest.TestCase):
    def start(self, concurrency=4, **kw):
        lib = FakeLibrary()
        w = Worker(registry(), concurrency=concurrency, library=lib, poll_wait_ms=50, **kw)
        w.start()
        self.addCleanup(w.stop, 0.5)
        return w, lib

    def test_poll_spin_is_passed_to_the_library(self):
        w, lib = self.start(poll_spin_us=150)
        self.assertEqual(lib.config["poll_spin_us"], 150)

    def test_runs_events_and_reports_results(self):
        w, lib = self.start()
        self.assertEqual(lib.config["language"], "python")
        self.assertIn("w.quick", lib.config["callables"])
        self.assertEqual(lib.config["overrides"], {"worker": {"handlers": {"max_concurrent": 4}}})
        self.assertNotIn("poll_spin_us", lib.config, "polls sleep at once unless asked to spin")
        events = [make_event("w.quick", context={"n": i}) for i in range(20)]
        for e in events:
            lib.push(e)
        lib.wait_for(20)
        for e in events:
            self.assertEqual(lib.completed[e["event_id"]]["result"], {"n": e["task_sequence_step"]["task"]["task"]["context"]["n"]})
        self.assertEqual(w.worker_id, "python-worker-test")

    def test_concurrency_is_bounded(self):
        gate.clear()
        running.update(now=0, max=0)
        w, lib = self.start(concurrency=3)
        for _ in range(9):
            lib.push(make_event("w.blocking"))
        deadline = time.monotonic() + 5
        while running["now"] < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(running["now"], 3)
        self.assertEqual(lib.max_batch, 1)  # each poller takes one step at a time
        gate.set()
        lib.wait_for(9)
        self.assertEqual(running["max"], 3)

    def test_async_handlers_run_on_the_loop_thread(self):
        _, lib = self.start()
        e = make_event("w.async")
        lib.push(e)
        lib.wait_for(1)
        self.assertEqual(lib.completed[e["event_id"]]["result"], {"thread": "tasker-asyncio"})

    def test_a_hung_handler_gives_its_slot_back_at_the_step_timeout(self):
        Hangs.release.clear()
        w, lib = self.start(concurrency=1)
        hung = make_event("w.hangs", timeout_seconds=1)
        lib.push(hung)
        lib.push(make_event("w.quick"))
        with self.assertLogs("tasker_core.worker", "WARNING") as logs:
            lib.wait_for(1, timeout=10)  # the quick one, once the hung step's slot came back
            lib.abandoned.add(hung["event_id"])  # the library failed it at its timeout
            Hangs.release.set()
            deadline = time.monotonic() + 5
            while w.completed < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
        self.assertNotIn(hung["event_id"], lib.completed)
        deadline = time.monotonic() + 5
        while w._pollers != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(w._pollers, 1, "the stuck thread retired once it came back; its replacement polls on")
        again = make_event("w.quick")
        lib.push(again)
        lib.wait_for(2)
        self.assertIn(again["event_id"], lib.completed)
        self.assertTrue(any("past its timeout" in m for m in logs.output), logs.output)
        self.assertTrue(any("gave it up" in m for m in logs.output), logs.output)

    def test_system_exit_in_a_handler_fails_the_step_only(self):
        _, lib = self.start()
        bad, good = make_event("w.exits"), make_event("w.quick")
        lib.push(bad)
        lib.push(good)
        lib.wait_for(2)
        self.assertEqual(lib.completed[bad["event_id"]]["error"]["error_type"], "SystemExit")
        self.assertTrue(lib.completed[good["event_id"]]["success"])

    def test_checkpoint_yield_goes_to_the_library(self):
        _, lib = self.start()
        e = make_event("w.yields")
        lib.push(e)
        lib.wait_for(1)
        self.assertEqual(lib.checkpoints, [(e["event_id"], {"step_uuid": e["step_uuid"], "cursor": 10, "items_processed": 10,
                                                            "accumulated_results": {"t": 55}})])

    def test_stop_lets_running_steps_finish(self):
        gate.clear()
        w, lib = self.start(concurrency=2, shutdown_timeout=3)
        e = make_event("w.blocking")
        lib.push(e)
        deadline = time.monotonic() + 5
        while running["now"] < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        threading.Timer(0.2, gate.set).start()
        w.stop()
        self.assertIn(e["event_id"], lib.completed)
        self.assertEqual(lib.stop_timeout_ms, 3000)
        deadline = time.monotonic() + 5
        while w._pollers and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(w._pollers, 0, "every poller ends once the library is stopped")
        w.stop()  # a second stop does nothing

    def test_log_bridge(self):
        w, lib = self.start()
        handler = TaskerLogHandler(lib, w.handle)
        w.log_handler = handler
        log = logging.getLogger("tests.bridge")
        log.addHandler(handler)
        log.setLevel(logging.DEBUG)
        log.propagate = False
        log.warning("careful %s", "now", extra={"fields": {"step": "s"}})
        log.debug("details")
        try:
            raise ValueError("bad")
        except ValueError:
            log.exception("failed")
        self.assertEqual(lib.logs[0], (7, "warn", "careful now", {"logger": "tests.bridge", "step": "s"}))
        self.assertEqual(lib.logs[1][1], "debug")
        self.assertIn("ValueError: bad", lib.logs[2][3]["exception"])
        w.stop(0.1)
        log.info("after stop")
        self.assertEqual(lib.logs[-1][:3], (0, "info", "after stop"))
        log.removeHandler(handler)

    def test_no_callables_is_refused(self):
        with self.assertRaisesRegex(Exception, "no handlers"):
            Worker(HandlerRegistry(), library=FakeLibrary()).start()
        with self.assertRaises(ValueError):
            Worker(HandlerRegistry(), concurrency=0)


class CommandLineTest(unittest.TestCase):
    def run_main(self, *args, env=None):
        err = io.StringIO()
        with mock.patch.dict(os.environ, env or {}), contextlib.redirect_stderr(err):
            code = main(list(args))
        return code, err.getvalue()

    def test_bad_input_exits_with_a_clear_message(self):
        code, err = self.run_main("--concurrency", "0")
        self.assertEqual((code, "--concurrency must be at least 1" in err), (2, True))
        with tempfile.TemporaryDirectory() as d:
            code, err = self.run_main("--handlers", d, env={"PYTHON_HANDLER_PATH": ""})
            self.assertEqual(code, 2)
            self.assertIn("no handlers found", err)
            Path(d, "pycli_broken.py").write_text("raise RuntimeError('boom')\n")
            code, err = self.run_main("--handlers", d)
            self.assertEqual(code, 2)
            self.assertIn("pycli_broken.py: RuntimeError: boom", err)

    def test_missing_library(self):
        with tempfile.TemporaryDirectory() as d:
            Path(d, "pycli_ok.py").write_text("from tasker_core import StepHandler\n"
                                              "class H(StepHandler):\n    handler_name = 'cli.h'\n"
                                              "    def call(self, context):\n        return {}\n")
            code, err = self.run_main("--handlers", d, env={"TASKER_WORKER_LIB": "/nonexistent/libtasker_worker.so"})
        self.assertEqual(code, 3)
        self.assertIn("cannot load the worker library '/nonexistent/libtasker_worker.so'", err)

    def test_runnable_callables_reports_missing(self):
        with tempfile.TemporaryDirectory() as d:
            Path(d, "t.yaml").write_text("steps:\n  - name: a\n    handler:\n      callable: w.quick\n"
                                         "  - name: b\n    handler:\n      callable: other.lang.Handler\n")
            callables, missing = runnable_callables(registry(), [d])
        self.assertIn("w.quick", callables)
        self.assertEqual(missing, ["other.lang.Handler"])


if __name__ == "__main__":
    unittest.main()
