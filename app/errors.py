"""The error tree. Each node knows its HTTP status and whether users may read its text.

```
AppError ─┬─ NotFound (404)        also for other users' ids
          ├─ Conflict (409)        e.g. cancelling a finished job
          ├─ Invalid (422)         user-fixable input
          ├─ TooLarge (413)
          ├─ RateLimited (429)     with Retry-After
          ├─ Unauthorized (401)    no or bad credentials
          ├─ Forbidden (403)       signed in, but not allowed (the operations views)
          └─ Unavailable (503)     a backend is down; retry later (with Retry-After)
```

Task failures use a parallel taxonomy (``TaskError``): transient errors are retried with backoff,
user-fixable ones fail at once with a message the user can act on, anything else is internal.
Two AI-specific kinds name what users most need to know: ``llm_unavailable`` (the model provider
kept failing until the job's retries were spent) and ``over_budget`` (the user's daily token
allowance is used up; not retried).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class AppError(Exception):
    """Base of errors that map to an HTTP problem response."""

    status_code = 500
    title = "Internal error"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


class NotFound(AppError):
    status_code = 404
    title = "Not found"


class Conflict(AppError):
    status_code = 409
    title = "Conflict"


class Invalid(AppError):
    status_code = 422
    title = "Invalid input"


class TooLarge(AppError):
    status_code = 413
    title = "Too large"


class Unauthorized(AppError):
    status_code = 401
    title = "Unauthorized"

    def __init__(self, detail: str = "A valid API token is required", **extra: Any):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **extra)


class Forbidden(AppError):
    status_code = 403
    title = "Forbidden"


class RateLimited(AppError):
    status_code = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after_s: int, **extra: Any):
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)}, **extra)


class Unavailable(AppError):
    status_code = 503
    title = "Service unavailable"

    def __init__(self, detail: str, *, retry_after_s: int = 5, **extra: Any):
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)}, **extra)


class ErrorKind(StrEnum):
    """How a task failure is handled and what the user sees."""

    TRANSIENT = "transient"  # network, 5xx, 429, timeouts: retried with backoff
    USER = "user"  # bad file, blocked URL: failed at once, message shown
    INTERNAL = "internal"  # bugs: failed, traceback for operators only
    CANCELLED = "cancelled"
    LLM_UNAVAILABLE = "llm_unavailable"  # provider down or limiting, retries spent
    OVER_BUDGET = "over_budget"  # the user's daily AI token allowance is used up


class TaskError(Exception):
    """Raised by tasks to choose how the failure is handled. ``str(error)`` is shown to users."""

    kind = ErrorKind.INTERNAL

    def __init__(self, message: str, *, retry_after_s: float | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s

    @property
    def exhausted_kind(self) -> ErrorKind:
        """The kind a job fails with once this error has spent its retries."""
        return self.kind

    @property
    def exhausted_message(self) -> str:
        """The message a job fails with once this error has spent its retries."""
        return self.message


class TransientError(TaskError):
    """Worth retrying later: the outside world may recover."""

    kind = ErrorKind.TRANSIENT


class ProviderUnavailable(TransientError):
    """The AI provider is down, limiting us, or paused by the circuit breaker: retried later,
    and ``llm_unavailable`` once the job's retries are spent."""

    def __init__(self, reason: str, *, retry_after_s: float | None = None):
        super().__init__(f"{reason} The job will be retried.", retry_after_s=retry_after_s)
        self.reason = reason

    @property
    def exhausted_kind(self) -> ErrorKind:
        return ErrorKind.LLM_UNAVAILABLE

    @property
    def exhausted_message(self) -> str:
        return f"{self.reason} Try again later."


class OverBudget(TaskError):
    """The user's daily AI token allowance is used up: failed at once, never retried."""

    kind = ErrorKind.OVER_BUDGET


class UserError(TaskError):
    """The input cannot work; retrying will not help, the user can fix it."""

    kind = ErrorKind.USER


INTERNAL_USER_MESSAGE = "The job failed because of an internal error. Operators have the details."
