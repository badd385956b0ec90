"""Requests that wait for the same activity's gate go to the workflow together.

The server admits only so many Updates per workflow at once (`history.maxInFlightUpdates`), and each web process
lets a share of them through (`Service`'s per-activity gate of `slots`). Here up to `slots` senders per activity take
turns at that gate; each takes every request waiting when it gets through (up to `limit`, in the order they came)
and sends them as one Update. Alone, a request goes at once, by itself; in a burst of 650 the requests share a few
dozen Updates instead of queueing for 650, and the workflow still gives the seats in arrival order.

A caller that goes away (a closed connection) before its request is taken withdraws it; once taken, it stays in its
batch, and the workflow may give it a seat, as it would have for an Update of its own.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Q = TypeVar("Q")
R = TypeVar("R")
Send = Callable[[list[Q]], Awaitable[list[R | Exception]]]


@dataclass(eq=False)
class _Waiting(Generic[Q, R]):
    request: Q
    send: Send[Q, R]
    answer: asyncio.Future[R] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    taken: bool = False


def _retrieved(answer: asyncio.Future[Any]) -> None:
    """Mark an answer nobody awaits any more as seen (its caller went away), so asyncio does not warn about it."""
    if not answer.cancelled():
        answer.exception()


class Batches(Generic[Q, R]):
    def __init__(
        self, gates: dict[str, asyncio.Semaphore], slots: int, limit: int, copy: Callable[[Exception], Exception]
    ):
        """`gates`: the per-key semaphores of `slots` each (shared with whatever else sends Updates for the key);
        `limit`: the most requests in one batch; `copy`: a fresh exception like the given one, for each request of
        a batch that failed as a whole."""
        self._gates, self.slots, self.limit, self._copy = gates, slots, limit, copy
        self._waiting: dict[str, deque[_Waiting[Q, R]]] = defaultdict(deque)
        self._senders: dict[str, int] = defaultdict(int)
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, key: str, request: Q, send: Send[Q, R]) -> R:
        """The answer to `request`, sent with whatever else waits for `key` when a sender gets through its gate.
        `send` takes a batch and returns one answer or exception per request (a request alone keeps its own)."""
        me: _Waiting[Q, R] = _Waiting(request, send)
        me.answer.add_done_callback(_retrieved)
        self._waiting[key].append(me)
        if self._senders[key] < self.slots:
            self._senders[key] += 1
            task = asyncio.create_task(self._sender(key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            return await asyncio.shield(me.answer)
        except asyncio.CancelledError:
            if not me.taken:
                self._waiting[key].remove(me)
            raise

    async def _sender(self, key: str) -> None:
        """Take turns at the gate until nothing waits: each turn, one batch of all that wait (up to `limit`)."""
        try:
            while self._waiting.get(key):
                async with self._gates[key]:
                    waiting = self._waiting[key]
                    batch: list[_Waiting[Q, R]] = []
                    while waiting and len(batch) < self.limit:
                        taken = waiting.popleft()
                        taken.taken = True
                        batch.append(taken)
                    if batch:
                        await self._deliver(batch)
        finally:
            self._senders[key] -= 1
            if not self._senders[key]:
                del self._senders[key]
                if not self._waiting.get(key):
                    self._waiting.pop(key, None)

    async def _deliver(self, batch: list[_Waiting[Q, R]]) -> None:
        try:
            answers = await batch[0].send([w.request for w in batch])
        except Exception as exc:  # the whole batch: each request gets its own copy of the error
            for w in batch:
                if not w.answer.done():
                    w.answer.set_exception(self._copy(exc))
            return
        for w, answer in zip(batch, answers, strict=True):
            if w.answer.done():
                continue
            if isinstance(answer, Exception):
                w.answer.set_exception(answer)
            else:
                w.answer.set_result(answer)
