"""Tasker step handlers in Python (standard library only).

Write handlers with :class:`StepHandler` (or the decorators of
``tasker_core.step_handler.functional``), return
``StepHandlerResult.success(...)`` / ``.failure(...)`` or raise
:class:`RetryableError` / :class:`PermanentError`, and run them with
``python3 -m tasker_core.worker --handlers DIR``. The worker library
(``libtasker_worker.so``) does everything else; it is loaded only when a
worker starts, so importing this package is safe before a fork.
"""

from __future__ import annotations

from typing import Any

from tasker_core.batch_processing import BatchAggregationScenario, Batchable, BatchWorkerConfig
from tasker_core.errors import (AuthenticationError, AuthorizationError, BusinessLogicError, ConfigurationError, FFIError,
                                NetworkError, NotFoundError, PermanentError, RateLimitError, ResourceContentionError,
                                RetryableError, ServiceUnavailableError, StepTimeoutError, StepValidationError, TaskerError,
                                WorkerBootstrapError, WorkerNotInitializedError, is_permanent, is_retryable)
from tasker_core.registry import HandlerNotFound, HandlerRegistry
from tasker_core.step_handler import ApiHandler, ApiResponse, DecisionHandler, StepHandler
from tasker_core.step_handler.functional import (BatchConfig, Decision, api_handler, batch_analyzer, batch_worker,
                                                  decision_handler, depends_on, inputs, step_handler)
from tasker_core.types import (BatchAnalyzerOutcome, BatchWorkerContext, BatchWorkerOutcome, CursorConfig, DecisionPointOutcome,
                               DecisionType, ErrorType, FfiStepEvent, StepContext, StepHandlerResult, TaskSequenceStepWrapper)

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The worker module is imported on demand so that ``python3 -m
    # tasker_core.worker`` does not find it already imported.
    if name == "Worker":
        from tasker_core.worker import Worker

        return Worker
    raise AttributeError(f"module 'tasker_core' has no attribute {name!r}")
