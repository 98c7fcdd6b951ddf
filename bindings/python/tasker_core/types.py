"""The values handlers work with: the step context they receive, the result
they return, and the decision and batch records that ride inside results.

Everything here is plain Python (dataclasses and small classes); nothing
validates beyond what the worker needs to send a result.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from uuid import UUID

from tasker_core.indexed_event import (CHECKPOINT, CONTEXT, DEPENDENCY_RESULTS, INITIALIZATION, INPUTS, TASK,
                                       WORKFLOW_STEP, IndexedEvent)


def _uuid(value: Any) -> Any:
    """A UUID when the text is one, else the value itself."""
    try:
        return UUID(str(value))
    except (TypeError, ValueError):
        return value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _meta(metadata: dict[str, Any] | None, **flags: Any) -> dict[str, Any]:
    """A result's metadata (the handler's dict itself, when it gave one) with flags set."""
    meta = metadata or {}
    meta.update(flags)
    return meta


def _result_of(dep: Any) -> Any:
    """What a parent step returned: its result record's ``result``."""
    return dep["result"] if isinstance(dep, dict) and "result" in dep else dep


class _Model:
    """model_dump() for the dataclasses below (their enums are str enums, so JSON-ready)."""

    def model_dump(self, **_: Any) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


class ErrorType(str, Enum):
    """Error types shared by every language's workers."""

    PERMANENT_ERROR = "permanent_error"
    RETRYABLE_ERROR = "retryable_error"
    VALIDATION_ERROR = "validation_error"
    TIMEOUT = "timeout"
    HANDLER_ERROR = "handler_error"

    @classmethod
    def is_standard(cls, error_type: str) -> bool:
        return error_type in {e.value for e in cls}

    @classmethod
    def is_typically_retryable(cls, error_type: str) -> bool:
        return error_type in (cls.RETRYABLE_ERROR.value, cls.TIMEOUT.value)


class StepHandlerResult:
    """What a handler returns: ``success(result)`` or ``failure(message, ...)``.

    ``result`` is normally a dict (tasker-core required one); any JSON value
    is accepted and stored as the step's result.
    """

    __slots__ = ("is_success", "result", "error_message", "error_type", "error_code", "retryable", "metadata")

    def __init__(self, is_success: bool | None = None, result: Any = None, error_message: str | None = None,
                 error_type: str | None = None, error_code: str | None = None, retryable: bool = True,
                 metadata: dict[str, Any] | None = None, **kw: Any) -> None:
        self.is_success = bool(kw.pop("success", False) if is_success is None else is_success)
        if kw:
            raise TypeError(f"unexpected StepHandlerResult fields: {', '.join(sorted(kw))}")
        self.result = result
        self.error_message = error_message
        self.error_type = error_type.value if isinstance(error_type, Enum) else error_type
        self.error_code = error_code
        self.retryable = retryable
        self.metadata = metadata if metadata is not None else {}

    @classmethod
    def success(cls, result: Any = None, metadata: dict[str, Any] | None = None) -> StepHandlerResult:
        return cls(is_success=True, result=result, metadata=metadata or {})

    @classmethod
    def failure(cls, message: str, error_type: str | ErrorType = ErrorType.HANDLER_ERROR, retryable: bool = True,
                metadata: dict[str, Any] | None = None, error_code: str | None = None) -> StepHandlerResult:
        return cls(False, None, message, error_type, error_code, retryable, metadata or {})  # type: ignore[arg-type]

    def is_success_result(self) -> bool:
        return self.is_success

    def is_failure_result(self) -> bool:
        return not self.is_success

    def model_dump(self, **_: Any) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__slots__}
        out["success"] = out.pop("is_success")
        return out

    def __repr__(self) -> str:
        if self.is_success:
            return f"StepHandlerResult.success({self.result!r})"
        return f"StepHandlerResult.failure({self.error_message!r}, error_type={self.error_type!r}, retryable={self.retryable})"


class _FromIndexed:
    """An attribute of objects made from an :class:`IndexedEvent`: computed
    from it when first read, then stored as a plain attribute (objects built
    the ordinary way set it in ``__init__`` and never get here)."""

    def __init__(self, name: str, make: Any) -> None:
        self.name, self.make = name, make

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None or obj._indexed is None:
            raise AttributeError(self.name)
        value = obj.__dict__[self.name] = self.make(obj._indexed)
        return value


# The fields of an event besides its ids and task_sequence_step.
_TRACING = ("task_correlation_id", "parent_correlation_id", "trace_id", "span_id")


