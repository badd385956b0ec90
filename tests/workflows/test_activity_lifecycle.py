"""Every lifecycle branch on the time-skipping server, with the real activities, a SQLite store and an in-memory
mailer."""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import timedelta

import pytest
from icalendar import Calendar
from temporalio.worker import Replayer

from activities_impl.store import ANONYMISED_EMAIL
from api.service import Refused
from domain.lifecycle import OverrideAction, SeatStatus
from domain.phases import Phase
from worker.converter import build_data_converter
from workflows import search_attributes as sa
from workflows.activity_lifecycle import ActivityLifecycleWorkflow

ORGS = ["sundsvall", "ostersund", "are"]


async def register(lab, plan, n: int, start: int = 0, **kw):
    results = []
    for i in range(start, start + n):
        results.append(
            await lab.service.register(
                plan.id, name=f"Person {i}", email=f"p{i}@skola.test", organisation=ORGS[i % 3], role="lärare", **kw
            )
        )
    return results


async def open_activity(lab, plan):
    handle = await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    return handle


def recipients(lab, purpose: str) -> list[str]:
    return sorted(m["To"] for m in lab.mails(purpose))


async def replay(handle) -> None:
    """The code replays its own history deterministically, with the same data converter."""
    history = await handle.fetch_history()
    await Replayer(workflows=[ActivityLifecycleWorkflow], data_converter=build_data_converter()).replay_workflow(
        history
    )


def body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def calendar_of(message) -> Calendar:
    part = next(p for p in message.iter_attachments() if p.get_content_type() == "text/calendar")
    return Calendar.from_ical(part.get_payload(decode=True))


async def test_run_branch_goes_through_every_phase_to_anonymised(lab, make_plan):
    plan = make_plan(await lab.now())
    handle = await open_activity(lab, plan)
    assert (await lab.service.status(plan.id)).phase is Phase.OPEN
    assert len(recipients(lab, "invitation")) == 3  # one contact per invited organisation

    await register(lab, plan, 3)
    await lab.advance_to(plan.registration.deadline + timedelta(seconds=1))
    status = await lab.service.status(plan.id)
    assert status.phase is Phase.CONFIRMED and status.confirmed == 3
    assert status.decisions[-1].kind == "confirm" and status.decisions[-1].by.value == "engine"
    assert recipients(lab, "deadline-reminder") == []  # minimum reached before any reminder was due
    assert recipients(lab, "confirmed") == ["p0@skola.test", "p1@skola.test", "p2@skola.test"]

    s1, s2 = plan.sessions
    await lab.advance_to(s1.start + timedelta(minutes=5))
    assert (await lab.service.status(plan.id)).phase is Phase.RUNNING
    assert len(lab.mails("session-reminder")) == 3
    await lab.service.attendance(plan.id, 1, ["p0@skola.test", "p1@skola.test"])
    await lab.advance_to(s1.end + timedelta(seconds=1))
    assert recipients(lab, "survey") == ["p0@skola.test", "p1@skola.test"]  # only those who attended

    # Session 2: nobody records attendance, so after the grace period everyone confirmed gets the survey.
    await lab.advance_to(s2.end + plan.surveys.attendance_grace + timedelta(seconds=1))
    s2_survey = [m["To"] for m in lab.mails("survey") if "träff 2" in m["Subject"]]
    assert sorted(s2_survey) == ["p0@skola.test", "p1@skola.test", "p2@skola.test"]
    # Session 2's attendance is unknown, so the final evaluation goes to everyone confirmed.
    assert sorted(m["To"] for m in lab.mails("survey") if m["Subject"].startswith("Slututvärdering")) == [
        "p0@skola.test",
        "p1@skola.test",
        "p2@skola.test",
    ]

    status = await lab.service.status(plan.id)
    assert status.phase is Phase.EVALUATING
    assert [s.attended for s in status.sessions] == [2, None]

    result = await handle.result()
    assert result.phase is Phase.ANONYMISED
    assert [d.kind for d in result.decisions] == ["confirm", "anonymise"]
    assert len(lab.mails("report")) == 1 and lab.mails("report")[0]["To"] == plan.organiser_email
    report = lab.store.report(plan.id)
    assert report is not None and "Sundsvall" in report.markdown
    # Nobody ever got the same message twice.
    keys = Counter((m["To"], m["Subject"]) for m in lab.mailer.sent)
    assert max(keys.values()) == 1
    desc = await handle.describe()
    assert desc.typed_search_attributes.get(sa.PHASE) == "anonymised"
    assert desc.typed_search_attributes.get(sa.CONFIRMED_COUNT) == 3
    await replay(handle)


