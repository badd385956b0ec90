"""`register_many`: registrations that waited together in a web process, answered in one Update, each as `register`
would have answered it, the seats given in the batch's order."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from api.service import Service
from domain.lifecycle import RegistrationBatch, RegistrationRequest, SeatStatus
from domain.refusals import RefusalCode
from workflows.activity_lifecycle import REGISTRATIONS_PER_UPDATE, ActivityLifecycleWorkflow

ORGS = ["sundsvall", "ostersund", "are"]


def people(lab, plan, n: int) -> list[int]:
    return [
        lab.store.enrol_participant(
            plan.id, name=f"P{i}", email=f"p{i}@skola.test", organisation_id=ORGS[i % 3], role="lärare"
        )[0]
        for i in range(n)
    ]


async def test_a_batch_gets_each_request_its_seat_or_its_refusal_in_order(lab, make_plan):
    pairs = {"allowed": True, "min_size": 2, "max_size": 2}
    plan = make_plan(await lab.now(), places=3, min_participants=1, teams=pairs)
    handle = await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    ids = people(lab, plan, 5)
    batch = RegistrationBatch(
        requests=[
            RegistrationRequest(participant_id=ids[0]),
            RegistrationRequest(participant_id=ids[1], team_size=2),
            RegistrationRequest(participant_id=ids[0]),  # the same person again: already registered
            RegistrationRequest(participant_id=ids[2], team_size=5),  # above the team's maximum
            RegistrationRequest(participant_id=ids[3]),
            RegistrationRequest(participant_id=ids[4]),
        ]
    )
    answer = await handle.execute_update(ActivityLifecycleWorkflow.register_many, batch)
    outcomes = answer.outcomes
    assert [o.result.status if o.result else o.refusal for o in outcomes] == [
        SeatStatus.CONFIRMED,
        SeatStatus.CONFIRMED,
        RefusalCode.ALREADY_REGISTERED,
        RefusalCode.TEAM_SIZE,
        SeatStatus.WAITLISTED,
        SeatStatus.WAITLISTED,
    ]
    assert [outcomes[4].result.waitlist_position, outcomes[5].result.waitlist_position] == [1, 2]
    seqs = [int(o.result.registration_id.rsplit("-r", 1)[1]) for o in outcomes if o.result]
    assert seqs == sorted(seqs)  # seats in the batch's order
    assert outcomes[3].details["max"] == 2  # the numbers the Swedish text needs
    await lab.recorded()
    stored = {p.email: r.status for r, p in lab.store.registrations(plan.id)}
    assert stored == {
        "p0@skola.test": "confirmed",
        "p1@skola.test": "confirmed",
        "p3@skola.test": "waitlisted",
        "p4@skola.test": "waitlisted",
    }
    assert sorted(m["To"] for m in lab.mails("registration")) == sorted(stored)


async def test_a_batch_everyone_in_which_is_refused_alike_is_rejected_before_the_history(lab, make_plan):
    plan = make_plan(await lab.now(), min_participants=1)
    handle = await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    ids = people(lab, plan, 2)
    await lab.advance_to(plan.registration.deadline + timedelta(seconds=1))  # closed
    batch = RegistrationBatch(requests=[RegistrationRequest(participant_id=i) for i in ids])
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(ActivityLifecycleWorkflow.register_many, batch)
    assert failed.value.cause.type == RefusalCode.REGISTRATION_CLOSED
    for size in (0, REGISTRATIONS_PER_UPDATE + 1):
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                ActivityLifecycleWorkflow.register_many,
                RegistrationBatch(requests=[RegistrationRequest(participant_id=ids[0])] * size),
            )
    history = await handle.fetch_history()
    assert not any(e.HasField("workflow_execution_update_accepted_event_attributes") for e in history.events)


async def test_a_burst_through_the_service_shares_updates_and_gives_exact_seats(lab, make_plan, monkeypatch):
    """60 people at once through one web process whose gate lets 2 Updates through: far fewer than 60 Updates, each
    person answered as alone, the seats exact and the waiting list numbered without gaps."""
    from temporalio.client import WorkflowHandle

    plan = make_plan(await lab.now(), places=20, min_participants=1)
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    updates: list[str] = []
    real_execute = WorkflowHandle.execute_update

    async def counting(self, update, *args, **kwargs):
        updates.append(getattr(update, "__name__", str(update)))
        return await real_execute(self, update, *args, **kwargs)

    monkeypatch.setattr(WorkflowHandle, "execute_update", counting)
    service = Service(lab.env.client, lab.store, lab.task_queue, updates_in_flight=2)

    async def register(i: int):
        return await service.register(
            plan.id, name=f"P{i}", email=f"p{i}@skola.test", organisation=ORGS[i % 3], role="lärare"
        )

    results = await asyncio.gather(*(register(i) for i in range(60)))
    again = await asyncio.gather(register(0), return_exceptions=True)  # a repeat is refused, as alone
    assert getattr(again[0], "code", None) == RefusalCode.ALREADY_REGISTERED
    assert sum(r.status is SeatStatus.CONFIRMED for r in results) == 20
    assert sorted(r.waitlist_position for r in results if r.waitlist_position) == list(range(1, 41))
    assert "register_many" in updates and len(updates) <= 30, updates
    await lab.recorded()
    assert len(lab.store.registrations(plan.id)) == 60