class FfiStepEvent:
    """A step event as the worker library hands it over (attribute access)."""

    _indexed: IndexedEvent | None = None  # set when made from an indexed poll

    def __init__(self, event_id: str = "", task_uuid: str = "", step_uuid: str = "", correlation_id: str = "",
                 task_sequence_step: dict[str, Any] | None = None, **extra: Any) -> None:
        self.event_id = event_id
        self.task_uuid = task_uuid
        self.step_uuid = step_uuid
        self.correlation_id = correlation_id
        self.task_sequence_step = task_sequence_step or {}
        for key in _TRACING:
            setattr(self, key, extra.get(key))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FfiStepEvent:
        return cls(**data)

    @classmethod
    def from_indexed(cls, ix: IndexedEvent) -> FfiStepEvent:
        """The event of an indexed poll: ``task_sequence_step`` and the other
        fields only in the event's JSON are decoded when first read."""
        event = cls.__new__(cls)
        event._indexed, event.event_id, event.task_uuid, event.step_uuid, event.correlation_id = \
            ix, ix.event_id, ix.task_uuid, ix.step_uuid, ix.correlation_id
        return event


for _k in _TRACING:
    setattr(FfiStepEvent, _k, _FromIndexed(_k, lambda ix, k=_k: ix.to_dict().get(k)))
FfiStepEvent.task_sequence_step = _FromIndexed("task_sequence_step", lambda ix: ix.to_dict().get("task_sequence_step") or {})


class _View:
    """Attribute access over nested dicts (the Ruby-style wrapper)."""

    def __init__(self, data: Any) -> None:
        self._data = data if data is not None else {}

    def __getattr__(self, name: str) -> Any:
        data = self.__dict__["_data"]
        if isinstance(data, dict) and name in data:
            v = data[name]
            return _View(v) if isinstance(v, dict) else v
        return getattr(data, name)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def to_dict(self) -> Any:
        return self._data


class TaskSequenceStepWrapper(_View):
    """``context.task_sequence_step``: task, workflow_step, step_definition, dependency_results."""

    def get_task_field(self, name: str) -> Any:
        return _dict(_dict(_dict(self._data.get("task")).get("task")).get("context")).get(name)

    def get_dependency_result(self, step_name: str) -> Any:
        return _result_of(_dict(self._data.get("dependency_results")).get(step_name))

    get_results = get_dependency_result


