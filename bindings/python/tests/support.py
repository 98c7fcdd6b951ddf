"""Test helpers: step events in the worker library's shape, a small flow
runner that chains handlers the way orchestration would, and a stand-in for
the worker library (same calls, same JSON, in memory)."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import queue
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from tasker_core import execution
from tasker_core.errors import FFIError
from tasker_core.indexed_event import PATHS, IndexedEvent, events_of
from tasker_core.registry import HandlerRegistry

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
SHARED = HERE.parents[2].parent / "shared"
REFERENCE = Path(os.environ.get("TASKER_REFERENCE_HANDLERS", SHARED / "reference" / "tasker-core-bindings" / "python"))
FIXTURES = Path(os.environ.get("TASKER_FIXTURES_DIR", SHARED / "fixtures" / "tasker-core"))


def make_event(callable_name: str, *, step_name: str = "step", context: dict[str, Any] | None = None,
               deps: dict[str, Any] | None = None, inputs: dict[str, Any] | None = None, method: str | None = None,
               initialization: dict[str, Any] | None = None, attempts: int = 0, max_attempts: int = 3,
               checkpoint: dict[str, Any] | None = None, timeout_seconds: int | None = None,
               task_uuid: str | None = None) -> dict[str, Any]:
    """A step event as tasker_poll_step_events returns it."""
    task_uuid = task_uuid or str(uuid.uuid4())
    step_uuid = str(uuid.uuid4())
    now = "2026-01-01T00:00:00Z"
    return {
        "event_id": str(uuid.uuid4()), "task_uuid": task_uuid, "step_uuid": step_uuid,
        "correlation_id": str(uuid.uuid4()), "task_correlation_id": str(uuid.uuid4()),
        "task_sequence_step": {
            "task": {"task": {"task_uuid": task_uuid, "named_task_uuid": None, "complete": False, "requested_at": now,
                              "initiator": "test", "source_system": "test", "reason": "test", "tags": [],
                              "context": context or {}, "identity_hash": None, "priority": 0, "created_at": now,
                              "updated_at": now, "correlation_id": str(uuid.uuid4()), "parent_correlation_id": None},
                     "task_name": "t", "task_version": "1.0.0", "namespace_name": "ns"},
            "workflow_step": {"workflow_step_uuid": step_uuid, "task_uuid": task_uuid, "named_step_uuid": None,
                              "name": step_name, "template_step_name": step_name, "retryable": True,
                              "max_attempts": max_attempts, "in_process": True, "processed": False,
                              "processed_at": None, "attempts": attempts, "last_attempted_at": None,
                              "backoff_request_seconds": None, "inputs": inputs if inputs is not None else (initialization or {}),
                              "results": None, "checkpoint": checkpoint, "created_at": now, "updated_at": now},
            "dependency_results": deps or {},
            "step_definition": {"name": step_name, "description": "", "handler": {
                "callable": callable_name, "method": method, "resolver": None, "initialization": initialization or {}},
                "type": "standard", "dependencies": [], "retry": {"retryable": True, "max_attempts": max_attempts,
                                                                  "backoff": "exponential", "backoff_base_ms": 1000,
                                                                  "max_backoff_ms": 30000},
                "timeout_seconds": timeout_seconds, "publishes_events": [], "batch_config": None},
        },
    }


# Which poll the tests run their events through: "indexed" (the default, as
# the worker polls a library that has tasker_poll_step_events_indexed) or
# "plain" (the whole event decoded at once). The Go test runs the suite
# both ways.
INDEXED = os.environ.get("TASKER_TEST_POLL", "indexed") == "indexed"


def indexed_reply(events: list[dict[str, Any]], state: str = "running") -> bytes:
    """The reply tasker_poll_step_events_indexed gives for these events
    (bindings/capi/include/tasker_worker.h), written here from the events."""
    entries, bodies, at = [], [], 0
    for event in events:
        spans: dict[int, tuple[int, int]] = {}
        chunks: list[bytes] = []
        pos = 0

        def emit(b: bytes) -> None:
            nonlocal pos
            chunks.append(b)
            pos += len(b)

        def enc(value: Any, path: tuple[str, ...]) -> None:
            start = pos
            if isinstance(value, dict):
                emit(b"{")
                for i, (k, v) in enumerate(value.items()):
                    emit((b"," if i else b"") + json.dumps(k).encode() + b":")
                    enc(v, path + (k,))
                emit(b"}")
            else:
                emit(json.dumps(value, separators=(",", ":")).encode())
            if path in PATHS:
                spans[PATHS.index(path)] = (at + start, at + pos)

        enc(event, ())
        tss = event["task_sequence_step"]
        handler = tss["step_definition"]["handler"]
        ws = tss["workflow_step"]
        entries.append([event["event_id"], event["task_uuid"], event["step_uuid"], event["correlation_id"],
                        handler["callable"], handler["method"], handler["resolver"],
                        tss["step_definition"]["timeout_seconds"], ws["name"], ws["attempts"], ws["max_attempts"],
                        [n for k in range(len(PATHS)) for n in spans[k]]])
        bodies.append(b"".join(chunks))
        at += pos
    header = json.dumps({"ok": True, "events": entries, "state": state}, separators=(",", ":")).encode()
    return header + b"\n" + b"".join(bodies)


def indexed(event: dict[str, Any]) -> IndexedEvent:
    """The event as the worker gets it from an indexed poll."""
    return events_of(indexed_reply([event]))[0][0]


def run_event(registry: HandlerRegistry, event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Run one event the way the worker does; ("complete"|"checkpoint", payload)."""
    p = execution.prepare(registry, indexed(event) if INDEXED else event, time.monotonic())
    backtrace = None
    if p.failure is not None:
        r = p.failure
    else:
        try:
            value = p.target(p.context)
            if inspect.isawaitable(value):
                value = asyncio.run(_await(value))
            r = execution.outcome_from_return(value)
        except Exception as exc:  # noqa: BLE001
            r, backtrace = execution.outcome_from_exception(exc)
    if execution.is_checkpoint(r):
        return "checkpoint", json.loads(execution.checkpoint_payload(p, r))
    return "complete", json.loads(execution.result_payload(p, r, "test-worker", 1, backtrace))


