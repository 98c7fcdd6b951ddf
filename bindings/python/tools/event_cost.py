"""Measures what the Python worker spends on one step event on the host
side, without a database: the poll reply is decoded, the handler runs (a
bench handler squaring its parent's result) and the result is encoded,
exactly as :class:`tasker_core.worker.Worker` does it, against a stand-in
for the library that hands out a captured linear_step_2 event and keeps the
results. Reported as thread CPU microseconds per event
(``time.thread_time``: unlike wall time, it barely moves with the load of
the machine).

    PYTHONPATH=bindings/python python3 bindings/python/tools/event_cost.py [EVENTS]

The event is bindings/capi/testdata/step_event.json, polled as the worker
polls it: with the indexed poll (its reply, as the library writes it, is
bindings/capi/testdata/step_event_indexed.txt), or with the plain one
(``EVENT_COST_POLL=plain``, the reply decoded whole).
"""

from __future__ import annotations

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples", "bench"))

import native_examples  # noqa: E402,F401 - registers the bench handlers
from tasker_core import worker as worker_mod  # noqa: E402
from tasker_core.indexed_event import events_of  # noqa: E402

CALLABLE = "tasker_example_rs::step_handlers::linear_workflow::LinearStep2Handler"


class StandIn:
    """The library's side of the calls the worker makes: poll and
    poll_indexed decode the reply as tasker_core.ffi.Library does; complete
    keeps the result."""

    def __init__(self, reply: bytes, indexed_reply: bytes, indexed: bool) -> None:
        self.reply, self.indexed_reply, self.indexed, self.results = reply, indexed_reply, indexed, []

    def poll(self, handle: int, max_events: int, wait_ms: int) -> dict:
        return json.loads(self.reply)

    def poll_indexed(self, handle: int, max_events: int, wait_ms: int) -> tuple:
        events, header = events_of(self.indexed_reply)
        return events, header["state"]

    def complete(self, handle: int, event_id: str, result_json: str) -> dict:
        self.results.append(result_json)
        return {"ok": True}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    with open(os.path.join(HERE, "..", "..", "capi", "testdata", "step_event.json"), encoding="utf-8") as f:
        event = json.load(f)
    event["task_sequence_step"]["step_definition"]["handler"]["callable"] = CALLABLE
    with open(os.path.join(HERE, "..", "..", "capi", "testdata", "step_event_indexed.txt"), "rb") as f:
        indexed_reply = f.read()
    indexed = os.environ.get("EVENT_COST_POLL", "indexed") == "indexed"
    lib = StandIn(json.dumps({"ok": True, "events": [event], "state": "running"}).encode(), indexed_reply, indexed)
    w = worker_mod.Worker(callables=[CALLABLE], library=lib, concurrency=1)
    w.handle, w.worker_id = 1, "python-bench"

    def step() -> None:
        w._slots.acquire()
        w._start_run(w._poll_once()[0][0])

    for _ in range(int(os.environ.get("EVENT_COST_WARMUP", "2000"))):
        step()
    lib.results.clear()
    t0 = time.thread_time()
    for _ in range(n):
        step()
    total = time.thread_time() - t0
    result = json.loads(lib.results[-1])
    assert result["success"] and result["result"]["result"] == 36 * 36, result
    print(f"python {sys.version.split()[0]}, {'indexed' if indexed else 'plain'} poll, {n} events: "
          f"{total / n * 1e6:.1f} us CPU per event")


if __name__ == "__main__":
    main()
