"""Messages to a segment from the back-office: write, preview with the number reached, send once to each; every
bad input answered next to its field with nothing stored or sent."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from api.backoffice import BackOfficeConfig
from api.web import create_app
from domain.staff import Role
from tests.support.backoffice import csrf_of, post_async, sign_in_async

ORGS = ["sundsvall", "ostersund", "are"]


@pytest.fixture
async def office(lab):
    app = create_app(lab.store, lab.service, secret_key="k" * 40, backoffice=BackOfficeConfig())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://test") as client:
        yield client


async def running_with_attendance(lab, make_plan):
    """Three confirmed, one waiting; session 1 has started and p0 and p2 were there."""
    plan = make_plan(await lab.now(), places=3, min_participants=1)
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    for i in range(4):
        await lab.service.register(
            plan.id, name=f"Person {i}", email=f"p{i}@skola.test", organisation=ORGS[i % 3], role="lärare"
        )
    await lab.advance_to(plan.sessions[0].start + timedelta(minutes=1))
    ids = [lab.store.participant_by_email(plan.id, f"p{i}@skola.test").id for i in (0, 2)]
    await lab.service.attendance_by_ids(plan.id, 1, ids)
    return plan


async def test_a_message_reaches_its_segment_once_and_names_who_sent_it(lab, make_plan, office):
    plan = await running_with_attendance(lab, make_plan)
    member = await sign_in_async(office, lab.store, "kerstin@miun.se")
    path = f"/admin/activities/{plan.id}/message"
    form = await office.get(path)
    assert form.status_code == 200 and 'value="absent:1"' in form.text and "Frånvarande vid träff 1" in form.text
    text = {"segment": "absent:1", "subject": "Material från träff 1", "body": "Hej!\r\nHär är bilderna.\r\n"}
    preview = await office.post(path, data={"csrf_token": csrf_of(form.text), **text})
    assert preview.status_code == 200 and "1 person just nu" in preview.text
    assert lab.store.messages(plan.id) == []  # a preview sends nothing
    sent = await office.post(f"{path}/send", data={"csrf_token": csrf_of(preview.text), **text})
    assert sent.status_code == 303 and sent.headers["location"].endswith("?klart=meddelande")
    [message] = lab.store.messages(plan.id)
    assert message.staff_id == member.id and message.segment == "absent:1"
    to = [m["To"] for m in lab.mailer.sent if m["Subject"] and "Material från träff 1" in m["Subject"]]
    assert to == ["p1@skola.test"]
    page = (await office.get(path)).text
    assert "Material från träff 1" in page and "Kerstin" in page and "Frånvarande vid träff 1" in page
    audit = [e for e in lab.store.audit_log(plan.id) if e.kind == "message"]
    assert [e.by for e in audit] == [f"staff:{member.id}"]


@pytest.mark.parametrize(
    ("field", "fields", "says"),
    [
        ("segment", {"segment": ""}, "Välj"),
        ("segment", {"segment": "present:9"}, "träff 9"),
        ("segment", {"segment": "x" * 5000}, "Välj"),
        ("subject", {"subject": ""}, "Skriv en ämnesrad."),
        ("subject", {"subject": "x" * 201}, "högst 200 tecken"),
        ("subject", {"subject": "Rad ett\nRad två"}, "otillåtet tecken"),
        ("body", {"body": "   "}, "Skriv ett meddelande."),
        ("body", {"body": "x" * 10_001}, "högst 10000 tecken"),
        ("body", {"body": "Hej\x00"}, "otillåtet tecken"),
    ],
)
async def test_bad_input_is_answered_by_its_field_and_nothing_is_stored(lab, make_plan, office, field, fields, says):
    plan = await running_with_attendance(lab, make_plan)
    await sign_in_async(office, lab.store)
    path = f"/admin/activities/{plan.id}/message"
    data = {"segment": "confirmed", "subject": "Hej", "body": "Text", **fields}
    for action in (path, f"{path}/send"):  # the send step checks again: hidden fields can be changed too
        response = await post_async(office, path, action, data)
        assert response.status_code == 422, (action, response.text[-1500:])
        assert f'id="{field}-error"' in response.text and says in response.text
        assert f'id="{field}"' in response.text and 'aria-invalid="true"' in response.text
    assert lab.store.messages(plan.id) == []


async def test_viewers_cannot_send(lab, make_plan, office):
    plan = await running_with_attendance(lab, make_plan)
    await sign_in_async(office, lab.store, "ledning@miun.se", Role.VIEWER)
    assert (await office.get(f"/admin/activities/{plan.id}/message")).status_code == 403
    page = await office.get(f"/admin/activities/{plan.id}")
    data = {"csrf_token": csrf_of(page.text), "segment": "confirmed", "subject": "x", "body": "y"}
    assert (await office.post(f"/admin/activities/{plan.id}/message/send", data=data)).status_code == 403
    assert lab.store.messages(plan.id) == []
