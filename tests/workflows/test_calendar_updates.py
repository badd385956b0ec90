"""Participants' calendars follow the activity: the .ics files actually sent, parsed."""

from __future__ import annotations

from datetime import timedelta

from icalendar import Calendar

from domain.lifecycle import OverrideAction


def events(message) -> tuple[str, list]:
    part = next(p for p in message.iter_attachments() if p.get_content_type() == "text/calendar")
    calendar = Calendar.from_ical(part.get_payload(decode=True))
    return str(calendar.get("METHOD")), list(calendar.walk("VEVENT"))


async def test_confirmation_postponement_and_cancellation_update_the_same_events(lab, make_plan):
    start = await lab.now()
    plan = make_plan(start, places=3, min_participants=3)
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    await lab.service.register(plan.id, name="Anna", email="anna@skola.test", organisation="berg", role="lärare")
    await lab.recorded()  # the confirmation follows the answer

    method, sent = events(lab.mails("registration", to="anna@skola.test")[0])
    uids = [str(e["UID"]) for e in sent]
    assert method == "PUBLISH" and uids == [f"{plan.id}-session-1@runflow", f"{plan.id}-session-2@runflow"]
    assert [int(e["SEQUENCE"]) for e in sent] == [0, 0]

    later = make_plan(start + timedelta(days=40), places=3, min_participants=3).model_copy(update={"id": plan.id})
    await lab.service.decide(plan.id, OverrideAction.POSTPONE, plan=later)
    method, moved = events(lab.mails("postponed", to="anna@skola.test")[0])
    assert method == "PUBLISH" and [str(e["UID"]) for e in moved] == uids
    assert [int(e["SEQUENCE"]) for e in moved] == [1, 1]
    assert [e.decoded("DTSTART") for e in moved] == [s.start.replace(microsecond=0) for s in later.sessions]

    await lab.service.decide(plan.id, OverrideAction.CANCEL)
    method, cancelled = events(lab.mails("cancelled", to="anna@skola.test")[0])
    assert method == "CANCEL" and [str(e["UID"]) for e in cancelled] == uids
    assert [int(e["SEQUENCE"]) for e in cancelled] == [2, 2]
    assert all(str(e["STATUS"]) == "CANCELLED" for e in cancelled)


async def test_session_reminder_carries_only_that_session(lab, make_plan):
    plan = make_plan(await lab.now(), min_participants=1)
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    await lab.service.register(plan.id, name="Anna", email="anna@skola.test", organisation="berg", role="lärare")
    await lab.advance_to(plan.sessions[1].start - timedelta(minutes=1))
    reminders = lab.mails("session-reminder", to="anna@skola.test")
    assert len(reminders) == 2
    assert [[str(e["UID"]) for e in events(m)[1]] for m in reminders] == [
        [f"{plan.id}-session-1@runflow"],
        [f"{plan.id}-session-2@runflow"],
    ]


async def test_withdrawal_removes_the_sessions_from_the_calendar(lab, make_plan):
    plan = make_plan(await lab.now(), min_participants=1)
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    await lab.service.register(plan.id, name="Anna", email="anna@skola.test", organisation="berg", role="lärare")
    await lab.recorded()
    _, published = events(lab.mails("registration", to="anna@skola.test")[0])
    await lab.service.withdraw(plan.id, "anna@skola.test")
    await lab.recorded()
    method, removed = events(lab.mails("withdrawal", to="anna@skola.test")[0])
    assert method == "CANCEL"
    assert [str(e["UID"]) for e in removed] == [str(e["UID"]) for e in published]
    assert all(int(r["SEQUENCE"]) > int(p["SEQUENCE"]) for r, p in zip(removed, published, strict=True))
    assert all(str(e["STATUS"]) == "CANCELLED" for e in removed)


async def test_registering_again_after_a_withdrawal_puts_the_sessions_back(lab, make_plan):
    """The new confirmation must be newer (SEQUENCE) than the withdrawal's CANCEL, or calendars ignore it."""
    plan = make_plan(await lab.now(), min_participants=1)
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    for _ in range(2):
        await lab.service.register(plan.id, name="Anna", email="anna@skola.test", organisation="berg", role="lärare")
        await lab.service.withdraw(plan.id, "anna@skola.test")
    await lab.service.register(plan.id, name="Anna", email="anna@skola.test", organisation="berg", role="lärare")
    await lab.recorded()
    sent = [
        events(m) for m in lab.mails(to="anna@skola.test") if m["X-Runflow-Purpose"] in ("registration", "withdrawal")
    ]
    assert [method for method, _ in sent] == ["PUBLISH", "CANCEL", "PUBLISH", "CANCEL", "PUBLISH"]
    sequences = [int(evs[0]["SEQUENCE"]) for _, evs in sent]
    assert sequences == sorted(set(sequences))  # strictly increasing: each file replaces the one before
