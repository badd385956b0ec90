"""The activity page after the sessions, on the time-skipping server: survey results (response rate, each scale
question's distribution, free-text answers without names), the report rendered and as CSV and PNG, and after
anonymisation the counts only."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from api.backoffice import BackOfficeConfig
from api.web import create_app
from domain.phases import Phase
from tests.support.backoffice import sign_in_async

PNG = b"\x89PNG\r\n\x1a\n"
ORGS = ["sundsvall", "ostersund", "are"]


@pytest.fixture
async def office(lab):
    app = create_app(lab.store, lab.service, secret_key="k" * 40, backoffice=BackOfficeConfig())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://test") as client:
        yield client


async def test_survey_results_report_and_counts_only_after_anonymisation(lab, make_plan, office):
    plan = make_plan(await lab.now(), places=3, min_participants=1)
    handle = await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    for i in range(3):
        await lab.service.register(
            plan.id, name=f"Deltagare {i}", email=f"p{i}@skola.test", organisation=ORGS[i], role="lärare"
        )
    s1, s2 = plan.sessions
    await lab.advance_to(s1.start + timedelta(minutes=1))
    await lab.service.attendance(plan.id, 1, [f"p{i}@skola.test" for i in range(3)])
    await lab.advance_to(s1.end + timedelta(seconds=1))
    invitations = lab.store.survey_invitations(plan.id, "s1")
    for invitation, (needs, free) in zip(invitations, [(4, "Cirkelmodellen"), (5, "")], strict=False):
        answers = {"behov": needs, "balans": 3, "ny_kunskap": 4, "ta_med": free}
        lab.store.answer_survey(invitation.token, answers, now=await lab.now())
    member = await sign_in_async(office, lab.store)
    page = (await office.get(f"/admin/activities/{plan.id}")).text.replace("\xa0", " ")  # no-break space before %
    assert "2 av 3 har svarat (67 %)" in page
    assert "I vilken grad motsvarade innehållet dina behov?" in page and "medelvärde 4,5" in page
    assert "<li>Cirkelmodellen</li>" in page

    await lab.advance_to(s2.start + timedelta(minutes=1))
    await lab.service.attendance(plan.id, 2, ["p0@skola.test"])
    await lab.advance_to(s2.end + plan.surveys.follow_up_after + plan.surveys.window + timedelta(minutes=5))
    status = await lab.service.status(plan.id)
    assert status.phase in (Phase.COMPLETED, Phase.ANONYMISED), status.phase
    page = (await office.get(f"/admin/activities/{plan.id}")).text
    assert f"/admin/activities/{plan.id}/report.csv" in page
    report = await office.get(f"/admin/activities/{plan.id}/report")
    assert report.status_code == 200 and "<h1>" in report.text and "<script" not in report.text
    csv = await office.get(f"/admin/activities/{plan.id}/report.csv")
    assert csv.status_code == 200 and "attachment" in csv.headers["content-disposition"]
    png = await office.get(f"/admin/activities/{plan.id}/report.png")
    assert png.status_code == 200 and png.content.startswith(PNG)

    assert (await handle.result()).phase is Phase.ANONYMISED
    page = (await office.get(f"/admin/activities/{plan.id}")).text
    assert "Avidentifierad" in page and "bara antal visas" in page
    assert "3 bekräftade" in page or "0 bekräftade" in page  # the counts stay
    for i in range(3):
        assert f"Deltagare {i}" not in page and f"p{i}@skola.test" not in page
    assert "Cirkelmodellen" not in page  # free text erased with the people (keep_free_text is off)
    assert "medelvärde 4,5" in page  # the scale answers stay
    assert member.name in page  # the staff member still signed in
