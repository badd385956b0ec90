"""Waiting for a condition: polled until true or a timeout, which fails with what was awaited and the last state."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any


class WaitTimeout(AssertionError):
    """A condition did not hold in time (an AssertionError, so pytest shows it as a failed check)."""


class _Polls:
    """One wait's bookkeeping: the deadline, the last value or error, the message when time is up."""

    def __init__(
        self,
        timeout: float,
        what: str,
        ignoring: tuple[type[BaseException], ...] = (),
        check: Callable[[], None] | None = None,
        details: Callable[[], str] | None = None,
    ):
        self.timeout, self.what, self.ignoring, self.check, self.details = timeout, what, ignoring, check, details
        self.deadline = time.monotonic() + timeout
        self.last: object = None
        self.error: BaseException | None = None

    def give_up_if_late(self) -> None:
        if time.monotonic() <= self.deadline:
            return
        text = f"timed out after {self.timeout:g} s waiting for {self.what}"
        if self.error is not None:
            text += f"; last error: {type(self.error).__name__}: {self.error}"
        elif self.last not in (None, False):
            text += f"; last value: {self.last!r}"
        if self.details is not None:
            text += "\n" + self.details()
        raise WaitTimeout(text)


async def wait_for(
    predicate: Callable[[], Any | Awaitable[Any]],
    timeout: float,
    what: str,
    *,
    interval: float = 0.25,
    ignoring: tuple[type[BaseException], ...] = (),
    check: Callable[[], None] | None = None,
    details: Callable[[], str] | None = None,
) -> Any:
    """Call `predicate` (sync or async) until it returns something truthy; return that.

    Exceptions of the types in `ignoring` count as "not yet" (the last one is in the timeout's message); any other
    exception ends the wait at once, as does whatever `check` raises (it runs before each try: e.g. a process that
    must not exit meanwhile). `details` adds context to the timeout's message (e.g. a log tail).
    """
    polls = _Polls(timeout, what, ignoring, check, details)
    while True:
        if check is not None:
            check()
        try:
            value = predicate()
            polls.last, polls.error = (await value) if inspect.isawaitable(value) else value, None
        except ignoring as exc:
            polls.last, polls.error = None, exc
        if polls.last:
            return polls.last
        polls.give_up_if_late()
        await asyncio.sleep(interval)


def wait_for_sync(predicate: Callable[[], Any], timeout: float, what: str, *, interval: float = 0.25, **options):
    """`wait_for` for synchronous tests, in this thread (e.g. next to Playwright's sync API); the same options."""
    polls = _Polls(timeout, what, **options)
    while True:
        if polls.check is not None:
            polls.check()
        try:
            polls.last, polls.error = predicate(), None
        except polls.ignoring as exc:
            polls.last, polls.error = None, exc
        if polls.last:
            return polls.last
        polls.give_up_if_late()
        time.sleep(interval)


def seconds_until(at: datetime) -> float:
    return max(0.0, (at - datetime.now(UTC)).total_seconds())


async def sleep_until(at: datetime) -> None:
    await asyncio.sleep(seconds_until(at))


def sleep_until_sync(at: datetime) -> None:
    time.sleep(seconds_until(at))
