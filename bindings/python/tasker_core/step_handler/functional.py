"""The decorator DSL: plain functions as handlers.

    @step_handler("orders.step_handlers.total")
    @depends_on(cart="validate_cart")
    @inputs("currency")
    def total(cart, currency, context):
        return {"total": sum(i["price"] for i in cart["items"]), "currency": currency}

``@depends_on(param="step")`` passes that ancestor's result, ``@inputs("k")``
passes task-context fields, a ``context`` (or ``_context``) parameter gets the
StepContext. A dict return is the step's result, None is ``{}``, another
value is ``{"result": value}``; a StepHandlerResult is used as it is. A raised
PermanentError fails the step at once, anything else is retryable.
``method="name"`` registers the function for steps whose template names that
``handler.method`` on the same callable. ``async def`` functions work too.
"""

from __future__ import annotations

import dataclasses
import inspect
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tasker_core.batch_processing import Batchable
from tasker_core.errors import PermanentError, RetryableError, TaskerError
# The package imports this module once its classes are defined (at its end).
from tasker_core.step_handler import APIMixin, DecisionMixin, StepHandler
from tasker_core.types import DecisionPointOutcome, DecisionType, ErrorType, StepContext, StepHandlerResult


@dataclass(frozen=True)
class Decision:
    """What a ``@decision_handler`` returns: ``Decision.route([...])`` or ``Decision.skip(reason)``."""

    outcome: DecisionPointOutcome

    @staticmethod
    def route(steps: list[str], **routing_context: Any) -> Decision:
        return Decision(DecisionPointOutcome.create_steps(steps, routing_context=routing_context))

    @staticmethod
    def skip(reason: str, **routing_context: Any) -> Decision:
        return Decision(DecisionPointOutcome.no_branches(reason, routing_context))


@dataclass
class BatchConfig:
    """What a ``@batch_analyzer`` returns: split ``total_items`` into batches of ``batch_size``."""

    total_items: int
    batch_size: int
    metadata: dict[str, Any] = field(default_factory=dict)