async def _await(value: Any) -> Any:
    return await value


class Flow:
    """Runs the steps of one task in order, giving each step every earlier
    successful step's result record as its dependency results."""

    def __init__(self, registry: HandlerRegistry, context: dict[str, Any] | None = None) -> None:
        self.registry, self.context, self.results = registry, context or {}, {}
        self.task_uuid = str(uuid.uuid4())

    def run(self, step: str, callable_name: str, **kw: Any) -> dict[str, Any]:
        """Run a step (following checkpoint yields to the end); its result record."""
        checkpoint = None
        for _ in range(1000):
            event = make_event(callable_name, step_name=step, context=self.context, deps=dict(self.results),
                               task_uuid=self.task_uuid, checkpoint=checkpoint, **kw)
            kind, payload = run_event(self.registry, event)
            if kind == "complete":
                if payload["success"]:
                    self.results[step] = payload
                return payload
            history = (checkpoint or {}).get("history", []) + [{"cursor": payload["cursor"], "timestamp": "t"}]
            checkpoint = {**payload, "timestamp": "t", "history": history}
            checkpoint.pop("step_uuid")
            self.yields = len(history)
        raise AssertionError("step never finished")

    def value(self, step: str) -> Any:
        return self.results[step]["result"]


def registry_with(*dirs: Path) -> HandlerRegistry:
    registry = HandlerRegistry()
    for d in dirs:
        problems = registry.load_directory(d)
        if problems:
            raise AssertionError("\n".join(problems))
    return registry


