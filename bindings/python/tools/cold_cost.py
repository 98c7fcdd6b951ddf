"""Measures how much slower the first work after a sleep runs than the same
work in a tight loop: one call into the worker library (``tasker_free(NULL)``,
a cgo callback that does nothing) and decoding a captured poll reply
(``json.loads``), each timed after sleeping 0, 0.5, 5 and 20 ms. A binding's
handler thread runs every step right after sleeping in its poll (5 ms and
more between the steps of a sequential task), so this is the factor by which
the interpreter's per-step work grows in the bench's latency scenarios.

    python3 bindings/python/tools/cold_cost.py build/libtasker_worker.so
"""

from __future__ import annotations

import ctypes
import json
import sys
import time
from pathlib import Path


def main(path: str) -> None:
    lib = ctypes.CDLL(path)
    lib.tasker_free.argtypes, lib.tasker_free.restype = (ctypes.c_void_p,), None
    event = (Path(__file__).resolve().parents[2] / "capi" / "testdata" / "step_event.json").read_text()
    reply = ('{"ok":true,"events":[%s],"state":"running"}' % event).encode()
    for pause in (0, 0.0005, 0.005, 0.02):
        calls, decodes = [], []
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
        calls.sort()
        decodes.sort()
        print(f"after sleeping {pause * 1000:4.1f} ms: library call p50 {calls[150]:5.1f} us, "
              f"json.loads p50 {decodes[150]:5.1f} us")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/libtasker_worker.so")