async def test_low_enrolment_is_cancelled_by_itself_after_the_grace_period(lab, make_plan):
    plan = make_plan(await lab.now(), places=2, min_participants=2)
    handle = await open_activity(lab, plan)
    await register(lab, plan, 1)
    await lab.advance_to(plan.registration.deadline + timedelta(seconds=1))
    status = await lab.service.status(plan.id)
    assert status.phase is Phase.DECIDING and status.grace_until is not None
    assert recipients(lab, "low-enrolment") == [plan.organiser_email]
    # Both reminders went out to the target group while below the minimum.
    assert len(lab.mails("deadline-reminder")) == 2 * 3

    await lab.advance_to(status.grace_until + timedelta(seconds=1))
    status = await lab.service.status(plan.id)
    assert status.phase is Phase.CANCELLED
    assert status.decisions[-1].kind == "cancel" and status.decisions[-1].by.value == "engine"
    assert (status.decisions[-1].confirmed, status.decisions[-1].min_participants) == (1, 2)  # as it was, not 0
    assert status.confirmed == 0  # every seat cancelled
    [cancelled] = lab.mails("cancelled")
    assert cancelled["To"] == "p0@skola.test" and "för få" in body(cancelled)
    assert calendar_of(cancelled).get("METHOD") == "CANCEL"
    assert [r.status for r, _ in lab.store.registrations(plan.id)] == ["cancelled"]
    with pytest.raises(Refused, match="closed"):
        await register(lab, plan, 1, start=5)
    assert (await handle.result()).phase is Phase.ANONYMISED


@pytest.mark.parametrize("action", [OverrideAction.RUN, OverrideAction.CANCEL])
async def test_coordinator_override_run_or_cancel(lab, make_plan, action):
    plan = make_plan(await lab.now())
    await open_activity(lab, plan)
    await register(lab, plan, 1)
    with pytest.raises(Refused, match="only possible while the activity is deciding"):
        await lab.service.decide(plan.id, OverrideAction.RUN)
    await lab.advance_to(plan.registration.deadline + timedelta(seconds=1))
    phase = await lab.service.decide(plan.id, action)
    status = await lab.service.status(plan.id)
    assert status.decisions[-1].by.value == "coordinator"
    if action is OverrideAction.RUN:
        assert phase == "confirmed" and status.phase is Phase.CONFIRMED
        assert recipients(lab, "confirmed") == ["p0@skola.test"]
    else:
        assert phase == "cancelled" and status.phase is Phase.CANCELLED
        assert recipients(lab, "cancelled") == ["p0@skola.test"]
        assert status.decisions[-1].confirmed == 1  # the seats the coordinator cancelled
        [stored] = [e for e in lab.store.audit_log(plan.id) if e.kind == "cancel"]
        assert json.loads(stored.details_json)["confirmed"] == 1  # the audit log too
    with pytest.raises(Refused):
        await lab.service.decide(plan.id, OverrideAction.CANCEL)


async def test_coordinator_extends_the_deadline_and_enrolment_then_suffices(lab, make_plan):
    plan = make_plan(await lab.now())
    await open_activity(lab, plan)
    await register(lab, plan, 1)
    await lab.advance_to(plan.registration.deadline + timedelta(seconds=1))
    until = plan.registration.deadline + timedelta(days=2)
    with pytest.raises(Refused, match="after the first session"):
        await lab.service.decide(plan.id, OverrideAction.EXTEND, until=plan.sessions[0].start + timedelta(hours=1))
    assert await lab.service.decide(plan.id, OverrideAction.EXTEND, until=until) == "open"
    status = await lab.service.status(plan.id)
    assert status.phase is Phase.OPEN and status.deadline == until and status.grace_until is None
    await register(lab, plan, 1, start=1)
    await lab.advance_to(until + timedelta(seconds=1))
    status = await lab.service.status(plan.id)
    assert status.phase is Phase.CONFIRMED and status.confirmed == 2
    assert [d.kind for d in status.decisions] == ["awaiting_coordinator", "extend", "confirm"]


