"""Mail that can never be delivered does not stall an activity: marked failed, told to the organiser, audited."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from activities_impl.store import StoreError
from api.service import Service, Unconfirmed
from domain.phases import Phase

ORGS = ["sundsvall", "ostersund", "are"]


async def register(lab, plan, emails):
    return [
        await lab.service.register(plan.id, name=f"Person {i}", email=email, organisation=ORGS[i % 3], role="lärare")
        for i, email in enumerate(emails)
    ]


def notices(lab, plan) -> list:
    return [m for m in lab.mails("undeliverable") if m["To"] == plan.organiser_email]


def text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


async def test_a_refused_address_in_the_confirmation_and_announcement_does_not_stall_the_lifecycle(lab, make_plan):
    plan = make_plan(await lab.now())
    lab.mailer.refuse = {"fel@skola.test"}  # the server answers 550 at RCPT: a mistyped mailbox
    handle = await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    results = await asyncio.wait_for(register(lab, plan, ["p0@skola.test", "fel@skola.test", "p2@skola.test"]), 30)
    assert [r.status.value for r in results] == ["confirmed"] * 3  # the person keeps the seat
    await lab.recorded()  # the confirmations follow the answers

    [notice] = notices(lab, plan)  # the organiser is told once, for that mailing
    assert "fel@skola.test: mottagarens e-postserver känner inte till adressen (550" in text(notice)
    assert notice["Subject"] == f"Mejl kom inte fram: {plan.title}"

    await lab.advance_to(plan.registration.deadline + timedelta(seconds=1))  # the announcement
    status = await lab.service.status(plan.id)
    assert status.phase is Phase.CONFIRMED
    assert sorted(m["To"] for m in lab.mails("confirmed")) == ["p0@skola.test", "p2@skola.test"]
    assert len(notices(lab, plan)) == 1  # refused before: not tried again, the organiser not told again
    assert [m.error.partition(":")[0] for m in lab.store.undeliverable(plan.id)] == [
        "recipient_refused",
        "known_undeliverable",
    ]  # the announcement was not even offered to the server

    result = await handle.result()  # sessions, surveys, report and anonymisation all go on
    assert result.phase is Phase.ANONYMISED
    assert "step_failed" not in [d.kind for d in result.decisions]
    failed = [m for m in lab.store.outbox(plan.id) if m.status == "failed"]
    assert failed and all(m.recipient is None for m in failed)  # anonymised with the rest
    assert {m.purpose for m in failed} >= {"registration", "confirmed", "session-reminder", "survey"}
    audit = [e for e in lab.store.audit_log(plan.id) if e.kind == "undeliverable"]
    assert len(audit) == len(failed) and all("@" not in e.reason for e in audit)


async def test_a_refused_contact_in_the_invitation_is_reported_and_the_others_invited(lab, make_plan):
    plan = make_plan(await lab.now())
    contacts = lab.store.contacts(["sundsvall", "ostersund", "are"], plan.target_groups)
    lab.mailer.refuse = {contacts[1].email}
    handle = await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    assert (await lab.service.status(plan.id)).phase is Phase.OPEN
    assert sorted(m["To"] for m in lab.mails("invitation")) == sorted(c.email for c in contacts if c is not contacts[1])
    [notice] = notices(lab, plan)
    assert contacts[1].email in text(notice) and "inbjudan" in text(notice)
    undeliverable = await lab.service.undeliverable(plan.id)
    assert [(u["recipient"], u["purpose"]) for u in undeliverable] == [(contacts[1].email, "invitation")]
    await handle.terminate("enough")


async def test_a_step_that_can_never_succeed_is_recorded_and_the_lifecycle_goes_on(lab, make_plan, monkeypatch):
    plan = make_plan(await lab.now())

    def broken(*_args, **_kwargs):
        raise StoreError("a contact list that can never be read")

    monkeypatch.setattr(lab.store, "contacts", broken)
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    status = await lab.service.status(plan.id)
    assert status.phase is Phase.OPEN  # not stuck retrying the invitation for ever
    [failed] = [d for d in status.decisions if d.kind == "step_failed"]
    assert failed.by.value == "engine" and "send_invitation" in failed.reason and "StoreError" in failed.reason
    assert "contact list" not in failed.reason  # only the error's type: texts may hold personal data
    [result] = await register(lab, plan, ["p0@skola.test"])
    assert result.status.value == "confirmed"


async def test_the_update_gate_is_released_when_an_update_never_answers(lab):
    service = Service(lab.env.client, lab.store, lab.task_queue, update_timeout=0.2)

    class Stuck:
        async def execute_update(self, *_args, **_kwargs):
            await asyncio.sleep(3600)

    # More than the gate lets through at once: each holder is released after the timeout, and the queued ones
    # get their turn (before, all ten waited for ever and every later registration of the activity with them).
    outcomes = await asyncio.wait_for(
        asyncio.gather(*(service._update("a1", Stuck(), None, None) for _ in range(10)), return_exceptions=True), 5
    )
    assert all(isinstance(o, Unconfirmed) for o in outcomes)
    assert service._gates["a1"]._value == 8
