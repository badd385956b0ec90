"""A coordinator's message to a segment, on the time-skipping server: the text stays in the store, the workflow's
`send_message` Update resolves the segment when it is sent, and each recipient gets it once through the outbox."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from datetime import timedelta

import pytest

from api.service import Refused
from domain.lifecycle import MessageRequest, OverrideAction
from domain.phases import Phase
from domain.refusals import RefusalCode
from workflows.activity_lifecycle import ActivityLifecycleWorkflow

ORGS = ["sundsvall", "ostersund", "are"]
STAFF = "st_3f9a1c2b00112233"
SUBJECT = "Läs kapitel 3 inför nästa träff"
BODY = "Hej!\r\n\r\nLäs kapitel 3 i boken till nästa gång.\r\n\tVälkomna!"


async def register(lab, plan, n: int) -> list[int]:
    ids = []
    for i in range(n):
        email = f"p{i}@skola.test"
        await lab.service.register(plan.id, name=f"Person {i}", email=email, organisation=ORGS[i % 3], role="lärare")
        ids.append(lab.store.participant_by_email(plan.id, email).id)
    return ids


def last_message_id(lab, plan) -> int:
    return lab.store.messages(plan.id)[-1].id


def reached(lab, plan) -> list[str]:
    """Who got the activity's latest message."""
    return sorted(m["To"] for m in lab.mails(f"message-{last_message_id(lab, plan)}"))


def text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


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


async def test_each_segment_reaches_exactly_its_people(lab, make_plan):
    plan = make_plan(await lab.now(), places=3)
    handle = await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    p0, p1, _, _ = await register(lab, plan, 4)  # three confirmed, p3 on the waiting list
    send = lab.service.send_message

    assert await send(plan.id, "waitlisted", SUBJECT, BODY, STAFF) == 1
    assert reached(lab, plan) == ["p3@skola.test"]
    await lab.advance_to(plan.registration.deadline + timedelta(seconds=1))
    assert await send(plan.id, "confirmed", SUBJECT, BODY, STAFF) == 3
    assert reached(lab, plan) == ["p0@skola.test", "p1@skola.test", "p2@skola.test"]

    s1 = plan.sessions[0]
    await lab.advance_to(s1.start + timedelta(minutes=5))
    assert await send(plan.id, "absent:1", SUBJECT, BODY, STAFF) == 0  # no attendance yet: nobody is absent
    await lab.service.attendance_by_ids(plan.id, 1, [p0, p1], STAFF)
    assert await send(plan.id, "present:1", SUBJECT, BODY, STAFF) == 2
    assert reached(lab, plan) == ["p0@skola.test", "p1@skola.test"]
    assert await send(plan.id, "absent:1", SUBJECT, BODY, STAFF) == 1
    assert reached(lab, plan) == ["p2@skola.test"]

    await lab.advance_to(s1.end + timedelta(seconds=1))  # the session's survey goes to those present
    [invitation] = [i for i in lab.store.survey_invitations(plan.id, "s1") if i.participant_id == p0]
    lab.store.answer_survey(invitation.token, {"behov": 4})
    assert await send(plan.id, "unanswered:s1", SUBJECT, BODY, STAFF) == 1
    assert reached(lab, plan) == ["p1@skola.test"]

    # The e-mail: the coordinator's text inside the activity's title and the office's signature.
    [mail] = lab.mails(f"message-{last_message_id(lab, plan)}")
    assert mail["Subject"] == f"{SUBJECT} – {plan.title}"
    body = text(mail)
    assert body.startswith("Hej Person 1!\n\nHej!\n\nLäs kapitel 3 i boken till nästa gång.\n\tVälkomna!\n")
    assert "Med vänliga hälsningar\nRUN – Regionalt utvecklingsnätverk" in body

    # Who sent what is in the store and the audit log; Temporal saw ids and counts only.
    messages = lab.store.messages(plan.id)
    assert [m.segment for m in messages] == [
        "waitlisted",
        "confirmed",
        "absent:1",
        "present:1",
        "absent:1",
        "unanswered:s1",
    ]
    assert {(m.subject, m.body, m.staff_id) for m in messages} == {(SUBJECT, BODY.replace("\r\n", "\n"), STAFF)}
    audit = [e for e in lab.store.audit_log(plan.id) if e.kind == "message"]
    assert [(e.by, json.loads(e.details_json)["recipients"]) for e in audit] == [
        (f"staff:{STAFF}", n) for n in (1, 3, 0, 2, 1, 1)
    ]
    assert all(f"message {m.id} to segment {m.segment}" in e.reason for m, e in zip(messages, audit, strict=True))
    history = decoded_history(await handle.fetch_history())
    assert '"message_id"' in history  # the check reads the real, decoded payloads
    for secret in (SUBJECT, "kapitel 3", "p1@skola.test", "Person 1"):
        assert secret not in history
    assert (await lab.service.status(plan.id)).phase is Phase.RUNNING


