"""From a step event to the result the worker library stores.

``prepare`` resolves the step's handler and builds its StepContext;
``outcome_from_return`` / ``outcome_from_exception`` turn what the handler
did into a StepHandlerResult; ``result_payload`` renders the
StepExecutionResult JSON (or ``checkpoint_payload`` for a checkpoint yield).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import threading
import time
import traceback
from decimal import Decimal
from enum import Enum
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any
from uuid import UUID

from tasker_core.errors import TaskerError
from tasker_core.indexed_event import INITIALIZATION, WORKFLOW_STEP, IndexedEvent
from tasker_core.registry import HandlerNotFound, HandlerRegistry
from tasker_core.step_handler.functional import _wrap_result
from tasker_core.types import StepContext, StepHandlerResult


_second: tuple[int, str] = (-1, "")  # the last second formatted, and its text


def now() -> str:
    """The time in UTC as ``datetime.now(timezone.utc).isoformat()`` writes
    it, the date and time of day formatted once per second (a result carries
    two timestamps, and datetime's formatting is ~15k instructions each)."""
    global _second
    sec, frac = divmod(time.time_ns() // 1000, 1_000_000)
    if sec != _second[0]:
        _second = (sec, dt.datetime.fromtimestamp(sec, dt.timezone.utc).replace(tzinfo=None).isoformat())
    return f"{_second[1]}.{frac:06d}+00:00" if frac else f"{_second[1]}+00:00"


@dataclasses.dataclass
class Prepared:
    """A step ready to run: what to call, with which context."""

    event_id: str
    step_uuid: str
    target: Any  # bound handler method, or None when resolution failed
    context: StepContext | None
    failure: StepHandlerResult | None  # set when there is nothing to run
    handler_version: str | None
    timeout_seconds: float | None
    started_at: str
    started: float  # time.monotonic()


def prepare(registry: HandlerRegistry, event: dict[str, Any] | IndexedEvent, started: float) -> Prepared:
    """The step's handler and context. An indexed poll's event gives the
    handler and timeout from its header; its context decodes what is read."""
    if isinstance(event, IndexedEvent):
        callable_name = event.callable or (event.part(WORKFLOW_STEP) or {}).get("template_step_name") or ""
        event_id, step_uuid, method, timeout = event.event_id, event.step_uuid, event.method, event.timeout_seconds
        initialization, make_context = lambda: event.part(INITIALIZATION), StepContext.from_indexed
    else:
        tss = event.get("task_sequence_step") or {}
        definition = tss.get("step_definition") or {}
        handler_def = definition.get("handler") or {}
        callable_name = handler_def.get("callable") or (tss.get("workflow_step") or {}).get("template_step_name") or ""
        event_id, step_uuid, method, timeout = event.get("event_id", ""), event.get("step_uuid", ""), handler_def.get("method"), \
            definition.get("timeout_seconds")
        initialization, make_context = lambda: handler_def.get("initialization"), StepContext.from_ffi_event
    base = dict(event_id=str(event_id), step_uuid=str(step_uuid),
                timeout_seconds=float(timeout) if isinstance(timeout, (int, float)) and timeout > 0 else None,
                started_at=now(), started=started)
    try:
        handler, target = registry.resolve(callable_name, method, initialization())
        context = make_context(event, handler.name)
    except HandlerNotFound as exc:
        failure = StepHandlerResult.failure(str(exc), "handler_not_found", False)
        return Prepared(target=None, context=None, failure=failure, handler_version=None, **base)
    except Exception as exc:  # noqa: BLE001 - a handler whose constructor raises
        return Prepared(target=None, context=None, failure=outcome_from_exception(exc)[0], handler_version=None, **base)
    return Prepared(target=target, context=context, failure=None, handler_version=handler.version, **base)


# A handler's return value as a result: StepHandlerResult as is, a dict as
# success, None as ``{}``, any other value as ``{"result": value}``.
outcome_from_return = _wrap_result


def outcome_from_exception(exc: BaseException) -> tuple[StepHandlerResult, list[str]]:
    """A raised exception as a failure, and its backtrace. Errors of this
    package keep their ``retryable`` (a PermanentError is not retried),
    ``error_code``, ``metadata`` and ``retry_after``; anything else is retryable."""
    trace = traceback.format_exception(type(exc), exc, exc.__traceback__)
    lines = [ln for chunk in trace for ln in chunk.rstrip("\n").split("\n")]
    if isinstance(exc, TaskerError):
        result = StepHandlerResult.failure(exc.message or str(exc), type(exc).__name__, exc.retryable,
                                           dict(exc.metadata), exc.error_code)
    else:
        result = StepHandlerResult.failure(str(exc) or type(exc).__name__, type(exc).__name__, True)
    return result, lines


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# One encoder for every result: json.dumps with options builds a new one per
# call. An encoder keeps only its options, so threads can share it.
_ENCODER = json.JSONEncoder(default=_json_default, allow_nan=False, separators=(",", ":"))


_local = threading.local()


def dumps(value: Any) -> str:
    """``_ENCODER.encode(value)``, with one C encoder per thread kept from
    call to call (``encode`` builds a new one every time, ~7k instructions).
    Its circular-reference markers are emptied after an error, as a new
    encoder's would be."""
    if c_make_encoder is None:
        return _ENCODER.encode(value)
    if (enc := getattr(_local, "encoder", None)) is None:
        markers: dict[int, Any] = {}
        enc = _local.encoder = (markers, c_make_encoder(markers, _json_default, encode_basestring_ascii, None, ":", ",", False, False, False))
    try:
        return "".join(enc[1](value, 0))
    except BaseException:
        enc[0].clear()
        raise


def _retry_after(meta: dict[str, Any]) -> int | None:
    for key in ("retry_after", "retry_after_seconds"):
        value = meta.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 and math.isfinite(value):
            return math.ceil(value)
    return None


def result_payload(p: Prepared, r: StepHandlerResult, worker_id: str, elapsed_ms: int,
                   backtrace: list[str] | None = None, with_events: bool = True) -> str:
    """The StepExecutionResult JSON for a finished step, with the domain
    events the handler published (``domain_events``). A result that cannot
    be written as JSON becomes a non-retryable ``invalid_result`` failure."""
    meta = r.metadata if isinstance(r.metadata, dict) else {"metadata": r.metadata}
    try:
        if r.is_success is True and type(elapsed_ms) is int:
            events = p.context.published_events if with_events and p.context is not None else None
            return _success_json(p, r, worker_id, elapsed_ms, meta, events)
        metadata: dict[str, Any] = {"execution_time_ms": elapsed_ms, "retryable": bool(r.retryable) and not r.is_success,
                                    "custom": meta, "worker_id": worker_id, "started_at": p.started_at,
                                    "completed_at": now()}
        if p.handler_version:
            metadata["handler_version"] = p.handler_version
        payload: dict[str, Any] = {"step_uuid": p.step_uuid, "success": r.is_success, "metadata": metadata,
                                   "error": None, "orchestration_metadata": None}
        if r.is_success:
            payload.update(status="completed", result={} if r.result is None else r.result)
        else:
            trace = backtrace or (meta.get("traceback", "").splitlines() if isinstance(meta.get("traceback"), str) else None)
            error_type = r.error_type or "handler_error"
            metadata.update(error_type=error_type, error_code=r.error_code)
            payload.update(status="error", result=None, error={
                "message": r.error_message or error_type, "error_type": error_type, "backtrace": trace,
                "retryable": bool(r.retryable), "status_code": None, "context": {}})
            delay = _retry_after(meta) if r.retryable else None
            if delay is not None:
                payload["orchestration_metadata"] = {"backoff_hint": {"backoff_type": "ServerRequested", "delay_seconds": delay}}
        if with_events and p.context is not None and p.context.published_events:
            payload["domain_events"] = p.context.published_events
        return dumps(payload)
    except (TypeError, ValueError) as exc:
        bad = StepHandlerResult.failure(f"the step's result cannot be stored as JSON: {exc}", "invalid_result", False)
        return result_payload(p, bad, worker_id, elapsed_ms, with_events=False)


def _success_json(p: Prepared, r: StepHandlerResult, worker_id: str, elapsed_ms: int, meta: dict[str, Any],
                  events: list[dict[str, Any]] | None) -> str:
    """result_payload's JSON for a success, written around the handler's
    values rather than encoded from a dict: the same text (a test compares
    them), at half the cost. Raises what encoding a bad value raises."""
    version = f',"handler_version":{dumps(p.handler_version)}' if p.handler_version else ""
    return "".join(('{"step_uuid":', _text(p.step_uuid), ',"success":true,"metadata":{"execution_time_ms":', int.__repr__(elapsed_ms),
                    ',"retryable":false,"custom":', dumps(meta), ',"worker_id":', _text(worker_id), ',"started_at":', _text(p.started_at),
                    ',"completed_at":', encode_basestring_ascii(now()), version, '},"error":null,"orchestration_metadata":null,',
                    '"status":"completed","result":', dumps({} if r.result is None else r.result),
                    f',"domain_events":{dumps(events)}' if events else "", "}"))


def _text(value: Any) -> str:
    """A value as dumps writes it, a str without the encoder's set-up."""
    return encode_basestring_ascii(value) if type(value) is str else dumps(value)


def is_checkpoint(r: StepHandlerResult) -> bool:
    return r.is_success and isinstance(r.metadata, dict) and r.metadata.get("checkpoint_yield") is True


def checkpoint_payload(p: Prepared, r: StepHandlerResult) -> str:
    """The checkpoint JSON of a ``checkpoint_yield`` result (raises if not JSON-able)."""
    data = r.result if isinstance(r.result, dict) else {}
    return dumps({"step_uuid": p.step_uuid, "cursor": data.get("cursor"), "items_processed": data.get("items_processed", 0),
                  "accumulated_results": data.get("accumulated_results")})
