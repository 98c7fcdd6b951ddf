"""The Python worker: polls step events from the worker library and runs handlers.

    python3 -m tasker_core.worker --handlers DIR [--templates DIR] [--concurrency N]

imports every module under the handler directories, works out which
template callables it can run, starts the worker library with exactly those,
and runs steps on ``--concurrency`` handler threads, each polling for its
next step and running it (``async`` handlers on one event-loop thread).
SIGTERM or SIGINT stops claiming, lets running steps finish for up to
``--shutdown-timeout`` seconds, hands the rest back for another worker, and
exits. Retries, timeouts, claims and the database are the library's job.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tasker_core import execution
from tasker_core.errors import FFIError
from tasker_core.ffi import Library, TaskerLogHandler
from tasker_core.indexed_event import IndexedEvent
from tasker_core.registry import HandlerRegistry, template_callables

log = logging.getLogger("tasker_core.worker")

DEFAULT_STEP_TIMEOUT = 30.0  # seconds, for steps whose template sets no timeout_seconds
_GONE = ("unknown_handle", "not_running")


def runnable_callables(registry: HandlerRegistry, template_dirs: Iterable[str]) -> tuple[list[str], list[str]]:
    """The callables this process can run (registered ones plus template
    callables that resolve), and the template callables it cannot."""
    runnable = set(registry.list_handlers())
    missing = []
    for name, methods in sorted(template_callables(list(template_dirs)).items()):
        if not registry.can_resolve(name):
            missing.append(name)
            continue
        runnable.add(name)
        for method in methods:
            if method and not registry.can_resolve(name, method):
                log.warning("handler for %s has no method %r named by a template; those steps will fail", name, method)
    return sorted(runnable), missing


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@dataclass
class _Run:
    """A step in flight: its deadline, and whether its slot was given back."""

    p: execution.Prepared
    deadline: float
    future: Any = None
    released: bool = False  # its slot was given back
    replaced: bool = False  # its thread was stuck and another poller took its place


class Worker:
    """One worker: ``start()``, then ``run()`` (blocks until SIGTERM/SIGINT)
    or ``stop()`` from your own code."""

    def __init__(self, registry: HandlerRegistry | None = None, *, callables: Iterable[str] | None = None,
                 template_dirs: Iterable[str] = (), concurrency: int = 10, namespaces: Iterable[str] | None = None,
                 worker_id: str | None = None, library: Library | None = None, library_path: str | None = None,
                 overrides: dict[str, Any] | None = None, poll_wait_ms: int = 500, shutdown_timeout: float = 4.0,
                 poll_spin_us: int = 0) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.registry = registry or HandlerRegistry.instance()
        self.template_dirs = [os.path.abspath(d) for d in template_dirs]
        self.callables = sorted(callables) if callables is not None else runnable_callables(self.registry, self.template_dirs)[0]
        self.concurrency, self.namespaces, self.requested_id = concurrency, list(namespaces or []), worker_id
        self.overrides, self.poll_wait_ms, self.shutdown_timeout = overrides or {}, poll_wait_ms, shutdown_timeout
        # How long a blocked poll keeps its thread checking for a step before
        # it sleeps (the library's poll_spin_us; 0: it sleeps at once).
        self.poll_spin_us = poll_spin_us
        self._library, self._library_path = library, library_path
        self.handle, self.worker_id = 0, ""
        self.log_handler: TaskerLogHandler | None = None
        self._slots = threading.Semaphore(concurrency)
        self._lock = threading.Lock()
        self._runs: dict[str, _Run] = {}  # steps running now, by event id
        self._pollers = 0
        self._aloop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._stopped = threading.Event()
        self.completed = 0

    @property
    def library(self) -> Library:
        if self._library is None:
            self._library = Library(self._library_path)
        return self._library

    def start(self) -> dict[str, Any]:
        """Bootstrap the worker library and start polling; returns the bootstrap answer."""
        if not self.callables:
            raise FFIError("no handlers to offer: register handlers or point --handlers at them", code="invalid_argument")
        config: dict[str, Any] = {"callables": self.callables, "language": "python",
                                  "overrides": _merge({"worker": {"handlers": {"max_concurrent": self.concurrency}}}, self.overrides)}
        optional = {"worker_id": self.requested_id, "poll_spin_us": self.poll_spin_us, "template_paths": self.template_dirs,
                    "namespaces": self.namespaces}
        config.update((key, value) for key, value in optional.items() if value)  # unset ones are left out
        answer = self.library.bootstrap(config)
        self.handle, self.worker_id = int(answer["handle"]), str(answer.get("worker_id", ""))
        if self.log_handler is not None:
            self.log_handler.worker_handle = self.handle
        for _ in range(self.concurrency):
            self._start_poller()
        threading.Thread(target=self._watchdog, name="tasker-watchdog", daemon=True).start()
        return answer

    # --- polling and running ---
    # Each poller thread takes one step at a time and runs it itself (no
    # hand-off between threads); a slot of the semaphore bounds the steps
    # in flight, async ones included.

    def _start_poller(self) -> None:
        with self._lock:
            self._pollers += 1
            n = self._pollers
        threading.Thread(target=self._poll, name=f"tasker-handler-{n}", daemon=True).start()

    def _poll(self) -> None:
        try:
            while not self._stopped.is_set():
                if not self._slots.acquire(timeout=0.5):
                    continue
                try:
                    events, state = self._poll_once()
                except FFIError as exc:
                    self._slots.release()
                    if exc.code in _GONE:
                        return
                    log.error("polling step events failed: %s", exc)
                    self._stopped.wait(0.2)
                    continue
                if not events:
                    self._slots.release()
                    if state == "stopped":
                        return
                    continue
                run = self._start_run(events[0])
                if run is not None and run.replaced:  # this thread was stuck; its replacement goes on
                    return
        finally:
            with self._lock:
                self._pollers -= 1
                last = self._pollers == 0
            if last:
                self._stopped.set()

    def _poll_once(self) -> tuple[list[Any], str]:
        """Polls for one event: with the indexed poll when the library has
        it (each event decoded only as far as its handler reads it)."""
        library = self.library
        if getattr(library, "indexed", False):
            return library.poll_indexed(self.handle, 1, self.poll_wait_ms)
        answer = library.poll(self.handle, 1, self.poll_wait_ms)
        return answer.get("events") or [], answer.get("state", "")

    def _start_run(self, event: dict[str, Any] | IndexedEvent) -> _Run | None:
        try:
            started = time.monotonic()
            p = execution.prepare(self.registry, event, started)
            run = _Run(p, started + (p.timeout_seconds or DEFAULT_STEP_TIMEOUT) + 1.0)
            with self._lock:
                self._runs[p.event_id] = run
        except Exception:  # noqa: BLE001 - one bad event must not stop the poller
            self._slots.release()
            log.exception("could not start step event %s",
                          event.event_id if isinstance(event, IndexedEvent) else event.get("event_id"))
            return None
        if p.failure is not None:
            self._finish(run, p.failure, None)
        elif inspect.iscoroutinefunction(p.target):
            run.future = asyncio.run_coroutine_threadsafe(p.target(p.context), self._event_loop())
            run.future.add_done_callback(lambda f: self._finish_future(run, f))
        else:
            try:
                value = p.target(p.context)
                if inspect.isawaitable(value):
                    value = asyncio.run_coroutine_threadsafe(_awaited(value), self._event_loop()).result()
                self._finish(run, execution.outcome_from_return(value), None)
            except BaseException as exc:  # noqa: BLE001 - SystemExit from a handler fails the step, not the worker
                self._finish(run, *execution.outcome_from_exception(exc))
        return run

    def _watchdog(self) -> None:
        """Gives back the slot of a step still running past its timeout (the
        library has failed or released it); a stuck thread is replaced."""
        while not self._stopped.wait(0.25):
            now = time.monotonic()
            with self._lock:
                late = [r for r in self._runs.values() if r.deadline <= now and not r.released]
                for r in late:
                    r.released, r.replaced = True, r.future is None
            for r in late:
                log.warning("step %s (event %s) is still running past its timeout; its slot is given back",
                            r.p.step_uuid, r.p.event_id)
                self._slots.release()
                if r.future is not None:
                    r.future.cancel()
                else:
                    self._start_poller()

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._aloop is None:
                self._aloop = asyncio.new_event_loop()
                threading.Thread(target=self._aloop.run_forever, name="tasker-asyncio", daemon=True).start()
            return self._aloop

    def _finish_future(self, run: _Run, future: Any) -> None:
        if future.cancelled():
            self._finish(run, execution.StepHandlerResult.failure("async handler cancelled after its step timeout", "timeout", True), None)
        elif future.exception() is not None:
            self._finish(run, *execution.outcome_from_exception(future.exception()))
        else:
            self._finish(run, execution.outcome_from_return(future.result()), None)

    def _finish(self, run: _Run, r: Any, backtrace: list[str] | None) -> None:
        p = run.p
        try:
            if execution.is_checkpoint(r):
                try:
                    payload = execution.checkpoint_payload(p, r)
                except (TypeError, ValueError) as exc:
                    r = execution.StepHandlerResult.failure(f"checkpoint cannot be stored as JSON: {exc}", "invalid_result", False)
                else:
                    self.library.checkpoint_yield(self.handle, p.event_id, payload)
                    return
            elapsed = int((time.monotonic() - p.started) * 1000)
            self.library.complete(self.handle, p.event_id, execution.result_payload(p, r, self.worker_id, elapsed, backtrace))
        except FFIError as exc:
            if exc.code in ("unknown_event", "not_running"):
                log.warning("step %s finished after the library gave it up (step timeout or shutdown): %s", p.step_uuid, exc)
            else:
                log.error("reporting step %s failed: %s", p.step_uuid, exc)
        finally:
            with self._lock:
                self._runs.pop(p.event_id, None)
                self.completed += 1
                release, run.released = not run.released, True
            if release:
                self._slots.release()

    # --- lifecycle ---
    def status(self) -> dict[str, Any]:
        return self.library.status(self.handle)

    def health(self) -> dict[str, Any]:
        return self.library.health(self.handle)

    def metrics(self) -> dict[str, Any]:
        return self.library.metrics(self.handle)

    def begin_shutdown(self) -> None:
        """Stop claiming new steps; steps already handed over still run."""
        try:
            self.library.begin_shutdown(self.handle)
        except FFIError as exc:
            if exc.code not in _GONE:
                raise

    def stop(self, timeout: float | None = None) -> None:
        """Stop claiming, give running steps up to ``timeout`` seconds, release
        the rest for another worker, and close the library's worker."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
        timeout = self.shutdown_timeout if timeout is None else timeout
        try:
            self.begin_shutdown()
            self.library.stop(self.handle, max(1, int(timeout * 1000)))
        except FFIError as exc:
            if exc.code not in _GONE:
                log.error("stopping the worker: %s", exc)
        finally:
            if self.log_handler is not None:
                self.log_handler.worker_handle = 0
            self._stopped.set()
            if self._aloop is not None:
                self._aloop.call_soon_threadsafe(self._aloop.stop)

    def run(self) -> int:
        """Block until SIGTERM/SIGINT (then stop) or until the library stops; 0 when stopped by a signal."""
        requested = threading.Event()

        def on_signal(signum: int, _frame: Any) -> None:
            log.info("received %s, shutting down", signal.Signals(signum).name)
            requested.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            while not requested.is_set() and not self._stopped.is_set():
                requested.wait(1.0)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        self.stop()
        return 0 if requested.is_set() else 1