async def test_a_retried_send_mails_nobody_twice(lab, make_plan):
    plan = make_plan(await lab.now())
    handle = await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    await register(lab, plan, 3)
    await lab.recorded()  # the confirmations are out before the SMTP server goes away
    sent_before = len(lab.mailer.sent)
    deliver, calls = lab.mailer.send, 0

    async def flaky(message):  # the SMTP server goes away after the first message of the mailing
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("SMTP server unavailable (simulated)")
        await deliver(message)

    lab.mailer.send = flaky
    assert await lab.service.send_message(plan.id, "confirmed", SUBJECT, BODY, STAFF) == 3
    message_id = last_message_id(lab, plan)
    assert reached(lab, plan) == ["p0@skola.test", "p1@skola.test", "p2@skola.test"]  # each once
    rows = [m for m in lab.store.outbox(plan.id) if m.purpose == f"message-{message_id}"]
    assert sorted(m.attempts for m in rows) == [1, 1, 2] and {m.status for m in rows} == {"sent"}

    # The same message sent again (a client retrying the Update): the outbox knows every recipient already.
    again = await handle.execute_update(
        ActivityLifecycleWorkflow.send_message, MessageRequest(message_id=message_id, staff_id=STAFF)
    )
    assert again == 3
    assert len(lab.mailer.sent) == sent_before + 3
    assert len([e for e in lab.store.audit_log(plan.id) if e.kind == "message"]) == 1


@pytest.mark.parametrize(
    ("segment", "subject", "body", "code"),
    [
        ("confirmed", "", BODY, RefusalCode.SUBJECT_EMPTY),
        ("confirmed", "x" * 201, BODY, RefusalCode.SUBJECT_TOO_LONG),
        ("confirmed", "Två\nrader", BODY, RefusalCode.SUBJECT_CONTROL_CHARACTER),
        ("confirmed", SUBJECT, " \r\n ", RefusalCode.BODY_EMPTY),
        ("confirmed", SUBJECT, "x" * 10_001, RefusalCode.BODY_TOO_LONG),
        ("confirmed", SUBJECT, "NUL\x00", RefusalCode.BODY_CONTROL_CHARACTER),
        ("present:3", SUBJECT, BODY, RefusalCode.UNKNOWN_SEGMENT),  # the plan has two sessions
        ("everyone", SUBJECT, BODY, RefusalCode.UNKNOWN_SEGMENT),
    ],
)
async def test_a_message_that_cannot_go_is_refused_before_it_is_stored(lab, make_plan, segment, subject, body, code):
    plan = make_plan(await lab.now())
    lab.store.save_plan(plan, make_current=True)  # refused before the workflow is asked: none needs to run
    with pytest.raises(Refused) as refused:
        await lab.service.send_message(plan.id, segment, subject, body, STAFF)
    assert refused.value.code == code
    assert lab.store.messages(plan.id) == []


async def test_a_message_needs_who_sends_it(lab, make_plan):
    plan = make_plan(await lab.now())
    lab.store.save_plan(plan, make_current=True)
    for staff_id in (None, "anna@run.test"):
        with pytest.raises(Refused) as refused:
            await lab.service.send_message(plan.id, "confirmed", SUBJECT, BODY, staff_id)
        assert refused.value.code == RefusalCode.INVALID_STAFF_ID
    assert lab.store.messages(plan.id) == []


async def test_messages_are_refused_once_anonymisation_begins(lab, make_plan):
    plan = make_plan(await lab.now())
    handle = await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    await register(lab, plan, 1)
    assert await lab.service.decide(plan.id, OverrideAction.CANCEL, staff_id=STAFF) == "cancelled"
    assert await lab.service.send_message(plan.id, "waitlisted", SUBJECT, BODY, STAFF) == 0  # still possible
    cancelled_at = (await lab.service.status(plan.id)).decisions[-1].at

    # Hold the erasure while a coordinator tries to send.
    erase, entered, release = lab.store.anonymise_activity, threading.Event(), threading.Event()

    def held(*args, **kwargs):
        entered.set()
        release.wait(30)
        return erase(*args, **kwargs)

    lab.store.anonymise_activity = held
    try:
        # Exactly to the end of retention: time cannot skip past it while the erasure is held.
        await lab.advance_to(cancelled_at + plan.retention, activities=False)  # the erasure is held
        assert await asyncio.to_thread(entered.wait, 30)
        with pytest.raises(Refused) as refused:
            await lab.service.send_message(plan.id, "confirmed", SUBJECT, BODY, STAFF)
        assert refused.value.code == RefusalCode.MESSAGES_CLOSED
    finally:
        release.set()
    assert (await handle.result()).phase is Phase.ANONYMISED
    assert [m.segment for m in lab.store.messages(plan.id)] == ["waitlisted"]  # the refused one was not kept
    with pytest.raises(Refused) as refused:
        await lab.service.send_message(plan.id, "confirmed", SUBJECT, BODY, STAFF)
    assert refused.value.code == RefusalCode.ACTIVITY_ENDED
