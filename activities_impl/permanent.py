"""Failures that retrying cannot mend become non-retryable: the workflow carries on instead of waiting for ever.

An activity whose input can never succeed (an activity, plan version or row the store does not have, a stored
plan that no longer validates, a template that does not render) raises the same error on every attempt; retried with
backoff for ever, it would stall the activity's lifecycle. `permanent_failures` turns those errors into an
`ApplicationError` of type `PERMANENT_FAILURE`, marked non-retryable. Infrastructure errors (the database or the
SMTP server unreachable, a claim held by another attempt) pass through and are retried as before.

The message carries the error's type only: exception texts can quote names and addresses.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from jinja2 import TemplateError
from pydantic import ValidationError
from temporalio.exceptions import ApplicationError

from activities_impl.store import StoreError

PERMANENT_FAILURE = "PermanentFailure"
# Only errors that say "this input is wrong", never a plain ValueError or TypeError: those may be a bug of ours,
# which a fixed deploy mends, so they are retried (with backoff) rather than given up.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (StoreError, ValidationError, TemplateError)

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def permanent_failures(fn: F) -> F:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except PERMANENT_ERRORS as exc:
            raise ApplicationError(
                f"{fn.__name__} cannot succeed: {type(exc).__name__}", type=PERMANENT_FAILURE, non_retryable=True
            ) from None

    return wrapper  # type: ignore[return-value]