class StepContext:
    """Everything a handler gets about its step.

    ``input_data`` is the task's context, ``step_inputs`` the step's own
    inputs (for batch workers, the cursor), ``step_config`` the template's
    ``handler.initialization``, ``dependency_results`` each ancestor's full
    result record (``get_dependency_result`` unwraps its ``result``),
    ``retry_count`` the attempts before this one.
    """

    def __init__(self, event: FfiStepEvent | None = None, task_uuid: Any = None, step_uuid: Any = None,
                 correlation_id: Any = None, handler_name: str = "", input_data: dict[str, Any] | None = None,
                 dependency_results: dict[str, Any] | None = None, step_config: dict[str, Any] | None = None,
                 step_inputs: dict[str, Any] | None = None, retry_count: int = 0, max_retries: int = 3) -> None:
        self.event = event or FfiStepEvent()
        self.task_uuid = task_uuid
        self.step_uuid = step_uuid
        self.correlation_id = correlation_id
        self.handler_name = handler_name
        self.input_data = input_data if input_data is not None else {}
        self.dependency_results = dependency_results if dependency_results is not None else {}
        self.step_config = step_config if step_config is not None else {}
        self.step_inputs = step_inputs if step_inputs is not None else {}
        self.retry_count = retry_count
        self.max_retries = max_retries
        self.published_events: list[dict[str, Any]] = []

    def publish_event(self, name: str, payload: Any = None) -> None:
        """Publish the domain event ``name`` (declared in the step's
        ``publishes_events``) with ``payload`` (a JSON-encodable value).

        The event is sent with the step's result and published when
        orchestration commits that result, if the declaration's condition
        matches the outcome. Events published before an exception are kept,
        so a handler can publish a failure event and then raise. The worker
        checks the name and the payload against the declaration when the
        result is reported: a bad one fails the step as ``invalid_result``,
        naming the event.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"event name must be a non-empty string, got {name!r}")
        self.published_events.append({"event_name": name, "payload": {} if payload is None else payload})

    _indexed: IndexedEvent | None = None  # set when made from an indexed poll

    @classmethod
    def from_indexed(cls, ix: IndexedEvent, handler_name: str = "") -> StepContext:
        """The context of an indexed poll's event: what ``from_ffi_event``
        gives, each part of the event decoded when first read."""
        ctx = cls.__new__(cls)
        ctx._indexed, ctx.handler_name, ctx.published_events = ix, handler_name, []
        ctx.retry_count, ctx.max_retries = ix.attempts or 0, ix.max_attempts or 3
        return ctx

    def _ws_field(self, name: str) -> Any:
        """A field of the step row, without decoding the whole event when it
        came from an indexed poll (the checkpoint and, until the step row is
        decoded, the name need not even decode the row)."""
        ix = self._indexed
        if ix is None or "event" in self.__dict__:
            return _dict(self.event.task_sequence_step.get("workflow_step")).get(name)
        if name == "checkpoint":
            return ix.part(CHECKPOINT)
        return ix.step_name if name == "name" and not ix.decoded(WORKFLOW_STEP) else _dict(ix.part(WORKFLOW_STEP)).get(name)

    def _task_field(self, name: str) -> Any:
        if self._indexed is None or "event" in self.__dict__:
            return _dict(self.event.task_sequence_step.get("task")).get(name)
        return _dict(self._indexed.part(TASK)).get(name)

    @classmethod
    def from_ffi_event(cls, event: FfiStepEvent | dict[str, Any], handler_name: str = "") -> StepContext:
        if isinstance(event, dict):
            event = FfiStepEvent.from_dict(event)
        tss = event.task_sequence_step
        task = _dict(tss.get("task"))
        step = _dict(tss.get("workflow_step"))
        return cls(event, _uuid(event.task_uuid), _uuid(event.step_uuid), _uuid(event.correlation_id), handler_name,
                   input_data=_dict(_dict(task.get("task", task)).get("context")),
                   dependency_results=_dict(tss.get("dependency_results")),
                   step_config=_dict(_dict(_dict(tss.get("step_definition")).get("handler")).get("initialization")),
                   step_inputs=_dict(step.get("inputs")), retry_count=step.get("attempts") or 0,
                   max_retries=step.get("max_attempts") or 3)

    # --- where the step sits ---
    step_name = property(lambda self: self._ws_field("name"))
    namespace_name = property(lambda self: self._task_field("namespace_name"))
    task_name = property(lambda self: self._task_field("task_name"))
    task_sequence_step = property(lambda self: TaskSequenceStepWrapper(self.event.task_sequence_step))

    # --- inputs and configuration ---
    def get_input(self, key: str) -> Any:
        return self.input_data.get(key)

    def get_input_or(self, key: str, default: Any = None) -> Any:
        value = self.input_data.get(key)
        return default if value is None else value

    def get_config(self, key: str) -> Any:
        return self.step_config.get(key)

    # --- dependency results ---
    def get_dependency_result(self, step_name: str) -> Any:
        return _result_of(self.dependency_results.get(step_name))

    def get_dependency_field(self, step_name: str, *path: str) -> Any:
        value = self.get_dependency_result(step_name)
        for key in path:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    def get_dependency_result_keys(self) -> list[str]:
        return list(self.dependency_results)

    def get_all_dependency_results(self, prefix: str) -> list[Any]:
        found = (self.get_dependency_result(k) for k in self.dependency_results if k.startswith(prefix))
        return [r for r in found if r is not None]

    # --- retries ---
    def is_retry(self) -> bool:
        return self.retry_count > 0

    def is_last_retry(self) -> bool:
        return self.retry_count >= self.max_retries - 1

    # --- checkpoints (batch workers that yielded) ---
    @property
    def checkpoint(self) -> dict[str, Any] | None:
        cp = self._ws_field("checkpoint")
        return cp if isinstance(cp, dict) else None

    checkpoint_cursor = property(lambda self: (self.checkpoint or {}).get("cursor"))
    checkpoint_items_processed = property(lambda self: (self.checkpoint or {}).get("items_processed", 0))
    accumulated_results = property(lambda self: (self.checkpoint or {}).get("accumulated_results"))

    def has_checkpoint(self) -> bool:
        return self.checkpoint_cursor is not None


# --- decision points -------------------------------------------------------


class DecisionType(str, Enum):
    CREATE_STEPS = "create_steps"
    NO_BRANCHES = "no_branches"


@dataclass
class DecisionPointOutcome(_Model):
    decision_type: DecisionType
    next_step_names: list[str] = field(default_factory=list)
    dynamic_steps: list[dict[str, Any]] | None = None
    reason: str | None = None
    routing_context: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create_steps(cls, step_names: list[str], dynamic_steps: list[dict[str, Any]] | None = None,
                     routing_context: dict[str, Any] | None = None) -> DecisionPointOutcome:
        return cls(DecisionType.CREATE_STEPS, list(step_names), dynamic_steps, None, routing_context or {})

    @classmethod
    def no_branches(cls, reason: str, routing_context: dict[str, Any] | None = None) -> DecisionPointOutcome:
        return cls(DecisionType.NO_BRANCHES, reason=reason, routing_context=routing_context or {})


# --- batches ---------------------------------------------------------------


@dataclass
class CursorConfig(_Model):
    start_cursor: int
    end_cursor: int
    step_size: int = 1
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class RustCursorConfig(_Model):
    """One batch worker's range as orchestration stores it (0-based, end-exclusive)."""

    batch_id: str
    start_cursor: Any
    end_cursor: Any
    batch_size: int = 0


