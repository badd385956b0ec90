"""Faults inside the process: the SMTP server or the store away for a while. Nothing lost, nothing doubled."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy.exc import OperationalError

from domain.phases import Phase


def flaky(obj, method: str, failures: int):
    """Make `obj.method` raise like an unreachable database `failures` times, then work again."""
    real = getattr(obj, method)
    calls = {"failed": 0}

    def wrapper(*args, **kwargs):
        if calls["failed"] < failures:
            calls["failed"] += 1
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("store is down (simulated)"))
        return real(*args, **kwargs)

    setattr(obj, method, wrapper)
    return calls


async def test_smtp_down_for_a_while_sends_every_invitation_exactly_once(lab, make_plan):
    plan = make_plan(await lab.now())
    handle = await lab.service.start(plan)
    lab.mailer.fail_next = 6  # the SMTP server refuses the next six attempts
    await lab.advance_to(plan.registration.opens + timedelta(minutes=5))
    assert lab.mailer.fail_next == 0
    assert sorted(m["To"] for m in lab.mails("invitation")) == [
        "emma.jonsson@are.example.se",
        "katarina.engstrom@sundsvall.example.se",
        "maria.lindqvist@ostersund.example.se",
    ]
    rows = [m for m in lab.store.outbox(plan.id) if m.purpose == "invitation"]
    assert all(m.status == "sent" for m in rows) and max(m.attempts for m in rows) > 1
    assert (await lab.service.status(plan.id)).phase is Phase.OPEN  # the workflow did not fail
    history = await handle.fetch_history()
    failures = [e for e in history.events if e.HasField("activity_task_failed_event_attributes")]
    assert failures == []  # retried inside the activity's retry policy, not failed


async def test_store_down_during_a_bulk_send_then_back(lab, make_plan):
    plan = make_plan(await lab.now(), min_participants=1)
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    for i in range(3):
        await lab.service.register(plan.id, name=f"P{i}", email=f"p{i}@skola.test", organisation="berg", role="lärare")
    calls = flaky(lab.store, "claim_batch", failures=4)  # the store goes away while the confirmations go out
    await lab.advance_to(plan.registration.deadline + timedelta(minutes=5))
    assert calls["failed"] == 4
    assert Counter(m["To"] for m in lab.mails("confirmed")) == {f"p{i}@skola.test": 1 for i in range(3)}
    assert (await lab.service.status(plan.id)).phase is Phase.CONFIRMED


async def test_store_down_while_a_registration_is_recorded(lab, make_plan):
    plan = make_plan(await lab.now())
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    calls = flaky(lab.store, "record_registration", failures=2)
    result = await lab.service.register(
        plan.id, name="Anna", email="anna@skola.test", organisation="berg", role="lärare"
    )
    assert calls["failed"] == 2 and result.status.value == "confirmed"
    [(row, person)] = lab.store.registrations(plan.id)
    assert row.id == result.registration_id and person.email == "anna@skola.test"
    assert len(lab.mails("registration")) == 1


async def test_a_registration_still_being_recorded_at_the_deadline_is_announced_too(lab, make_plan):
    import asyncio

    start = await lab.now()
    plan = make_plan(
        start,
        min_participants=1,
        registration={"opens": start + timedelta(minutes=1), "deadline": start + timedelta(minutes=1, seconds=20)},
    )
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    calls = flaky(lab.store, "record_registration", failures=5)  # ~31 s of retries: past the deadline
    registering = asyncio.create_task(
        lab.service.register(plan.id, name="Sen Anmälan", email="sen@skola.test", organisation="berg", role="lärare")
    )
    await asyncio.sleep(0.5)  # the Update is taken (the seat is given) before the deadline
    await lab.advance_to(plan.registration.deadline + timedelta(minutes=2))
    result = await registering
    assert calls["failed"] == 5 and result.status.value == "confirmed"
    status = await lab.service.status(plan.id)
    assert status.phase is Phase.CONFIRMED
    # The announcement waited for the registration to reach the store, so this person is told.
    assert [m["To"] for m in lab.mails("confirmed")] == ["sen@skola.test"]