def _wrap_result(value: Any) -> StepHandlerResult:
    if isinstance(value, StepHandlerResult):
        return value
    if isinstance(value, dict):
        return StepHandlerResult.success(value)
    if hasattr(value, "model_dump"):
        return StepHandlerResult.success(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return StepHandlerResult.success(dataclasses.asdict(value))
    return StepHandlerResult.success({} if value is None else {"result": value})


def _wrap_exception(exc: Exception) -> StepHandlerResult:
    meta = dict(getattr(exc, "metadata", None) or {})
    if isinstance(exc, PermanentError):
        return StepHandlerResult.failure(str(exc), ErrorType.PERMANENT_ERROR, False, meta)
    if isinstance(exc, RetryableError):
        return StepHandlerResult.failure(str(exc), ErrorType.RETRYABLE_ERROR, True, meta)
    if isinstance(exc, TaskerError):
        return StepHandlerResult.failure(str(exc), ErrorType.HANDLER_ERROR, exc.retryable, meta)
    return StepHandlerResult.failure(str(exc), ErrorType.HANDLER_ERROR, True,
                                     {"exception_type": type(exc).__name__, "traceback": traceback.format_exc()})


def _build(model: type, data: dict[str, Any]) -> Any:
    if hasattr(model, "model_validate"):
        return model.model_validate(data)
    if dataclasses.is_dataclass(model):
        names = {f.name for f in dataclasses.fields(model)}
        return model(**{k: v for k, v in data.items() if k in names})
    return model(**data)


def _context_param(fn: Callable[..., Any]) -> str | None:
    params = inspect.signature(fn).parameters
    return next((n for n in ("context", "_context") if n in params), None)


def _kwargs(fn: Callable[..., Any], context: StepContext, context_param: str | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    models = getattr(fn, "_dep_models", {})
    for param, step in getattr(fn, "_depends_on", {}).items():
        raw = context.get_dependency_result(step)
        kwargs[param] = _build(models[param], raw) if param in models and isinstance(raw, dict) else raw
    model = getattr(fn, "_input_model", None)
    if model is not None:
        names = list(getattr(model, "model_fields", None) or [f.name for f in dataclasses.fields(model)])
        kwargs["inputs"] = _build(model, {n: context.get_input(n) for n in names})
    for key in getattr(fn, "_inputs", []):
        kwargs[key] = context.get_input(key)
    if context_param:
        kwargs[context_param] = context
    return kwargs


def _make(fn: Callable[..., Any], name: str, version: str, bases: tuple[type, ...],
          convert: Callable[[Any, Any], StepHandlerResult] = lambda _handler, raw: _wrap_result(raw),
          extra: Callable[[Any, StepContext], dict[str, Any]] | None = None, method: str | None = None) -> Any:
    """Build the StepHandler subclass behind a decorated function and attach it as ``fn._handler_class``."""

    context_param = _context_param(fn)

    def prepare(handler: Any, context: StepContext) -> dict[str, Any]:
        kwargs = _kwargs(fn, context, context_param)
        if extra is not None:
            kwargs.update(extra(handler, context))
        return kwargs

    if inspect.iscoroutinefunction(fn):
        async def call(self: Any, context: StepContext) -> StepHandlerResult:
            try:
                return convert(self, await fn(**prepare(self, context)))
            except Exception as exc:  # noqa: BLE001 - every failure becomes a result
                return _wrap_exception(exc)
    else:
        def call(self: Any, context: StepContext) -> StepHandlerResult:  # type: ignore[misc]
            try:
                return convert(self, fn(**prepare(self, context)))
            except Exception as exc:  # noqa: BLE001
                return _wrap_exception(exc)

    cls = type(fn.__name__, bases, {"handler_name": name, "handler_version": version, "handler_method": method,
                                    "call": call, "__doc__": fn.__doc__, "__module__": fn.__module__,
                                    "__qualname__": fn.__qualname__})
    fn._handler_class = cls  # type: ignore[attr-defined]
    return fn


def step_handler(name: str, version: str = "1.0.0", method: str | None = None) -> Callable[[Callable[..., Any]], Any]:
    return lambda fn: _make(fn, name, version, (StepHandler,), method=method)


def depends_on(**deps: str | tuple[str, type]) -> Callable[[Callable[..., Any]], Any]:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        dep_map, models = dict(getattr(fn, "_depends_on", {})), dict(getattr(fn, "_dep_models", {}))
        for param, spec in deps.items():
            if isinstance(spec, tuple):
                dep_map[param], models[param] = spec
            else:
                dep_map[param] = spec
        fn._depends_on, fn._dep_models = dep_map, models  # type: ignore[attr-defined]
        return fn

    return decorate


def inputs(*keys_or_model: str | type) -> Callable[[Callable[..., Any]], Any]:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if len(keys_or_model) == 1 and isinstance(keys_or_model[0], type):
            fn._input_model = keys_or_model[0]  # type: ignore[attr-defined]
        else:
            fn._inputs = [*getattr(fn, "_inputs", []), *keys_or_model]  # type: ignore[attr-defined]
        return fn

    return decorate


def _decision(handler: Any, raw: Any) -> StepHandlerResult:
    if isinstance(raw, Decision):
        o = raw.outcome
        if o.decision_type == DecisionType.CREATE_STEPS:
            return handler.decision_success(o.next_step_names, routing_context=o.routing_context)
        return handler.skip_branches(o.reason or "No branches", routing_context=o.routing_context)
    return _wrap_result(raw)


def decision_handler(name: str, version: str = "1.0.0") -> Callable[[Callable[..., Any]], Any]:
    return lambda fn: _make(fn, name, version, (DecisionMixin, StepHandler), _decision)


def batch_analyzer(name: str, worker_template: str, version: str = "1.0.0") -> Callable[[Callable[..., Any]], Any]:
    def convert(handler: Any, raw: Any) -> StepHandlerResult:
        if isinstance(raw, BatchConfig):
            outcome = handler.create_batch_outcome(raw.total_items, raw.batch_size, batch_metadata=raw.metadata or {})
            return handler.batch_analyzer_success(outcome, worker_template_name=worker_template)
        return _wrap_result(raw)

    return lambda fn: _make(fn, name, version, (Batchable, StepHandler), convert)


def batch_worker(name: str, version: str = "1.0.0") -> Callable[[Callable[..., Any]], Any]:
    return lambda fn: _make(fn, name, version, (Batchable, StepHandler),
                            extra=lambda h, ctx: {"batch_context": h.get_batch_context(ctx)})


def api_handler(name: str, base_url: str, version: str = "1.0.0", timeout: float = 30.0,
                default_headers: dict[str, str] | None = None) -> Callable[[Callable[..., Any]], Any]:
    def decorate(fn: Callable[..., Any]) -> Any:
        _make(fn, name, version, (APIMixin, StepHandler), extra=lambda h, ctx: {"api": h})
        cls = fn._handler_class  # type: ignore[attr-defined]
        cls.base_url, cls.default_timeout, cls.default_headers = base_url, timeout, dict(default_headers or {})
        return fn

    return decorate


__all__ = ["BatchConfig", "Decision", "api_handler", "batch_analyzer", "batch_worker", "decision_handler",
           "depends_on", "inputs", "step_handler"]