async def _awaited(value: Any) -> Any:
    return await value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python3 -m tasker_core.worker", description="Run Python step handlers for Tasker.")
    p.add_argument("--handlers", action="append", default=[], metavar="DIR",
                   help="directory of handler modules/packages, imported at start (repeatable; default $PYTHON_HANDLER_PATH)")
    p.add_argument("--templates", action="append", default=[], metavar="DIR",
                   help="directory of task templates (repeatable; $TASKER_TEMPLATE_PATH is read too)")
    p.add_argument("--concurrency", type=int, default=10, metavar="N", help="steps run at once (default 10)")
    p.add_argument("--namespace", action="append", default=[], metavar="NS", help="serve only these namespaces")
    p.add_argument("--worker-id", help="worker id (default python-worker-<uuid>)")
    p.add_argument("--lib", help="path of libtasker_worker.so (default $TASKER_WORKER_LIB)")
    p.add_argument("--poll-spin-us", type=int, default=int(os.environ.get("TASKER_POLL_SPIN_US") or 0), metavar="US",
                   help="how long a blocked poll keeps its thread checking for a step before it sleeps, in microseconds "
                        "(default $TASKER_POLL_SPIN_US, else 0: off); costs up to that much CPU per step")
    p.add_argument("--shutdown-timeout", type=float, default=4.0, metavar="SECONDS",
                   help="how long running steps get to finish on SIGTERM (default 4)")
    p.add_argument("--log-level", default=os.environ.get("TASKER_PY_LOG_LEVEL", "INFO"),
                   choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.concurrency < 1:
        print("tasker_core.worker: --concurrency must be at least 1", file=sys.stderr)
        return 2
    handler_dirs = args.handlers or [d for d in os.environ.get("PYTHON_HANDLER_PATH", "").split(os.pathsep) if d]
    template_dirs = [*args.templates, *(d for d in os.environ.get("TASKER_TEMPLATE_PATH", "").split(os.pathsep) if d)]
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    registry = HandlerRegistry.instance()
    problems = [p for d in handler_dirs for p in registry.load_directory(d)]
    if problems:
        print("tasker_core.worker: handler modules failed to load:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    callables, missing = runnable_callables(registry, template_dirs)
    for name in missing:
        log.warning("no handler here for template callable %s; its steps are left to other workers", name)
    if not callables:
        print(f"tasker_core.worker: no handlers found (handler dirs: {handler_dirs or 'none'})", file=sys.stderr)
        return 2
    worker = Worker(registry, callables=callables, template_dirs=args.templates, concurrency=args.concurrency,
                    namespaces=args.namespace, worker_id=args.worker_id, library_path=args.lib,
                    shutdown_timeout=args.shutdown_timeout, poll_spin_us=args.poll_spin_us)
    try:
        worker.log_handler = TaskerLogHandler(worker.library)
        root = logging.getLogger()
        for h in list(root.handlers):
            root.removeHandler(h)
        root.addHandler(worker.log_handler)
        answer = worker.start()
    except FFIError as exc:
        print(f"tasker_core.worker: {exc}", file=sys.stderr)
        return 3
    print(f"tasker_core.worker started worker_id={worker.worker_id} callables={len(callables)} "
          f"namespaces={','.join(answer.get('namespaces') or [])} concurrency={args.concurrency}", file=sys.stderr, flush=True)
    code = worker.run()
    print(f"tasker_core.worker stopped worker_id={worker.worker_id} steps={worker.completed}", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
