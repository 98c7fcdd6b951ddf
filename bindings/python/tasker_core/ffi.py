"""ctypes binding to the worker library (``libtasker_worker.so``, C ABI v1).

Every library function returns a JSON object it allocated; :class:`Library`
decodes it, frees it, and raises :class:`~tasker_core.errors.FFIError` (with
the library's error ``code``) when ``ok`` is false. ctypes releases the GIL
during each call, so a poll that waits does not stop other Python threads.

The library starts Go runtime threads as soon as it is loaded, and those do
not survive ``fork()``: load it (start the worker) in the process that will
use it, after any fork.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
from pathlib import Path
from typing import Any

from tasker_core.errors import FFIError
from tasker_core.indexed_event import IndexedEvent, events_of

ABI_VERSION = 1

# The argument types of the functions returning a reply: handle, text, int32.
_H, _S, _I = ctypes.c_uint64, ctypes.c_char_p, ctypes.c_int32
_FUNCTIONS: dict[str, tuple[Any, ...]] = {
    "tasker_worker_bootstrap": (_S,), "tasker_poll_step_events": (_H, _I, _I), "tasker_complete_step_event": (_H, _S, _S),
    "tasker_checkpoint_yield_step_event": (_H, _S, _S), "tasker_worker_status": (_H,), "tasker_health": (_H,),
    "tasker_metrics": (_H,), "tasker_log": (_H, _S, _S, _S), "tasker_begin_shutdown": (_H,), "tasker_stop": (_H, _I),
}
# Functions added to ABI version 1 after its first release: a library built
# before them works without them.
_OPTIONAL: dict[str, tuple[Any, ...]] = {"tasker_poll_step_events_indexed": (_H, _I, _I)}


def library_path(explicit: str | None = None) -> str:
    """Where the library is: ``explicit``, else ``$TASKER_WORKER_LIB``, else
    ``build/libtasker_worker.so`` of the source tree this package sits in,
    else the loader's search path."""
    given = explicit or os.environ.get("TASKER_WORKER_LIB")
    if given:
        return given
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "build" / "libtasker_worker.so"
        if candidate.exists():
            return str(candidate)
    return "libtasker_worker.so"


_OK = b'{"ok":true}'

# Set in a child process after fork(): only then can the process id differ
# from the one that loaded the library, so the common case makes no
# getpid() system call per call.
_forked = False


def _after_fork_in_child() -> None:
    global _forked
    _forked = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def _text(value: str | None) -> bytes | None:
    return None if value is None else value.encode("utf-8")


def _failed(name: str, reply: dict[str, Any]) -> FFIError:
    """The error of a reply whose ``ok`` is false."""
    err = reply.get("error") or {}
    return FFIError(f"{name}: {err.get('message', 'failed')}", code=err.get("code", "internal"))


