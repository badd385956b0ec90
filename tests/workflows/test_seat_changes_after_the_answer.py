"""Registrations and withdrawals are answered once the seat is taken in the workflow; the store and the e-mails
follow, in the order taken, several per activity (the patch `answer-before-recording`), and registration opens on
time while the invitation goes out (`open-before-inviting`)."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

from temporalio.api.enums.v1 import EventType

from domain.lifecycle import SeatStatus
from domain.phases import Phase
from tests.support.waiting import wait_for

ORGS = ["sundsvall", "ostersund", "are"]


async def register(lab, plan, i: int):
    return await lab.service.register(
        plan.id, name=f"Person {i}", email=f"p{i}@skola.test", organisation=ORGS[i % 3], role="lärare"
    )


class Held:
    """Hold a store method (called by an activity in a worker thread) until released; counts its calls."""

    def __init__(self, store, method: str):
        self.real, self.release, self.entered, self.calls = getattr(store, method), threading.Event(), 0, 0
        setattr(store, method, self)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        self.entered += 1
        assert self.release.wait(30), "never released"
        return self.real(*args, **kwargs)


def activity_types(history) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


def seat_mails(lab) -> list[tuple[str, str]]:
    return [
        (m["X-Runflow-Purpose"], m["To"])
        for m in lab.mailer.sent
        if m["X-Runflow-Purpose"] in ("registration", "withdrawal", "promoted")
    ]


async def test_registrations_and_withdrawals_are_answered_before_they_are_recorded_in_order(lab, make_plan):
    plan = make_plan(await lab.now(), places=2, min_participants=1)
    handle = await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    held = Held(lab.store, "record_seat_changes")  # the store does not take the first change until released

    first = await register(lab, plan, 0)
    assert first.status is SeatStatus.CONFIRMED  # answered with the seat, nothing in the store yet
    await wait_for(lambda: held.entered == 1, 10, "the first change's recording to reach the store")
    second, third = await register(lab, plan, 1), await register(lab, plan, 2)
    assert (second.status, third.status, third.waitlist_position) == (SeatStatus.CONFIRMED, SeatStatus.WAITLISTED, 1)
    withdrawal = await lab.service.withdraw(plan.id, "p0@skola.test")  # the store has never heard of p0's seat
    assert withdrawal.promoted == [third.registration_id]
    status = await lab.service.status(plan.id)
    assert (status.confirmed, status.waitlisted, status.recording) == (2, 0, 4)
    assert lab.store.registrations(plan.id) == [] and seat_mails(lab) == []

    held.release.set()
    await lab.recorded()
    stored = {p.email: r.status for r, p in lab.store.registrations(plan.id)}
    assert stored == {"p0@skola.test": "withdrawn", "p1@skola.test": "confirmed", "p2@skola.test": "confirmed"}
    # In the order taken: the waiting-list confirmation before the promotion, the withdrawal before it.
    assert seat_mails(lab) == [
        ("registration", "p0@skola.test"),
        ("registration", "p1@skola.test"),
        ("registration", "p2@skola.test"),
        ("withdrawal", "p0@skola.test"),
        ("promoted", "p2@skola.test"),
    ]
    # Two activities: the first change alone, then the three answered while it was held.
    assert activity_types(await handle.fetch_history()).count("record_seat_changes") == 2 == held.calls
    assert "record_registration" not in activity_types(await handle.fetch_history())

    await lab.advance_to(plan.registration.deadline + timedelta(seconds=1))
    status = await lab.service.status(plan.id)
    assert status.phase is Phase.CONFIRMED and status.recording == 0
    assert sorted(m["To"] for m in lab.mails("confirmed")) == ["p1@skola.test", "p2@skola.test"]


async def test_a_seat_change_that_can_never_be_recorded_is_reported_and_the_others_recorded(lab, make_plan):
    plan = make_plan(await lab.now(), min_participants=1)
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    held = Held(lab.store, "record_seat_changes")
    await register(lab, plan, 0)
    await wait_for(lambda: held.entered == 1, 10, "the first change's recording to reach the store")
    lost = await register(lab, plan, 1)
    await register(lab, plan, 2)
    # The person's row goes before the workflow records the seat (as a refused duplicate request would take it):
    # the change can never be recorded, and must not hold up the others or the lifecycle.
    lab.store.discard_participant_if_unregistered(lab.store.participant_by_email(plan.id, "p1@skola.test").id)
    held.release.set()
    await lab.recorded()
    assert sorted(p.email for _, p in lab.store.registrations(plan.id)) == ["p0@skola.test", "p2@skola.test"]
    assert sorted(m["To"] for m in lab.mails("registration")) == ["p0@skola.test", "p2@skola.test"]
    status = await lab.service.status(plan.id)
    [failed] = [d for d in status.decisions if d.kind == "step_failed"]
    assert lost.registration_id in failed.reason and "unknown_participant" in failed.reason
    await lab.advance_to(plan.registration.deadline + timedelta(seconds=1))
    assert (await lab.service.status(plan.id)).phase is Phase.CONFIRMED  # the deadline did not wait for it


async def test_continue_as_new_waits_until_answered_seat_changes_are_in_the_store(lab, make_plan):
    plan = make_plan(await lab.now(), places=10, min_participants=1)
    handle = await lab.service.start(plan, continue_as_new_after_events=40)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    held = Held(lab.store, "record_seat_changes")
    await register(lab, plan, 0)
    await wait_for(lambda: held.entered == 1, 10, "the first change's recording to reach the store")
    for i in range(1, 8):  # past the threshold: continue-as-new is due, and waits for the store
        await register(lab, plan, i)
    status = await lab.service.status(plan.id)
    assert (status.run_number, status.recording) == (1, 8)
    held.release.set()
    await lab.recorded()
    status = await lab.service.status(plan.id)
    assert status.run_number == 2 and (status.confirmed, status.registrations, status.recording) == (8, 8, 0)
    assert len(lab.store.registrations(plan.id)) == 8
    assert sorted(m["To"] for m in lab.mails("registration")) == sorted(f"p{i}@skola.test" for i in range(8))
    first_run = await lab.env.client.get_workflow_handle(handle.id, run_id=handle.result_run_id).fetch_history()
    assert activity_types(first_run).count("record_seat_changes") == 2  # all recorded before it continued
    last_run = await lab.env.client.get_workflow_handle(handle.id).fetch_history()
    assert "record_seat_changes" not in activity_types(last_run)


async def test_registration_opens_on_time_while_the_invitation_goes_out(lab, make_plan):
    plan = make_plan(await lab.now(), min_participants=2)
    gate, deliver = asyncio.Event(), lab.mailer.send

    async def held_invitations(message):  # the relay takes its time with the invitation mailing
        if message["X-Runflow-Purpose"] == "invitation":
            await gate.wait()
        await deliver(message)

    lab.mailer.send = held_invitations
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1), activities=False)
    status = await lab.service.status(plan.id)
    assert status.phase is Phase.OPEN and lab.mails("invitation") == []  # open, the invitation still going out
    registered = await register(lab, plan, 0)
    assert registered.status is SeatStatus.CONFIRMED
    await lab.recorded()
    assert [m["To"] for m in lab.mails("registration")] == ["p0@skola.test"] and lab.mails("invitation") == []

    gate.set()
    await wait_for(lambda: len(lab.mails("invitation")) == 3, 10, "the invitation to go out")
    await lab.advance_to(plan.registration.deadline + timedelta(seconds=1))  # below the minimum: both reminders
    purposes = [m["X-Runflow-Purpose"] for m in lab.mailer.sent if m["X-Runflow-Purpose"] != "registration"]
    assert purposes[:9] == ["invitation"] * 3 + ["deadline-reminder"] * 6  # each once, the invitation first
    assert (await lab.service.status(plan.id)).phase is Phase.DECIDING