async def test_postpone_is_refused_once_the_activity_is_confirmed(lab, make_plan):
    start = await lab.now()
    plan = make_plan(start, places=2)
    await open_activity(lab, plan)
    await register(lab, plan, 3)  # 2 confirmed, 1 on the waiting list
    await lab.advance_to(plan.registration.deadline + timedelta(seconds=1))  # 2 >= min 2: confirmed
    later = make_plan(start + timedelta(days=30), places=3).model_copy(update={"id": plan.id})
    # The activity is confirmed (minimum reached), so postponing is no longer possible.
    with pytest.raises(Refused, match="only possible while the activity is open or deciding"):
        await lab.service.decide(plan.id, OverrideAction.POSTPONE, plan=later)


async def test_postpone_during_deciding_carries_registrations_over_and_reopens(lab, make_plan):
    start = await lab.now()
    plan = make_plan(start, places=3, min_participants=3)
    await open_activity(lab, plan)
    await register(lab, plan, 2)
    await lab.advance_to(plan.registration.deadline + timedelta(seconds=1))
    assert (await lab.service.status(plan.id)).phase is Phase.DECIDING
    later = make_plan(start + timedelta(days=30), places=3, min_participants=3).model_copy(update={"id": plan.id})
    assert await lab.service.decide(plan.id, OverrideAction.POSTPONE, plan=later) == "open"
    status = await lab.service.status(plan.id)
    assert status.phase is Phase.OPEN and status.plan_version == 2 and status.confirmed == 2
    assert status.deadline == later.registration.deadline
    postponed = lab.mails("postponed")
    assert sorted(m["To"] for m in postponed) == ["p0@skola.test", "p1@skola.test"]
    event = next(c for c in calendar_of(postponed[0]).walk("VEVENT"))
    assert int(event["SEQUENCE"]) == 1 and event["UID"] == f"{plan.id}-session-1@runflow"
    assert event.decoded("DTSTART") == later.sessions[0].start.replace(microsecond=0)
    assert lab.store.activity(plan.id).current_version == 2
    await register(lab, plan, 1, start=2)
    await lab.advance_to(later.registration.deadline + timedelta(seconds=1))
    status = await lab.service.status(plan.id)
    assert status.phase is Phase.CONFIRMED and status.confirmed == 3


async def test_waiting_list_fifo_and_promotion_on_withdrawal(lab, make_plan):
    plan = make_plan(await lab.now(), places=3, min_participants=1)
    await open_activity(lab, plan)
    results = await register(lab, plan, 5)
    assert [r.status for r in results] == [SeatStatus.CONFIRMED] * 3 + [SeatStatus.WAITLISTED] * 2
    assert [r.waitlist_position for r in results[3:]] == [1, 2]
    await lab.recorded()  # the answers came once the seats were taken; the store and the e-mails follow
    assert [m["To"] for m in lab.mails("registration") if "Reservlista" in m["Subject"]] == [
        "p3@skola.test",
        "p4@skola.test",
    ]

    withdrawal = await lab.service.withdraw(plan.id, "p1@skola.test")
    assert withdrawal.previous_status is SeatStatus.CONFIRMED
    assert withdrawal.promoted == [results[3].registration_id]
    await lab.recorded()
    assert recipients(lab, "promoted") == ["p3@skola.test"]
    assert recipients(lab, "withdrawal") == ["p1@skola.test"]
    status = await lab.service.status(plan.id)
    assert (status.confirmed, status.waitlisted, status.withdrawn) == (3, 1, 1)
    stored = {p.email: r.status for r, p in lab.store.registrations(plan.id)}
    assert stored == {
        "p0@skola.test": "confirmed",
        "p1@skola.test": "withdrawn",
        "p2@skola.test": "confirmed",
        "p3@skola.test": "confirmed",
        "p4@skola.test": "waitlisted",
    }


async def test_teams_take_their_size_and_are_never_split(lab, make_plan):
    plan = make_plan(
        await lab.now(), places=10, min_participants=1, teams={"allowed": True, "min_size": 5, "max_size": 8}
    )
    await open_activity(lab, plan)
    [team] = await register(lab, plan, 1, team_size=8)
    [small] = await register(lab, plan, 1, start=1, team_size=5)
    [solo] = await register(lab, plan, 1, start=2)
    assert (team.status, small.status, solo.status) == (
        SeatStatus.CONFIRMED,
        SeatStatus.WAITLISTED,
        SeatStatus.CONFIRMED,
    )
    with pytest.raises(Refused, match="team size 3 is outside 5-8"):
        await register(lab, plan, 1, start=3, team_size=3)
    await lab.service.withdraw(plan.id, "p0@skola.test")
    status = await lab.service.status(plan.id)
    assert (status.confirmed, status.waitlisted) == (6, 0)


