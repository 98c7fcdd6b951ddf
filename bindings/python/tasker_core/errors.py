"""Errors a handler raises to say whether its step may be retried.

Raise a :class:`RetryableError` (or a subclass) for a transient failure and a
:class:`PermanentError` (or a subclass) for one that retrying cannot fix. The
worker turns the raised error into the step's failure: its class name is the
error type, ``retryable`` decides whether the orchestrator retries, and
``retry_after`` (seconds) asks the orchestrator to wait that long first.
Any other exception is a retryable failure.
"""

from __future__ import annotations

from typing import Any


class TaskerError(Exception):
    """Base of every error of this package; ``retryable`` defaults to True."""

    retryable: bool = True

    def __init__(self, message: str = "", *, retryable: bool | None = None, metadata: dict[str, Any] | None = None,
                 error_code: str | None = None, retry_after: int | float | None = None,
                 context: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable
        self.metadata = dict(metadata or {})
        self.error_code = error_code
        self.retry_after = retry_after
        if error_code is not None:
            self.metadata["error_code"] = error_code
        if retry_after is not None:
            self.metadata["retry_after"] = retry_after
        if context:
            self.metadata.update(context)

    def to_dict(self) -> dict[str, Any]:
        return {"error_type": type(self).__name__, "message": self.message, "retryable": self.retryable,
                "metadata": self.metadata}


class RetryableError(TaskerError):
    """A transient failure: the step is retried while attempts remain."""


class PermanentError(TaskerError):
    """A failure retrying cannot fix: the step fails at once."""

    retryable = False


class TimeoutError(RetryableError):  # noqa: A001 - tasker-core's name
    """An operation the handler called took too long."""


class NetworkError(RetryableError):
    """A network failure (connection refused or reset, DNS...)."""


class RateLimitError(RetryableError):
    """A service asked the handler to slow down."""


class ServiceUnavailableError(RetryableError):
    """A service is down or overloaded for now."""


class ResourceContentionError(RetryableError):
    """A lock or other shared resource is held elsewhere for now."""


class ValidationError(PermanentError):
    """The step's input is invalid."""


class NotFoundError(PermanentError):
    """Something the step needs does not exist."""


class AuthenticationError(PermanentError):
    """The credentials were refused."""


class AuthorizationError(PermanentError):
    """The credentials do not allow the operation."""


class ConfigurationError(PermanentError):
    """The handler or its template is misconfigured."""


class BusinessLogicError(PermanentError):
    """A business rule rejects the operation."""


class FFIError(TaskerError):
    """The native library refused a call; ``code`` is its error code."""

    def __init__(self, message: str = "", *, code: str = "internal", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.code = code


class WorkerBootstrapError(FFIError):
    """The worker library could not start the worker."""


class WorkerNotInitializedError(TaskerError):
    """The worker was used before it started."""


def is_retryable(exc: BaseException) -> bool:
    """Whether a raised exception should let the step be retried."""
    return bool(getattr(exc, "retryable", True)) if isinstance(exc, TaskerError) else True


def is_permanent(exc: BaseException) -> bool:
    return not is_retryable(exc)


# tasker-core exports these two under other names at the package top level.
StepTimeoutError = TimeoutError
StepValidationError = ValidationError
