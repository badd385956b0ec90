"""api/batches.py: requests waiting for a full gate go together, in the order they came; alone, at once."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from api.batches import Batches


class Refusal(Exception):
    pass


def batches(slots: int = 2, limit: int = 10) -> tuple[Batches[int, str], dict[str, asyncio.Semaphore]]:
    gates: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(slots))
    return Batches(gates, slots, limit, lambda exc: type(exc)(*exc.args)), gates


class Workflow:
    """A stand-in for the workflow: answers each batch after `release`, refuses odd numbers above 100."""

    def __init__(self) -> None:
        self.sent: list[list[int]] = []
        self.release = asyncio.Event()
        self.in_flight = self.peak = 0

    async def send(self, requests: list[int]) -> list[str | Exception]:
        self.sent.append(requests)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await self.release.wait()
        finally:
            self.in_flight -= 1
        return [Refusal(f"no {r}") if r > 100 and r % 2 else f"seat {r}" for r in requests]


async def arrive(queue: Batches[int, str], workflow: Workflow, request: int) -> asyncio.Task[str]:
    """A request that comes on its own: submitted, and given the moment to be sent if a slot is free."""
    task = asyncio.create_task(queue.submit("a", request, workflow.send))
    await asyncio.sleep(0.005)
    return task


async def test_alone_a_request_goes_at_once_by_itself():
    queue, _ = batches()
    workflow = Workflow()
    workflow.release.set()
    assert await queue.submit("a", 1, workflow.send) == "seat 1"
    assert workflow.sent == [[1]]


async def test_a_burst_beyond_the_gate_shares_updates_in_arrival_order():
    queue, gates = batches(slots=2, limit=10)
    workflow = Workflow()
    calls = [await arrive(queue, workflow, 0), await arrive(queue, workflow, 1)]
    calls += [asyncio.create_task(queue.submit("a", i, workflow.send)) for i in range(2, 25)]  # all at once
    await asyncio.sleep(0.01)
    assert workflow.sent == [[0], [1]]  # the first two took the two slots; the rest wait
    workflow.release.set()
    assert await asyncio.gather(*calls) == [f"seat {i}" for i in range(25)]
    assert [r for batch in workflow.sent for r in batch] == list(range(25))  # each once, in order
    assert workflow.sent[2:] == [list(range(2, 12)), list(range(12, 22)), list(range(22, 25))]  # up to `limit`
    assert workflow.peak <= 2 and not gates["a"].locked()


async def test_each_request_gets_its_own_refusal_and_a_failed_batch_fails_each():
    queue, _ = batches(slots=1)
    workflow = Workflow()
    calls = [asyncio.create_task(queue.submit("a", i, workflow.send)) for i in (1, 101, 102, 103)]
    workflow.release.set()
    answers = await asyncio.gather(*calls, return_exceptions=True)
    assert answers[0] == "seat 1" and answers[2] == "seat 102"
    assert [str(a) for a in (answers[1], answers[3])] == ["no 101", "no 103"]

    async def broken(requests: list[int]) -> list[str | Exception]:
        raise Refusal("closed")

    failed = await asyncio.gather(*(queue.submit("b", i, broken) for i in range(3)), return_exceptions=True)
    assert [str(f) for f in failed] == ["closed"] * 3 and len({id(f) for f in failed}) == 3  # a copy each


async def test_a_caller_gone_before_its_request_is_taken_withdraws_it():
    queue, _ = batches(slots=1)
    workflow = Workflow()
    first = await arrive(queue, workflow, 1)
    gone = asyncio.create_task(queue.submit("a", 2, workflow.send))
    third = asyncio.create_task(queue.submit("a", 3, workflow.send))
    await asyncio.sleep(0.01)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    workflow.release.set()
    assert await asyncio.gather(first, third) == ["seat 1", "seat 3"]
    assert workflow.sent == [[1], [3]]


async def test_a_caller_gone_after_its_request_was_taken_leaves_the_batch_whole():
    queue, _ = batches(slots=1)
    workflow = Workflow()
    calls = [await arrive(queue, workflow, 0)]
    calls += [asyncio.create_task(queue.submit("a", i, workflow.send)) for i in (1, 2)]
    await asyncio.sleep(0.01)  # 0 is sent; 1 and 2 wait
    workflow.release.set()
    await calls[0]
    await asyncio.sleep(0)  # the next batch, [1, 2], is taken
    calls[1].cancel()
    assert await calls[2] == "seat 2"
    assert workflow.sent == [[0], [1, 2]]  # 1 went with its batch: the workflow may have given it a seat