async def test_withdrawal_and_refusals_leave_nothing_half_written(lab, make_plan):
    plan = make_plan(await lab.now())
    await lab.service.start(plan)
    with pytest.raises(Refused, match="registration is closed \\(phase planned\\)") as closed:
        await register(lab, plan, 1)
    assert closed.value.code == "registration_closed"  # the code travels as the ApplicationError's type
    assert lab.store.participant_by_email(plan.id, "p0@skola.test") is None  # refused: no person stored
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    await register(lab, plan, 1)
    with pytest.raises(Refused, match="already registered") as again:
        await register(lab, plan, 1)
    assert again.value.code == "already_registered"
    with pytest.raises(Refused, match="not registered"):
        await lab.service.withdraw(plan.id, "nobody@skola.test")
    with pytest.raises(Refused, match="unknown organisation"):
        await lab.service.register(plan.id, name="X", email="x@skola.test", organisation="narnia", role="lärare")
    assert len(lab.store.registrations(plan.id)) == 1
    await lab.service.withdraw(plan.id, "p0@skola.test")
    [again] = await register(lab, plan, 1)  # may register again after withdrawing
    assert again.status is SeatStatus.CONFIRMED
    await lab.recorded()
    assert [r.status for r, _ in lab.store.registrations(plan.id)] == ["withdrawn", "confirmed"]
    with pytest.raises(Refused, match="no activity"):
        await lab.service.register("no-such-activity", name="X", email="x@y.test", organisation="berg", role="x")


async def test_survey_reminder_goes_only_to_non_responders_and_follow_up_to_attendees(lab, make_plan):
    plan = make_plan(await lab.now(), places=3, min_participants=1)
    handle = await open_activity(lab, plan)
    await register(lab, plan, 3)
    s1, s2 = plan.sessions
    await lab.advance_to(s1.start + timedelta(minutes=1))
    await lab.service.attendance(plan.id, 1, ["p0@skola.test", "p1@skola.test", "p2@skola.test"])
    await lab.advance_to(s1.end + timedelta(seconds=1))
    invitations = lab.store.survey_invitations(plan.id, "s1")
    assert len(invitations) == 3
    by_person = {p.id: p.email for p in lab.store.participants([i.participant_id for i in invitations])}
    answered = [i for i in invitations if by_person[i.participant_id] != "p2@skola.test"]
    for invitation in answered:
        lab.store.answer_survey(invitation.token, {"behov": 4, "ta_med": "mer läsning"}, now=await lab.now())
    await lab.advance_to(s1.end + plan.surveys.reminder_after + timedelta(minutes=1))
    assert recipients(lab, "survey-reminder") == ["p2@skola.test"]
    await lab.advance_to(s1.end + plan.surveys.window + timedelta(minutes=1))
    assert (await lab.service.status(plan.id)).sessions[0].survey == "closed"

    await lab.advance_to(s2.start + timedelta(minutes=1))
    await lab.service.attendance(plan.id, 2, ["p0@skola.test"])
    await lab.advance_to(s2.end + plan.surveys.follow_up_after + timedelta(minutes=1))
    assert (await lab.service.status(plan.id)).phase is Phase.FOLLOW_UP
    follow_up = lab.store.survey_invitations(plan.id, "follow-up")
    assert len(follow_up) == 3  # everyone who attended at least one session
    assert sum(1 for m in lab.mails("survey") if m["Subject"].startswith("Uppföljning")) == 3
    result = await handle.result()
    assert result.phase is Phase.ANONYMISED
    assert lab.store.report(plan.id).summary_json  # the report counted the answers
    assert '"answers": 2' in lab.store.report(plan.id).summary_json
    # Anonymised: the free texts ("mer läsning") are gone, the scale answers stay.
    assert [json.loads(a.answers_json) for a in lab.store.survey_answers(plan.id)] == [
        {"behov": 4, "ta_med": "(raderad)"}
    ] * 2


