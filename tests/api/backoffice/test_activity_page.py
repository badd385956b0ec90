"""The activity page in the back-office, on the time-skipping server: who registered (sortable, CSV, XLSX),
attendance by ticked boxes, decisions with a confirmation step, the timeline with who decided, the audit log."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import httpx
import pytest
from openpyxl import load_workbook

from api.backoffice import BackOfficeConfig
from api.web import create_app
from domain.local_time import local_input_value
from domain.phases import Phase
from domain.staff import Role
from tests.support.backoffice import csrf_of, post_async, sign_in_async

ORGS = ["sundsvall", "ostersund", "are"]


@pytest.fixture
async def office(lab):
    app = create_app(lab.store, lab.service, secret_key="k" * 40, backoffice=BackOfficeConfig())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
        yield client


async def started(lab, make_plan, people: int, **changes):
    plan = make_plan(await lab.now(), **changes)
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    names = ["Örjan Öst", "Anna Andersson", "Cecilia Berg", "Bo Ek"]
    for i in range(people):
        await lab.service.register(
            plan.id, name=names[i], email=f"p{i}@skola.test", organisation=ORGS[i % 3], role="lärare", school="Skolan"
        )
    await lab.recorded()  # the list is the store's: the rows follow the answers
    return plan


async def test_the_participant_list_sorts_and_exports(lab, make_plan, office):
    plan = await started(lab, make_plan, 4)  # three places: the fourth waits
    await sign_in_async(office, lab.store)
    page = await office.get(f"/admin/activities/{plan.id}")
    assert page.status_code == 200
    html = page.text
    for i, name in enumerate(["Örjan Öst", "Anna Andersson", "Cecilia Berg", "Bo Ek"]):
        assert name in html and f"p{i}@skola.test" in html
    assert "Reservlista (nr 1)" in html and "3 bekräftade, 1 på reservlistan" in html
    assert "Anmälan öppen" in html
    by_name = (await office.get(f"/admin/activities/{plan.id}", params={"sort": "name"})).text
    assert by_name.index("Anna Andersson") < by_name.index("Bo Ek") < by_name.index("Cecilia Berg")
    assert by_name.index("Cecilia Berg") < by_name.index("Örjan Öst")

    exported = await office.get(f"/admin/activities/{plan.id}/participants.csv")
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Namn", "E-post", "Organisation"]
    assert [r[0] for r in rows[1:]] == ["Örjan Öst", "Anna Andersson", "Cecilia Berg", "Bo Ek"]
    assert rows[4][6:8] == ["Reservlista", "1"]

    workbook = await office.get(f"/admin/activities/{plan.id}/participants.xlsx")
    assert workbook.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][0] == "Namn" and [v[1] for v in values[1:]] == [f"p{i}@skola.test" for i in range(4)]


async def test_viewers_see_the_list_without_the_people(lab, make_plan, office):
    plan = await started(lab, make_plan, 4)
    await sign_in_async(office, lab.store, "ledning@miun.se", Role.VIEWER)
    html = (await office.get(f"/admin/activities/{plan.id}")).text
    assert "3 bekräftade, 1 på reservlistan" in html and "Sundsvall" in html and "Reservlista (nr 1)" in html
    assert "visas bara för samordnare" in html
    for i, name in enumerate(["Örjan Öst", "Anna Andersson", "Cecilia Berg", "Bo Ek"]):
        assert name not in html and f"p{i}@skola.test" not in html
    assert "Skolan" not in html and 'name="present"' not in html
    exported = (await office.get(f"/admin/activities/{plan.id}/participants.csv")).content.decode("utf-8-sig")
    assert "@skola.test" not in exported and "Örjan" not in exported and "Reservlista" in exported
    sheet = load_workbook(io.BytesIO((await office.get(f"/admin/activities/{plan.id}/participants.xlsx")).content))
    cells = [str(c.value) for row in sheet.active.iter_rows() for c in row]
    assert not any("@skola.test" in c or "Örjan" in c for c in cells)


async def test_a_name_typed_as_a_formula_stays_text_in_the_exports(lab, make_plan, office):
    plan = make_plan(await lab.now())
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    await lab.service.register(
        plan.id, name='=HYPERLINK("http://evil.test","x")', email="e@skola.test", organisation="are", role="lärare"
    )
    await lab.recorded()
    await sign_in_async(office, lab.store)
    text = (await office.get(f"/admin/activities/{plan.id}/participants.csv")).content.decode("utf-8-sig")
    assert "'=HYPERLINK" in text
    sheet = load_workbook(io.BytesIO((await office.get(f"/admin/activities/{plan.id}/participants.xlsx")).content))
    cell = sheet.active["A2"]
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")


async def test_a_decision_is_confirmed_then_shows_who_made_it(lab, make_plan, office):
    plan = await started(lab, make_plan, 1)  # below the minimum of two
    await lab.advance_to(plan.registration.deadline + timedelta(seconds=1))
    member = await sign_in_async(office, lab.store, "kerstin@miun.se")
    page = (await office.get(f"/admin/activities/{plan.id}")).text
    assert "Väntar på beslut" in page and "ställs in automatiskt om" in page
    for action in ("run", "cancel", "extend", "postpone"):
        assert f"/admin/activities/{plan.id}/decide/{action}" in page
    confirm = await office.get(f"/admin/activities/{plan.id}/decide/run")
    assert confirm.status_code == 200 and "Genomför aktiviteten?" in confirm.text
    assert (await lab.service.status(plan.id)).phase is Phase.DECIDING  # asking is not deciding
    done = await office.post(
        f"/admin/activities/{plan.id}/decide/run",
        data={"csrf_token": csrf_of(confirm.text), "reason": "Två anmälda till via rektorn"},
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?klart=beslut")
    status = await lab.service.status(plan.id)
    assert status.phase is Phase.CONFIRMED and status.decisions[-1].staff_id == member.id
    page = (await office.get(done.headers["location"])).text
    assert "Beslutet är registrerat." in page and "Blir av" in page and "Kerstin" in page
    assert "Två anmälda till via rektorn" in page  # the reason, in the audit log (never in Temporal)
    assert "Två anmälda" not in status.model_dump_json()


async def test_extend_needs_a_good_new_deadline(lab, make_plan, office):
    plan = await started(lab, make_plan, 1)
    await sign_in_async(office, lab.store)
    path = f"/admin/activities/{plan.id}/decide/extend"
    for typed, says in [
        ("", "Ange datum och tid."),
        ("31/12", "ÅÅÅÅ-MM-DD"),
        ("2027-02-30T10:00", "finns inte"),
        (local_input_value(plan.sessions[0].start + timedelta(days=1)), "efter att första träffen"),
    ]:
        response = await post_async(office, path, path, {"deadline": typed})
        assert response.status_code in (409, 422), typed
        assert says in response.text, (typed, response.text[-2000:])
    assert (await lab.service.status(plan.id)).deadline == plan.registration.deadline  # nothing changed
    new = (plan.registration.deadline + timedelta(days=2)).replace(second=0, microsecond=0)
    response = await post_async(office, path, path, {"deadline": local_input_value(new)})
    assert response.status_code == 303
    assert (await lab.service.status(plan.id)).deadline == new


async def test_attendance_is_ticked_per_session_and_shown(lab, make_plan, office):
    plan = await started(lab, make_plan, 3)
    await lab.advance_to(plan.sessions[0].start + timedelta(minutes=5))
    await sign_in_async(office, lab.store)
    page = (await office.get(f"/admin/activities/{plan.id}")).text
    ids = [lab.store.participant_by_email(plan.id, f"p{i}@skola.test").id for i in range(3)]
    for pid in ids:
        assert f'id="present-1-{pid}"' in page
    response = await post_async(
        office,
        f"/admin/activities/{plan.id}",
        f"/admin/activities/{plan.id}/attendance/1",
        {"present": [str(ids[0]), str(ids[2])]},
    )
    assert response.status_code == 303 and response.headers["location"].endswith("?klart=narvaro")
    assert sorted(a.participant_id for a in lab.store.attendance(plan.id)) == sorted([ids[0], ids[2]])
    page = (await office.get(response.headers["location"])).text
    assert "Närvaron är registrerad." in page and "2 närvarande registrerade" in page
    assert f'value="{ids[0]}" checked disabled' in page
    # bad input: an id that is not a number, one from nowhere
    for present in (["1; DROP TABLE"], ["999999"]):
        response = await post_async(
            office, f"/admin/activities/{plan.id}", f"/admin/activities/{plan.id}/attendance/1", {"present": present}
        )
        assert response.status_code in (409, 422)
    assert len(lab.store.attendance(plan.id)) == 2


async def test_viewers_read_but_every_change_is_403(lab, make_plan, office):
    plan = await started(lab, make_plan, 1)
    await sign_in_async(office, lab.store, "ledning@miun.se", Role.VIEWER)
    page = await office.get(f"/admin/activities/{plan.id}")
    assert page.status_code == 200 and "/decide/" not in page.text
    token = csrf_of(page.text)
    for path in ("/decide/cancel", "/decide/run", "/attendance/1"):
        response = await office.post(f"/admin/activities/{plan.id}{path}", data={"csrf_token": token})
        assert response.status_code == 403 and "behörighet" in response.text
    assert (await office.get(f"/admin/activities/{plan.id}/decide/cancel")).status_code == 403
    assert (await lab.service.status(plan.id)).phase is Phase.OPEN


async def test_a_change_without_the_csrf_token_is_refused(lab, make_plan, office):
    plan = await started(lab, make_plan, 1)
    await sign_in_async(office, lab.store)
    response = await office.post(f"/admin/activities/{plan.id}/decide/cancel", data={"reason": "x"})
    assert response.status_code == 403
    assert (await lab.service.status(plan.id)).phase is Phase.OPEN


async def test_an_unknown_activity_is_404(lab, office):
    await sign_in_async(office, lab.store)
    assert (await office.get("/admin/activities/no-such")).status_code == 404


async def test_postponing_takes_new_dates_and_says_what_is_wrong_in_swedish(lab, make_plan, office):
    plan = await started(lab, make_plan, 1)
    await sign_in_async(office, lab.store)
    path = f"/admin/activities/{plan.id}/decide/postpone"
    s1, s2 = plan.sessions
    fields = {
        "deadline": local_input_value(plan.registration.deadline + timedelta(days=7)),
        "start_1": local_input_value(s1.start + timedelta(days=7)),
        "end_1": local_input_value(s1.start + timedelta(days=7) - timedelta(hours=1)),  # ends before it starts
        "start_2": local_input_value(s2.start + timedelta(days=7)),
        "end_2": local_input_value(s2.end + timedelta(days=7)),
    }
    refused = await post_async(office, path, path, fields)
    assert refused.status_code == 422 and 'id="end_1-error"' in refused.text
    assert "Träff 1" in refused.text and "must" not in refused.text  # Swedish, not the model's English
    assert (await lab.service.status(plan.id)).plan_version == 1
    fields["end_1"] = local_input_value(s1.end + timedelta(days=7))
    done = await post_async(office, path, path, fields)
    assert done.status_code == 303, done.text[-1500:]
    status = await lab.service.status(plan.id)
    assert status.plan_version == 2 and status.sessions[0].start == (s1.start + timedelta(days=7)).replace(
        second=0, microsecond=0
    )
