"""Handler base classes: StepHandler, DecisionHandler and ApiHandler.

A handler subclasses :class:`StepHandler`, sets ``handler_name`` to the
template's ``handler.callable`` (or is found by its dotted class path), and
implements ``call(self, context)``, plain or ``async``. A template step may
name another method with ``handler.method``; the worker calls that method.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from typing import Any

from tasker_core.types import DecisionPointOutcome, StepContext, StepHandlerResult, _meta


class StepHandler(ABC):
    handler_name: str = ""
    handler_version: str = "1.0.0"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = config or {}

    @abstractmethod
    def call(self, context: StepContext) -> Any:
        """Run the step; return a StepHandlerResult (or await one)."""

    name = property(lambda self: self.handler_name or type(self).__name__)
    version = property(lambda self: self.handler_version)
    capabilities = property(lambda self: ["process"])

    def config_schema(self) -> dict[str, Any] | None:
        return None

    def success(self, result: Any = None, metadata: dict[str, Any] | None = None) -> StepHandlerResult:
        return StepHandlerResult.success({} if result is None else result, metadata)

    def failure(self, message: str, error_type: Any = "handler_error", retryable: bool = True,
                metadata: dict[str, Any] | None = None, error_code: str | None = None) -> StepHandlerResult:
        return StepHandlerResult.failure(message, error_type, retryable, metadata, error_code)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, version={self.version!r})"


class DecisionMixin:
    """Helpers for ``type: decision`` steps: which declared steps to create next."""

    def _decision_meta(self, metadata: dict[str, Any] | None) -> dict[str, Any]:
        return _meta(metadata, decision_handler=self.name, decision_version=self.version)  # type: ignore[attr-defined]

    def decision_success(self, steps: list[str], routing_context: dict[str, Any] | None = None,
                         metadata: dict[str, Any] | None = None) -> StepHandlerResult:
        return self.decision_success_with_outcome(DecisionPointOutcome.create_steps(steps, routing_context=routing_context), metadata)

    def decision_success_with_outcome(self, outcome: DecisionPointOutcome, metadata: dict[str, Any] | None = None) -> StepHandlerResult:
        result: dict[str, Any] = {"decision_point_outcome": {"type": outcome.decision_type.value, "step_names": outcome.next_step_names}}
        if outcome.dynamic_steps:
            result["dynamic_steps"] = outcome.dynamic_steps
        if outcome.routing_context:
            result["routing_context"] = outcome.routing_context
        return StepHandlerResult.success(result, self._decision_meta(metadata))

    def decision_no_branches(self, outcome: DecisionPointOutcome, metadata: dict[str, Any] | None = None) -> StepHandlerResult:
        result: dict[str, Any] = {"decision_point_outcome": {"type": outcome.decision_type.value}, "reason": outcome.reason}
        if outcome.routing_context:
            result["routing_context"] = outcome.routing_context
        return StepHandlerResult.success(result, self._decision_meta(metadata))

    def route_to_steps(self, step_names: list[str], routing_context: dict[str, Any] | None = None,
                       metadata: dict[str, Any] | None = None) -> StepHandlerResult:
        return self.decision_success(step_names, routing_context, metadata)

    def skip_branches(self, reason: str, routing_context: dict[str, Any] | None = None,
                      metadata: dict[str, Any] | None = None) -> StepHandlerResult:
        return self.decision_no_branches(DecisionPointOutcome.no_branches(reason, routing_context), metadata)

    def decision_failure(self, message: str, error_type: str = "decision_error", retryable: bool = False,
                         metadata: dict[str, Any] | None = None) -> StepHandlerResult:
        return StepHandlerResult.failure(message, error_type, retryable, self._decision_meta(metadata))


class DecisionHandler(DecisionMixin, StepHandler):
    capabilities = property(lambda self: ["process", "decision", "routing"])


_RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}


class ApiResponse:
    """An HTTP response: ``status_code``, ``headers`` (lower-case keys), ``body`` (JSON decoded when it is JSON)."""

    def __init__(self, status_code: int, headers: dict[str, str], raw: bytes) -> None:
        self.status_code = status_code
        self.headers = {k.lower(): v for k, v in headers.items()}
        text = raw.decode("utf-8", "replace")
        self.body: Any = text
        if "json" in self.headers.get("content-type", ""):
            try:
                self.body = json.loads(text)
            except ValueError:
                pass

    ok = property(lambda self: 200 <= self.status_code < 300)
    is_client_error = property(lambda self: 400 <= self.status_code < 500)
    is_server_error = property(lambda self: 500 <= self.status_code < 600)
    is_retryable = property(lambda self: self.status_code in _RETRYABLE_STATUS)

    @property
    def retry_after(self) -> int | None:
        value = self.headers.get("retry-after")
        if value is None:
            return None
        return int(value) if value.strip().isdigit() else 60

    def to_dict(self) -> dict[str, Any]:
        return {"status_code": self.status_code, "headers": self.headers, "body": self.body}


class APIMixin:
    """Small HTTP helpers on urllib: ``get/post/put/patch/delete`` and ``api_success/api_failure``."""

    base_url: str = ""
    default_timeout: float = 30.0
    default_headers: dict[str, str] = {}

    def request(self, method: str, path: str, params: dict[str, Any] | None = None, json: Any = None,
                data: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> ApiResponse:
        url = path if "://" in path else self.base_url.rstrip("/") + "/" + path.lstrip("/")
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        hdrs = {**self.default_headers, **(headers or {})}
        body = None
        if json is not None:
            body, hdrs["Content-Type"] = _json_bytes(json), "application/json"
        elif data is not None:
            body, hdrs["Content-Type"] = urllib.parse.urlencode(data).encode(), "application/x-www-form-urlencoded"
        req = urllib.request.Request(url, data=body, headers=hdrs, method=method.upper())
        try:
            with urllib.request.urlopen(req, timeout=self.default_timeout) as resp:
                return ApiResponse(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as err:
            return ApiResponse(err.code, dict(err.headers or {}), err.read())

    def get(self, path: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> ApiResponse:
        return self.request("GET", path, params=params, headers=headers)

    def post(self, path: str, json: Any = None, data: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> ApiResponse:
        return self.request("POST", path, json=json, data=data, headers=headers)

    def put(self, path: str, json: Any = None, data: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> ApiResponse:
        return self.request("PUT", path, json=json, data=data, headers=headers)

    def patch(self, path: str, json: Any = None, data: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> ApiResponse:
        return self.request("PATCH", path, json=json, data=data, headers=headers)

    def delete(self, path: str, headers: dict[str, str] | None = None) -> ApiResponse:
        return self.request("DELETE", path, headers=headers)

    def api_success(self, response: ApiResponse, result: Any = None, include_response: bool = True) -> StepHandlerResult:
        if result is None:
            result = response.body if isinstance(response.body, dict) else {"data": response.body}
        meta = {"status_code": response.status_code, "headers": response.headers} if include_response else {}
        return StepHandlerResult.success(result, meta)

    def api_failure(self, response: ApiResponse, message: str | None = None) -> StepHandlerResult:
        body = response.body
        if message is None:
            detail = next((body[k] for k in ("error", "message", "detail") if isinstance(body, dict) and k in body), None)
            message = f"HTTP {response.status_code}: {detail if isinstance(detail, str) else 'request failed'}"
        meta: dict[str, Any] = {"status_code": response.status_code, "headers": response.headers}
        if response.retry_after is not None:
            meta["retry_after"] = response.retry_after
        if body:
            meta["response_body"] = body
        kind = "rate_limited" if response.status_code == 429 else "client_error" if response.is_client_error else "server_error"
        return StepHandlerResult.failure(message, kind, response.is_retryable, meta)

    def connection_error(self, error: Exception, context: str | None = None) -> StepHandlerResult:
        where = f" while {context}" if context else ""
        return StepHandlerResult.failure(f"Connection error{where}: {error}", "connection_error", True,
                                         {"exception_type": type(error).__name__})

    def timeout_error(self, error: Exception, context: str | None = None) -> StepHandlerResult:
        where = f" while {context}" if context else ""
        return StepHandlerResult.failure(f"Request timeout{where}: {error}", "timeout", True,
                                         {"exception_type": type(error).__name__})


class ApiHandler(APIMixin, StepHandler):
    capabilities = property(lambda self: ["process", "http", "api"])


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()


# The DSL builds on the classes above.
from tasker_core.step_handler.functional import (BatchConfig, Decision, api_handler, batch_analyzer,  # noqa: E402
                                                  batch_worker, decision_handler, depends_on, inputs, step_handler)

__all__ = [
    "StepHandler", "DecisionHandler", "DecisionMixin", "ApiHandler", "APIMixin", "ApiResponse",
    "step_handler", "depends_on", "inputs", "decision_handler", "batch_analyzer", "batch_worker",
    "api_handler", "Decision", "BatchConfig",
]