async def test_anonymisation_erases_people_and_keeps_counts(lab, make_plan):
    plan = make_plan(await lab.now(), min_participants=1)
    handle = await open_activity(lab, plan)
    await register(lab, plan, 3)
    await lab.advance_to(plan.sessions[0].start + timedelta(minutes=1))
    await lab.service.attendance(plan.id, 1, ["p0@skola.test", "p1@skola.test"])
    await lab.advance_to(
        plan.sessions[-1].end + plan.surveys.follow_up_after + plan.surveys.window + timedelta(hours=1)
    )
    assert (await lab.service.status(plan.id)).phase is Phase.COMPLETED
    report_before = lab.store.report(plan.id).summary_json
    assert lab.store.participant_by_email(plan.id, "p0@skola.test") is not None  # kept during retention
    assert (await handle.result()).phase is Phase.ANONYMISED
    people = [p for _, p in lab.store.registrations(plan.id)]
    assert people and all(p.name is None and p.email is None and p.anonymised for p in people)
    assert all(m.recipient is None and m.body == "" for m in lab.store.outbox(plan.id))
    assert lab.store.plan(plan.id).organiser_email == ANONYMISED_EMAIL
    assert Counter(a.organisation_id for a in lab.store.attendance(plan.id)) == {"sundsvall": 1, "ostersund": 1}
    assert lab.store.report(plan.id).summary_json == report_before


async def test_continue_as_new_with_a_lowered_threshold_keeps_state(lab, make_plan):
    plan = make_plan(await lab.now(), places=20, min_participants=5)
    handle = await lab.service.start(plan, continue_as_new_after_events=60)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    for i in range(25):
        await register(lab, plan, 1, start=i)
        # Continue-as-new comes once the change being recorded is in the store, which is after its answer: let it,
        # before the next Update. (The time-skipping server loses an Update that arrives while the task that
        # continues as new runs; a real server, 1.25 on, retries it on the new run.)
        await lab.recorded()
    await lab.service.withdraw(plan.id, "p3@skola.test")
    await lab.recorded()
    status = await lab.service.status(plan.id)
    assert status.run_number > 1
    assert (status.confirmed, status.waitlisted, status.withdrawn, status.registrations) == (20, 4, 1, 25)
    result = await handle.result()
    assert result.phase is Phase.ANONYMISED and result.confirmed == 20
    # Every registration was stored once, and everyone got exactly one registration e-mail.
    assert len(lab.store.registrations(plan.id)) == 25
    assert len(lab.mails("registration")) == 25
    assert Counter(m["To"] for m in lab.mails("confirmed")) == Counter(
        {f"p{i}@skola.test": 1 for i in range(21) if i != 3}
    )
    await replay(handle)  # the first run, which ends in continue-as-new
    await replay(lab.env.client.get_workflow_handle(handle.id))  # the last run, started from the carried state


async def test_no_personal_data_in_the_workflow_history(lab, make_plan):
    plan = make_plan(await lab.now(), min_participants=1)
    handle = await open_activity(lab, plan)
    await register(lab, plan, 2)
    await lab.service.withdraw(plan.id, "p1@skola.test")
    await handle.result()
    history = await handle.fetch_history()
    text = decoded_history(history)
    for secret in ("Person 0", "p0@skola.test", "p1@skola.test", plan.organiser_email, "O111"):
        assert secret not in text
    assert plan.title in text and '"participant_id"' in text  # the check reads the real, decoded payloads


def decoded_history(history) -> str:
    """Every payload of the history decoded to text, plus the rest of the history as JSON."""
    parts: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if "data" in node and "metadata" in node and isinstance(node["data"], str):
                parts.append(base64.b64decode(node["data"]).decode("utf-8", "replace"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    raw = history.to_json()
    walk(json.loads(raw))
    return raw + "\n".join(parts)


async def test_mailings_are_given_up_on_a_dead_worker_after_15_seconds(lab, make_plan):
    """Every mailing is scheduled with a heartbeat timeout of 15 s (patch `mailings-heartbeat-15-seconds`; it was a
    minute), which its activity keeps up while it runs: a worker killed under one is noticed within 15 s."""
    plan = make_plan(await lab.now(), places=2, min_participants=1)
    handle = await open_activity(lab, plan)
    await register(lab, plan, 1)
    await lab.advance_to(plan.registration.deadline + timedelta(seconds=1))
    assert (await lab.service.status(plan.id)).phase is Phase.CONFIRMED
    mailings = {"send_invitation", "send_deadline_reminder", "announce"}
    scheduled = [
        event.activity_task_scheduled_event_attributes
        for event in (await handle.fetch_history()).events
        if event.HasField("activity_task_scheduled_event_attributes")
    ]
    timeouts = {a.activity_type.name: a.heartbeat_timeout.ToTimedelta() for a in scheduled}
    assert {"send_invitation", "announce"} <= timeouts.keys()
    assert {name: t for name, t in timeouts.items() if name in mailings} == dict.fromkeys(
        mailings & timeouts.keys(), timedelta(seconds=15)
    )