class FakeLibrary:
    """The worker library's calls, in memory: tests push events and read
    what the worker completed."""

    indexed = INDEXED  # whether the worker uses poll_indexed

    def __init__(self) -> None:
        self.events: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.completed: dict[str, dict[str, Any]] = {}
        self.checkpoints: list[tuple[str, dict[str, Any]]] = []
        self.logs: list[tuple[int, str, str, dict[str, Any] | None]] = []
        self.config: dict[str, Any] | None = None
        self.state = "running"
        self.issued: set[str] = set()
        self.abandoned: set[str] = set()
        self.stop_timeout_ms: int | None = None
        self.done = threading.Condition()

    def push(self, event: dict[str, Any]) -> None:
        self.issued.add(event["event_id"])
        self.events.put(event)

    def bootstrap(self, config: dict[str, Any]) -> dict[str, Any]:
        if not config.get("callables"):
            raise FFIError("callables is required", code="invalid_config")
        self.config = config
        return {"ok": True, "handle": 7, "worker_id": "python-worker-test", "namespaces": ["ns"],
                "callables": config["callables"], "environment": "test"}

    def poll(self, handle: int, max_events: int, wait_ms: int) -> dict[str, Any]:
        if self.state == "stopped":
            raise FFIError("unknown handle", code="unknown_handle")
        out: list[dict[str, Any]] = []
        try:
            out.append(self.events.get(timeout=wait_ms / 1000))
            while len(out) < max_events:
                out.append(self.events.get_nowait())
        except queue.Empty:
            pass
        self.max_batch = max(getattr(self, "max_batch", 0), len(out))
        return {"ok": True, "events": out, "state": self.state}

    def poll_indexed(self, handle: int, max_events: int, wait_ms: int) -> tuple[list[IndexedEvent], str]:
        answer = self.poll(handle, max_events, wait_ms)
        events, header = events_of(indexed_reply(answer["events"], answer["state"]))
        return events, header["state"]

    def _finish(self, event_id: str) -> None:
        if event_id not in self.issued or event_id in self.abandoned:
            raise FFIError(f"unknown event {event_id}", code="unknown_event")
        self.issued.discard(event_id)

    def complete(self, handle: int, event_id: str, result_json: str) -> dict[str, Any]:
        with self.done:
            self._finish(event_id)
            self.completed[event_id] = json.loads(result_json)
            self.done.notify_all()
        return {"ok": True}

    def checkpoint_yield(self, handle: int, event_id: str, checkpoint_json: str) -> dict[str, Any]:
        with self.done:
            self._finish(event_id)
            self.checkpoints.append((event_id, json.loads(checkpoint_json)))
            self.done.notify_all()
        return {"ok": True}

    def log(self, handle: int, level: str, message: str, fields: dict[str, Any] | None = None) -> None:
        if handle not in (0, 7) or (handle == 7 and self.state == "stopped"):
            raise FFIError("unknown handle", code="unknown_handle")
        self.logs.append((handle, level, message, fields))

    def status(self, handle: int) -> dict[str, Any]:
        return {"ok": True, "running": self.state == "running", "state": self.state}

    health = metrics = status

    def begin_shutdown(self, handle: int) -> dict[str, Any]:
        self.state = "stopping" if self.state == "running" else self.state
        return {"ok": True}

    def stop(self, handle: int, timeout_ms: int) -> dict[str, Any]:
        self.stop_timeout_ms = timeout_ms
        deadline = time.monotonic() + timeout_ms / 1000
        with self.done:
            while self.issued - self.abandoned and time.monotonic() < deadline:
                self.done.wait(0.01)
        self.state = "stopped"
        return {"ok": True}

    def wait_for(self, n: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self.done:
            while len(self.completed) + len(self.checkpoints) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"only {len(self.completed) + len(self.checkpoints)} of {n} events finished")
                self.done.wait(left)