@dataclass
class BatchMetadata(_Model):
    cursor_field: str = "id"
    failure_strategy: str = "continue_on_failure"


@dataclass
class RustBatchWorkerInputs(_Model):
    """A batch worker step's inputs: ``{cursor, batch_metadata, is_no_op}``."""

    cursor: RustCursorConfig
    batch_metadata: BatchMetadata = field(default_factory=BatchMetadata)
    is_no_op: bool = False

    @classmethod
    def model_validate(cls, data: dict[str, Any]) -> RustBatchWorkerInputs:
        cursor = data["cursor"]
        if not isinstance(cursor, dict):
            raise ValueError("batch worker inputs: cursor must be an object")
        meta = _dict(data.get("batch_metadata"))
        return cls(RustCursorConfig(str(cursor.get("batch_id", "")), cursor.get("start_cursor", 0), cursor.get("end_cursor", 0),
                                    cursor.get("batch_size", 0)),
                   BatchMetadata(meta.get("cursor_field", "id"), meta.get("failure_strategy", "continue_on_failure")),
                   bool(data.get("is_no_op", False)))


@dataclass
class BatchAnalyzerOutcome(_Model):
    cursor_configs: list[CursorConfig] = field(default_factory=list)
    total_items: int | None = None
    batch_metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_ranges(cls, ranges: list[tuple[int, int]], step_size: int = 1, total_items: int | None = None,
                    batch_metadata: dict[str, Any] | None = None) -> BatchAnalyzerOutcome:
        configs = [CursorConfig(s, e, step_size) for s, e in ranges]
        total = total_items if total_items is not None else sum(e - s for s, e in ranges)
        return cls(configs, total, batch_metadata or {})


@dataclass
class BatchWorkerOutcome(_Model):
    items_processed: int = 0
    items_succeeded: int = 0
    items_failed: int = 0
    items_skipped: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    last_cursor: int | None = None
    batch_metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class BatchWorkerContext(_Model):
    """A batch worker's range and checkpoint, read from its step."""

    batch_id: str
    cursor_config: CursorConfig
    batch_index: int = 0
    total_batches: int = 1
    batch_metadata: dict[str, Any] = field(default_factory=dict)
    checkpoint: dict[str, Any] = field(default_factory=dict)
    is_no_op: bool = False

    start_cursor = property(lambda self: self.cursor_config.start_cursor)
    end_cursor = property(lambda self: self.cursor_config.end_cursor)
    step_size = property(lambda self: self.cursor_config.step_size)
    checkpoint_cursor = property(lambda self: self.checkpoint.get("cursor"))
    accumulated_results = property(lambda self: self.checkpoint.get("accumulated_results"))
    checkpoint_items_processed = property(lambda self: int(self.checkpoint.get("items_processed", 0)))

    def has_checkpoint(self) -> bool:
        return self.checkpoint.get("cursor") is not None

    @classmethod
    def from_step_context(cls, context: StepContext) -> BatchWorkerContext | None:
        checkpoint = context.checkpoint or {}
        inputs = context.step_inputs
        if inputs and isinstance(inputs.get("cursor"), dict):
            c = inputs["cursor"]
            cfg = CursorConfig(c.get("start_cursor", 0), c.get("end_cursor", 0),
                               c.get("step_size", c.get("batch_size", 1)), _dict(c.get("metadata")))
            return cls(str(c.get("batch_id", "")), cfg, 0, 1, _dict(inputs.get("batch_metadata")), checkpoint,
                       bool(inputs.get("is_no_op", False)))
        data = context.step_config.get("batch_context") or context.input_data.get("batch_context")
        if not isinstance(data, dict):
            return None
        c = _dict(data.get("cursor_config"))
        cfg = CursorConfig(c.get("start_cursor", 0), c.get("end_cursor", 0), c.get("step_size", 1), _dict(c.get("metadata")))
        return cls(str(data.get("batch_id", "")), cfg, data.get("batch_index", 0), data.get("total_batches", 1),
                   _dict(data.get("batch_metadata")), checkpoint)


for _k, _make in {"event": FfiStepEvent.from_indexed, "task_uuid": lambda ix: _uuid(ix.task_uuid),
                   "step_uuid": lambda ix: _uuid(ix.step_uuid), "correlation_id": lambda ix: _uuid(ix.correlation_id),
                   "input_data": lambda ix: _dict(ix.part(CONTEXT)), "dependency_results": lambda ix: _dict(ix.part(DEPENDENCY_RESULTS)),
                   "step_config": lambda ix: _dict(ix.part(INITIALIZATION)), "step_inputs": lambda ix: _dict(ix.part(INPUTS))}.items():
    setattr(StepContext, _k, _FromIndexed(_k, _make))
