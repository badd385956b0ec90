"""Concurrent registrations and withdrawals: the workflow is the single writer of seats."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest

from api.service import Refused, Service, Unconfirmed
from domain.lifecycle import SeatStatus
from domain.refusals import RefusalCode


async def test_200_concurrent_registrations_for_60_places_then_10_concurrent_withdrawals(lab, make_plan):
    plan = make_plan(await lab.now(), places=60, min_participants=10)
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))

    async def register(i: int):
        return await lab.service.register(
            plan.id, name=f"Person {i}", email=f"p{i}@skola.test", organisation="sundsvall", role="lärare"
        )

    results = await asyncio.gather(*(register(i) for i in range(200)))
    statuses = Counter(r.status for r in results)
    assert statuses == {SeatStatus.CONFIRMED: 60, SeatStatus.WAITLISTED: 140}
    assert len({r.registration_id for r in results}) == 200
    # Arrival order: the waiting list is exactly the registrations after the 60th, in the order they were taken.
    by_seq = sorted(results, key=lambda r: int(r.registration_id.rsplit("-r", 1)[1]))
    assert [r.status for r in by_seq] == [SeatStatus.CONFIRMED] * 60 + [SeatStatus.WAITLISTED] * 140
    assert [r.waitlist_position for r in by_seq[60:]] == list(range(1, 141))
    await lab.recorded()  # the answers came once the seats were taken; rows and e-mails follow in that order
    stored = lab.store.registrations(plan.id)
    assert len(stored) == 200 and Counter(r.status for r, _ in stored) == {"confirmed": 60, "waitlisted": 140}
    assert len(lab.mails("registration")) == 200

    leaving = [r for r in by_seq[:60]][::6]  # ten confirmed people withdraw at once
    emails = {r.id: p.email for r, p in stored}
    outcomes = await asyncio.gather(*(lab.service.withdraw(plan.id, emails[r.registration_id]) for r in leaving))
    promoted = [rid for o in outcomes for rid in o.promoted]
    await lab.recorded()
    assert len(promoted) == 10 and set(promoted) == {r.registration_id for r in by_seq[60:70]}
    status = await lab.service.status(plan.id)
    assert (status.confirmed, status.waitlisted, status.withdrawn) == (60, 130, 10)
    assert sorted(m["To"] for m in lab.mails("promoted")) == sorted(emails[rid] for rid in promoted)


async def run_lengths(client, handle) -> list[int]:
    """Event counts of every run of the workflow, following continue-as-new."""
    lengths, run_id = [], handle.result_run_id
    while run_id:
        history = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        lengths.append(len(history.events))
        last = history.events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else None
        )
    return lengths


@pytest.mark.slow  # about a minute: 2,000 Updates, each with its e-mail through the outbox
async def test_2000_participants_complete_with_every_run_under_the_event_limit(lab, make_plan):
    # The 2,000 registrations (Updates) make the runs. With 200 places (1,800 waiting) the mailings after the
    # deadline, one e-mail per confirmed person each, come to some 4,000 e-mails through the outbox instead of
    # 20,000 with 1,800 places (two minutes less): a mailing is one activity whatever its size. Runs stay about as
    # long (4,400-4,700 events here, 4,200-5,100 with 1,800 places, where each confirmed registration also updates
    # the confirmed-count search attribute).
    plan = make_plan(await lab.now(), places=200, min_participants=100)
    handle = await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))

    # The time-skipping server loses an Update that arrives while the workflow task that continues as new runs (a
    # real server, 1.25 on, retries it on the new run). Registrations are answered at once now, so one can arrive
    # then: its caller gets no answer in time ("may have been carried out") and tries again, as a person would.
    service = Service(lab.env.client, lab.store, lab.task_queue, update_timeout=10)
    service._registrations.limit = 1  # each registration its own Update: the most events per registration
    retried: list[int] = []

    async def register(i: int):
        for attempt in range(3):
            try:
                return await service.register(
                    plan.id,
                    name=f"P{i}",
                    email=f"p{i}@skola.test",
                    organisation=["sundsvall", "are", "berg"][i % 3],
                    role="lärare",
                )
            except Unconfirmed:
                retried.append(i)
            except Refused as exc:  # the unanswered try did register after all
                if attempt == 0 or exc.code != RefusalCode.ALREADY_REGISTERED:
                    raise
                return None
        raise AssertionError(f"p{i} never got an answer")

    for batch in range(0, 2000, 100):
        await asyncio.gather(*(register(i) for i in range(batch, batch + 100)))
    await lab.recorded(timeout=60)
    status = await lab.service.status(plan.id)
    assert (status.confirmed, status.waitlisted, status.registrations) == (200, 1800, 2000)
    assert status.run_number > 1  # the server suggested continue-as-new and the state was carried over

    result = await handle.result()
    assert result.phase.value == "anonymised" and (result.confirmed, result.waitlisted) == (200, 1800)
    lengths = await run_lengths(lab.env.client, handle)
    assert len(lengths) > 1 and max(lengths) < 10_240, lengths
    print(f"run lengths: {lengths}, e-mails: {len(lab.mailer.sent)}, tried again: {retried}")
    assert len(lab.store.registrations(plan.id)) == 2000
