"""Who made a change: a coordinator's decision and attendance name the member of staff (an opaque id) in the
workflow's status and in the audit log; nothing else about them crosses Temporal."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from api.service import Refused
from domain.lifecycle import OverrideAction
from domain.phases import Phase
from domain.refusals import RefusalCode

ORGS = ["sundsvall", "ostersund", "are"]
STAFF = "st_3f9a1c2b"


async def register(lab, plan, n: int, start: int = 0) -> list[int]:
    ids = []
    for i in range(start, start + n):
        email = f"p{i}@skola.test"
        await lab.service.register(plan.id, name=f"Person {i}", email=email, organisation=ORGS[i % 3], role="lärare")
        ids.append(lab.store.participant_by_email(plan.id, email).id)
    return ids


def audit(lab, plan, kind: str) -> list:
    return [e for e in lab.store.audit_log(plan.id) if e.kind == kind]


async def test_the_coordinators_decision_names_who_decided(lab, make_plan):
    plan = make_plan(await lab.now())
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    await register(lab, plan, 1)
    await lab.advance_to(plan.registration.deadline + timedelta(seconds=1))
    assert await lab.service.decide(plan.id, OverrideAction.RUN, staff_id=STAFF) == "confirmed"

    awaiting, confirm = (await lab.service.status(plan.id)).decisions
    assert (awaiting.by.value, awaiting.staff_id) == ("engine", None)
    assert (confirm.kind, confirm.by.value, confirm.staff_id) == ("confirm", "coordinator", STAFF)
    assert [e.by for e in audit(lab, plan, "awaiting_coordinator")] == ["engine"]  # existing values stay
    assert [e.by for e in audit(lab, plan, "confirm")] == [f"staff:{STAFF}"]


async def test_a_decision_without_a_staff_id_keeps_the_old_audit_entry(lab, make_plan):
    plan = make_plan(await lab.now())
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    assert await lab.service.decide(plan.id, OverrideAction.CANCEL) == "cancelled"
    [cancel] = (await lab.service.status(plan.id)).decisions
    assert (cancel.by.value, cancel.staff_id) == ("coordinator", None)
    assert [e.by for e in audit(lab, plan, "cancel")] == ["coordinator"]


@pytest.mark.parametrize("staff_id", ["anna@run.test", "Anna Andersson", "", "x" * 33])
async def test_a_staff_id_that_is_not_opaque_is_refused_before_the_workflow(lab, make_plan, staff_id):
    plan = make_plan(await lab.now())
    await lab.service.start(plan)
    with pytest.raises(Refused) as refused:
        await lab.service.decide(plan.id, OverrideAction.CANCEL, staff_id=staff_id)
    assert refused.value.code == RefusalCode.INVALID_STAFF_ID
    with pytest.raises(Refused) as refused:
        await lab.service.attendance_by_ids(plan.id, 1, [], staff_id)
    assert refused.value.code == RefusalCode.INVALID_STAFF_ID
    assert (await lab.service.status(plan.id)).decisions == []


async def test_attendance_by_participant_id_names_who_ticked_the_boxes(lab, make_plan):
    start = await lab.now()
    plan = make_plan(start)
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    p0, p1, p2 = await register(lab, plan, 3)
    other = make_plan(start).model_copy(update={"id": f"{plan.id}-x"})  # someone registered elsewhere
    lab.store.save_plan(other, make_current=True)
    stranger = lab.store.upsert_participant(
        other.id, name="Bo", email="bo@skola.test", organisation_id="berg", role="lärare"
    )
    await lab.advance_to(plan.sessions[0].start + timedelta(minutes=5))

    with pytest.raises(Refused) as refused:
        await lab.service.attendance_by_ids(plan.id, 1, [p0, stranger, 999_999], STAFF)
    assert refused.value.code == RefusalCode.NOT_REGISTERED
    assert refused.value.details == {"participant_ids": sorted([stranger, 999_999])}
    assert lab.store.attendance(plan.id) == []  # nothing of a refused request is kept

    assert await lab.service.attendance_by_ids(plan.id, 1, [p0, p1, p0], STAFF) == 2
    assert await lab.service.attendance_by_ids(plan.id, 1, [p1], STAFF) == 2  # nobody new: no second entry
    assert await lab.service.attendance(plan.id, 1, ["p2@skola.test"]) == 3  # the CLI, without a staff id
    status = await lab.service.status(plan.id)
    assert status.phase is Phase.RUNNING and status.sessions[0].attended == 3
    entries = audit(lab, plan, "attendance")
    assert [(e.by, e.reason) for e in entries] == [
        (f"staff:{STAFF}", "2 marked present at session 1"),
        ("coordinator", "1 marked present at session 1"),
    ]
    assert [p for e in entries for p in json.loads(e.details_json)["participant_ids"]] == [p0, p1, p2]
