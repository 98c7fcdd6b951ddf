"""A step event from the library's indexed poll, decoded part by part.

``tasker_poll_step_events_indexed`` answers with a header line (for each
event, an array of its ids, handler, step name, attempts and the byte
ranges of its parts; bindings/capi/include/tasker_worker.h) and then the
events' JSON. :class:`IndexedEvent` keeps that text and decodes a part (the
task context, the dependency results, the step row...) only when something
reads it, and the whole event only when a handler reads ``context.event``:
most handlers read one or two small parts, and decoding JSON is most of
what a step costs the interpreter (docs/benchmarks.md).

Every part is decoded at most once and is the same object wherever it is
read: a part decoded before its enclosing part (or the whole event) is put
into it, and one decoded after it is taken from it.
"""

from __future__ import annotations

import json
from typing import Any

# The spans of the reply, in the order the library lists them, and where each part sits in the event.
EVENT, TASK, CONTEXT, WORKFLOW_STEP, INPUTS, CHECKPOINT, DEPENDENCY_RESULTS, STEP_DEFINITION, INITIALIZATION = range(9)
PATHS: tuple[tuple[str, ...], ...] = tuple(tuple(("task_sequence_step " + p).split()) if p != "-" else () for p in (
    "-", "task", "task task context", "workflow_step", "workflow_step inputs", "workflow_step checkpoint", "dependency_results",
    "step_definition", "step_definition handler initialization"))
# For each part: the parts enclosing it, innermost first; the parts inside it, outermost first.
_ENCLOSING = tuple(sorted((j for j in range(9) if j != k and PATHS[k][:len(PATHS[j])] == PATHS[j]), key=lambda j: -len(PATHS[j]))
                   for k in range(9))
_INSIDE = tuple(sorted((j for j in range(9) if k in _ENCLOSING[j]), key=lambda j: len(PATHS[j])) for k in range(9))
_raw_decode = json.JSONDecoder().raw_decode
_MISSING = object()


def decode(text: str) -> Any:
    """Decodes the JSON text the library wrote (compact, nothing after it):
    ``json.loads`` without its checks of the input's type and encoding and
    its two whitespace scans, ~4x cheaper for a small value."""
    return _raw_decode(text)[0]


class IndexedEvent:
    """One step event of an indexed poll: the header's fields as attributes,
    :meth:`part` for a part of the event, :meth:`to_dict` for all of it."""

    __slots__ = ("event_id", "task_uuid", "step_uuid", "correlation_id", "callable", "method", "resolver",
                 "timeout_seconds", "step_name", "attempts", "max_attempts", "_spans", "_raw", "_base", "_parts")

    def __init__(self, entry: list[Any], raw: bytes, base: int) -> None:
        (self.event_id, self.task_uuid, self.step_uuid, self.correlation_id, self.callable, self.method, self.resolver,
         self.timeout_seconds, self.step_name, self.attempts, self.max_attempts, self._spans) = entry[:12]
        self._raw, self._base, self._parts = raw, base, {}

    def part(self, k: int) -> Any:
        """The decoded value of part ``k`` (``CONTEXT``, ``DEPENDENCY_RESULTS``...)."""
        parts = self._parts
        if k in parts:
            return parts[k]
        outer = next((j for j in _ENCLOSING[k] if j in parts), None)
        value = _MISSING if outer is None else _dig(parts[outer], PATHS[k][len(PATHS[outer]):])
        if value is _MISSING:  # nothing decoded holds it (or a handler changed what did)
            s, e = self._spans[2 * k] + self._base, self._spans[2 * k + 1] + self._base
            value = decode(self._raw[s:e].decode("utf-8"))
            for j in (j for j in _INSIDE[k] if j in parts):
                holder = _dig(value, PATHS[j][len(PATHS[k]):-1])
                if isinstance(holder, dict) and PATHS[j][-1] in holder:
                    holder[PATHS[j][-1]] = parts[j]
        parts[k] = value
        return value

    def decoded(self, k: int) -> bool:
        """Whether part ``k`` (or a part holding it) has been decoded."""
        return k in self._parts or any(j in self._parts for j in _ENCLOSING[k])

    def to_dict(self) -> dict[str, Any]:
        """The whole event, as ``tasker_poll_step_events`` hands it over."""
        return self.part(EVENT)


def _dig(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def events_of(raw: bytes) -> tuple[list[IndexedEvent], dict[str, Any]]:
    """The events of an indexed poll reply and its header (``ok``, ``state``,
    or the error of a failed call)."""
    nl = raw.find(b"\n")
    header = decode((raw if nl < 0 else raw[:nl]).decode("utf-8"))
    return ([IndexedEvent(h, raw, nl + 1) for h in header["events"]] if nl >= 0 and header.get("ok") else []), header