class Library:
    """The loaded library; one per process is enough (it serves several workers)."""

    def __init__(self, path: str | None = None) -> None:
        self.path = library_path(path)
        try:
            self._lib = ctypes.CDLL(self.path)
        except OSError as exc:
            raise FFIError(f"cannot load the worker library {self.path!r}: {exc}; build it with "
                           "scripts/build-capi.sh or set TASKER_WORKER_LIB", code="not_loaded") from exc
        self._pid = os.getpid()
        self._lib.tasker_abi_version.restype, self._lib.tasker_abi_version.argtypes = ctypes.c_int32, ()
        self._lib.tasker_free.restype, self._lib.tasker_free.argtypes = None, (ctypes.c_void_p,)
        for name, argtypes in {**_FUNCTIONS, **_OPTIONAL}.items():
            if name in _FUNCTIONS or hasattr(self._lib, name):  # a required one missing raises AttributeError
                fn = getattr(self._lib, name)
                fn.restype, fn.argtypes = ctypes.c_void_p, argtypes
        #: whether the library has tasker_poll_step_events_indexed (poll_indexed)
        self.indexed = hasattr(self._lib, "tasker_poll_step_events_indexed")
        version = self._lib.tasker_abi_version()
        if version != ABI_VERSION:
            raise FFIError(f"{self.path}: C ABI version {version}, this package speaks {ABI_VERSION}", code="abi_mismatch")

    def _raw_call(self, name: str, *args: Any) -> bytes:
        if _forked and os.getpid() != self._pid:
            raise FFIError(f"the worker library was loaded in process {self._pid} and this is {os.getpid()} (a fork): "
                           "start the worker in the child process instead", code="forked")
        ptr = getattr(self._lib, name)(*args)
        if not ptr:
            raise FFIError(f"{name} returned NULL", code="internal")
        try:
            return ctypes.string_at(ptr)
        finally:
            self._lib.tasker_free(ptr)

    def _call(self, name: str, *args: Any) -> dict[str, Any]:
        raw = self._raw_call(name, *args)
        if raw == _OK:  # most replies (every completed step's): no need to decode them
            return {"ok": True}
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise FFIError(f"{name} returned invalid JSON: {raw[:200]!r}", code="internal") from exc
        if not data.get("ok"):
            raise _failed(name, data)
        return data

    def bootstrap(self, config: dict[str, Any]) -> dict[str, Any]:
        return self._call("tasker_worker_bootstrap", _text(json.dumps(config)))

    def poll(self, handle: int, max_events: int, wait_ms: int) -> dict[str, Any]:
        return self._call("tasker_poll_step_events", handle, max_events, wait_ms)

    def poll_indexed(self, handle: int, max_events: int, wait_ms: int) -> tuple[list[IndexedEvent], str]:
        """Polls with ``tasker_poll_step_events_indexed``: the events, each
        decoded only as far as it is read, and the worker's state."""
        raw = self._raw_call("tasker_poll_step_events_indexed", handle, max_events, wait_ms)
        try:
            events, header = events_of(raw)
        except ValueError as exc:
            raise FFIError(f"tasker_poll_step_events_indexed returned invalid JSON: {raw[:200]!r}", code="internal") from exc
        if not header.get("ok"):
            raise _failed("tasker_poll_step_events_indexed", header)
        return events, header.get("state", "")

    def complete(self, handle: int, event_id: str, result_json: str) -> dict[str, Any]:
        return self._call("tasker_complete_step_event", handle, _text(event_id), _text(result_json))

    def checkpoint_yield(self, handle: int, event_id: str, checkpoint_json: str) -> dict[str, Any]:
        return self._call("tasker_checkpoint_yield_step_event", handle, _text(event_id), _text(checkpoint_json))

    def status(self, handle: int) -> dict[str, Any]:
        return self._call("tasker_worker_status", handle)

    def health(self, handle: int) -> dict[str, Any]:
        return self._call("tasker_health", handle)

    def metrics(self, handle: int) -> dict[str, Any]:
        return self._call("tasker_metrics", handle)

    def log(self, handle: int, level: str, message: str, fields: dict[str, Any] | None = None) -> None:
        self._call("tasker_log", handle, _text(level), _text(message),
                   _text(json.dumps(fields, default=str)) if fields else None)

    def begin_shutdown(self, handle: int) -> dict[str, Any]:
        return self._call("tasker_begin_shutdown", handle)

    def stop(self, handle: int, timeout_ms: int) -> dict[str, Any]:
        return self._call("tasker_stop", handle, timeout_ms)


_LEVELS = ((logging.ERROR, "error"), (logging.WARNING, "warn"), (logging.INFO, "info"), (logging.DEBUG, "debug"))


class TaskerLogHandler(logging.Handler):
    """A logging handler writing records into the worker's structured log
    (``tasker_log``), tagged with the worker id and ``source: python``."""

    def __init__(self, library: Library, worker_handle: int = 0, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.library, self.worker_handle = library, worker_handle

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = next((name for floor, name in _LEVELS if record.levelno >= floor), "trace")
            fields: dict[str, Any] = {"logger": record.name}
            if record.exc_info:
                fields["exception"] = (self.formatter or logging.Formatter()).formatException(record.exc_info)
            fields.update(getattr(record, "fields", None) or {})
            try:
                self.library.log(self.worker_handle, level, record.getMessage(), fields)
            except FFIError as exc:
                if exc.code != "unknown_handle":
                    raise
                self.worker_handle = 0  # the worker stopped: the process logger still works
                self.library.log(0, level, record.getMessage(), fields)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)
