"""Measures how much slower the first work after a sleep runs than the same
work in a tight loop: one call into the worker library (``tasker_free(NULL)``,
a cgo callback that does nothing) and decoding a captured poll reply
(``json.loads``), each timed after sleeping 0, 0.5, 5 and 20 ms. A binding's
handler thread runs every step right after sleeping in its poll (5 ms and
more between the steps of a sequential task), so this is the factor by which
the interpreter's per-step work grows in the bench's latency scenarios.

    python3 bindings/python/tools/cold_cost.py build/libtasker_worker.so

It also times what the worker decodes of the same event from the indexed
poll's reply (bindings/capi/testdata/step_event_indexed.txt) for the bench
handler: the header, the initialization and the dependency results.
"""

from __future__ import annotations

import ctypes
import json
import sys
import time
from pathlib import Path


def main(path: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tasker_core.indexed_event import DEPENDENCY_RESULTS, INITIALIZATION, events_of

    lib = ctypes.CDLL(path)
    lib.tasker_free.argtypes, lib.tasker_free.restype = (ctypes.c_void_p,), None
    testdata = Path(__file__).resolve().parents[2] / "capi" / "testdata"
    event = (testdata / "step_event.json").read_text()
    reply = ('{"ok":true,"events":[%s],"state":"running"}' % event).encode()
    indexed = (testdata / "step_event_indexed.txt").read_bytes()

    def indexed_decode() -> None:
        ev = events_of(indexed)[0][0]
        ev.part(INITIALIZATION)
        ev.part(DEPENDENCY_RESULTS)

    for pause in (0, 0.0005, 0.005, 0.02):
        calls, decodes, parts = [], [], []
        for _ in range(300):
            if pause:
                time.sleep(pause)
            t0 = time.perf_counter_ns()
            lib.tasker_free(None)
            t1 = time.perf_counter_ns()
            json.loads(reply)
            t2 = time.perf_counter_ns()
            calls.append((t1 - t0) / 1000)
            decodes.append((t2 - t1) / 1000)
        for _ in range(300):
            if pause:
                time.sleep(pause)
            t0 = time.perf_counter_ns()
            indexed_decode()
            parts.append((time.perf_counter_ns() - t0) / 1000)
        calls.sort()
        decodes.sort()
        parts.sort()
        print(f"after sleeping {pause * 1000:4.1f} ms: library call p50 {calls[150]:5.1f} us, "
              f"json.loads p50 {decodes[150]:5.1f} us, indexed reply (header, initialization, dependency results) "
              f"p50 {parts[150]:5.1f} us")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/libtasker_worker.so")
