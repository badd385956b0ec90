"""The participant web against the real workflow on the time-skipping server: register, withdraw, answer surveys."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import httpx
import pytest

from api.web import create_app
from domain.phases import Phase
from tests.web_client import fetch_token, post_form


@pytest.fixture
async def web(lab):
    app = create_app(lab.store, lab.service, secret_key=lab.settings.secret_key)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web.test") as client:
        yield client


def form(name="Anna Andersson", email="anna@skola.test", organisation="sundsvall", role="lärare", **extra):
    return {"name": name, "email": email, "organisation": organisation, "role": role, "school": "Ekskolan", **extra}


def link(message, prefix: str) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(rf"http://web\.test(/{prefix}/\S+)", text).group(1)


async def opened(lab, make_plan, **changes):
    plan = make_plan(await lab.now(), **changes)
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    return plan


async def test_activity_page_shows_the_plan_and_a_labelled_form_only_while_open(lab, make_plan, web):
    plan = make_plan(await lab.now())
    await lab.service.start(plan)
    page = (await web.get(f"/a/{plan.id}")).text
    assert plan.title in page and "lärare" in page and "Anmälan har inte öppnat än." in page
    assert "<form" not in page
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    page = (await web.get(f"/a/{plan.id}")).text
    assert "3 (3 kvar)" in page and "Campus Sundsvall" in page and "Digitalt" in page
    for field in ("name", "email", "organisation", "role", "school"):
        assert f'<label for="{field}">' in page and f'id="{field}"' in page
    assert 'lang="sv"' in page and "Sundsvalls kommun" in page
    assert (await web.get("/a/finns-inte")).status_code == 404


async def test_register_confirmed_then_waitlisted_with_position_and_refusals_in_swedish(lab, make_plan, web):
    plan = await opened(lab, make_plan, places=1)
    answer = await post_form(web, f"/a/{plan.id}", form())
    assert answer.status_code == 200 and "Du har fått en plats" in answer.text
    await lab.recorded()  # the confirmation follows the answer
    [mail] = lab.mails("registration", to="anna@skola.test")
    assert any(p.get_content_type() == "text/calendar" for p in mail.iter_attachments())
    assert link(mail, "w")

    answer = await post_form(web, f"/a/{plan.id}", form(name="Bo", email="bo@skola.test"))
    assert "reservlistan som nummer 1" in answer.text
    again = await post_form(web, f"/a/{plan.id}", form())
    assert again.status_code == 409 and "Du är redan anmäld" in again.text
    assert (await lab.service.status(plan.id)).registrations == 2


async def test_bad_form_input_is_answered_per_field_and_nothing_is_stored(lab, make_plan, web):
    plan = await opened(lab, make_plan)
    answer = await post_form(
        web, f"/a/{plan.id}", form(name="", email="inte-en-adress", organisation="narnia", role="astronaut")
    )
    assert answer.status_code == 422
    for text in ("Skriv ditt namn.", "Skriv en giltig e-postadress", "Välj kommun eller organisation", "Välj en roll"):
        assert text in answer.text
    assert 'aria-invalid="true"' in answer.text and 'value="inte-en-adress"' in answer.text  # kept for fixing
    assert lab.store.participant_by_email(plan.id, "inte-en-adress") is None
    assert (await lab.service.status(plan.id)).registrations == 0


async def test_a_team_registers_with_named_members(lab, make_plan, web):
    plan = await opened(lab, make_plan, places=10, teams={"allowed": True, "min_size": 5, "max_size": 6})
    names = "\n".join(f"Lärare {i}" for i in range(5))
    answer = await post_form(web, f"/a/{plan.id}", form(team_members=names))
    assert "Du har fått en plats" in answer.text
    status = await lab.service.status(plan.id)
    assert status.confirmed == 5
    participant = lab.store.participant_by_email(plan.id, "anna@skola.test")
    assert lab.store.team_members(participant.id) == [f"Lärare {i}" for i in range(5)]
    too_few = await post_form(web, f"/a/{plan.id}", form(email="b@skola.test", team_members="A\nB"))
    assert too_few.status_code == 422 and "Ett lag ska ha 5–6 personer, du skrev 2 namn." in too_few.text


async def test_withdrawal_link_frees_the_place_and_promotes_the_next(lab, make_plan, web):
    plan = await opened(lab, make_plan, places=1)
    await post_form(web, f"/a/{plan.id}", form())
    await post_form(web, f"/a/{plan.id}", form(name="Bo", email="bo@skola.test"))
    await lab.recorded()
    path = link(lab.mails("registration", to="anna@skola.test")[0], "w")
    confirm = await web.get(path)
    assert confirm.status_code == 200 and "Avanmäl mig" in confirm.text
    assert (await lab.service.status(plan.id)).confirmed == 1  # a GET (e.g. a link scanner) changes nothing
    done = await post_form(web, path)
    assert done.status_code == 200 and "Du är avanmäld" in done.text
    await lab.recorded()
    assert [m["To"] for m in lab.mails("promoted")] == ["bo@skola.test"]
    status = await lab.service.status(plan.id)
    assert (status.confirmed, status.waitlisted, status.withdrawn) == (1, 0, 1)
    token = await fetch_token(web, f"/a/{plan.id}")
    assert (await web.post(path, data={"csrf_token": token})).status_code == 409  # the link works once
    forged = path[:-3] + ("abc" if not path.endswith("abc") else "abd")
    assert (await web.get(forged)).status_code == 404
    assert (await web.post(forged, data={"csrf_token": token})).status_code == 404


async def test_survey_answered_once_without_the_name_and_refused_after_the_window(lab, make_plan, web):
    plan = await opened(lab, make_plan, places=3, min_participants=1)
    for i in range(2):
        await post_form(web, f"/a/{plan.id}", form(name=f"Person {i}", email=f"p{i}@skola.test"))
    session = plan.sessions[0]
    await lab.advance_to(session.start + timedelta(minutes=1))
    await lab.service.attendance(plan.id, 1, ["p0@skola.test", "p1@skola.test"])
    await lab.advance_to(session.end + timedelta(seconds=5))
    first = link(lab.mails("survey", to="p0@skola.test")[0], "s")
    page = await web.get(first)
    assert "I vilken grad motsvarade innehållet dina behov?" in page.text and "<legend>" in page.text
    incomplete = await post_form(web, first, {"behov": "4"})
    assert incomplete.status_code == 422 and "Välj ett värde från 1 till 5." in incomplete.text
    answer = {"behov": "4", "balans": "5", "ny_kunskap": "3", "ta_med": "Läsloggar i klassrummet"}
    token = await fetch_token(web, first)
    assert "Tack för dina svar!" in (await web.post(first, data={**answer, "csrf_token": token})).text
    second = await web.post(first, data={**answer, "csrf_token": token})
    assert second.status_code == 409 and "redan besvarad" in second.text
    [stored] = lab.store.survey_answers(plan.id)
    assert json.loads(stored.answers_json) == {
        "behov": 4,
        "balans": 5,
        "ny_kunskap": 3,
        "ta_med": "Läsloggar i klassrummet",
    }
    assert "Person" not in stored.answers_json and stored.organisation_id == "sundsvall"

    late = link(lab.mails("survey", to="p1@skola.test")[0], "s")
    await lab.advance_to(session.end + plan.surveys.window + timedelta(minutes=5))
    assert (await web.get(late)).status_code == 410
    assert (await web.post(late, data={**answer, "csrf_token": token})).status_code == 410
    assert (await web.get("/s/forfalskad-token")).status_code == 404
    assert lab.mails("survey-reminder", to="p0@skola.test") == []  # answered: no reminder
    assert len(lab.mails("survey-reminder", to="p1@skola.test")) == 1


async def test_follow_up_survey_asks_what_was_spread(lab, make_plan, web):
    plan = await opened(lab, make_plan, places=3, min_participants=1)
    await post_form(web, f"/a/{plan.id}", form())
    await lab.advance_to(plan.sessions[-1].end + plan.surveys.follow_up_after + timedelta(minutes=1))
    assert (await lab.service.status(plan.id)).phase is Phase.FOLLOW_UP
    mail = next(m for m in lab.mails("survey", to="anna@skola.test") if m["Subject"].startswith("Uppföljning"))
    page = await web.get(link(mail, "s"))
    assert "Vad har du spridit eller delat i din egen organisation?" in page.text


async def test_no_answer_in_time_is_a_503_that_keeps_the_person(lab, make_plan, web, monkeypatch):
    from api.service import Unconfirmed

    plan = await opened(lab, make_plan)
    real = lab.service._send_update

    async def silent(activity_id, handle, update, arg):
        await real(activity_id, handle, update, arg)  # carried out, but the answer never arrives
        raise Unconfirmed("no answer from the workflow (simulated)")

    monkeypatch.setattr(lab.service, "_send_update", silent)
    answer = await post_form(web, f"/a/{plan.id}", form())
    assert answer.status_code == 503 and "kan ändå ha tagits emot" in answer.text
    # The seat was given, so the person must still be in the store for the confirmation e-mail.
    assert lab.store.participant_by_email(plan.id, "anna@skola.test") is not None
    assert (await lab.service.status(plan.id)).confirmed == 1
    await lab.recorded()
    assert len(lab.mails("registration", to="anna@skola.test")) == 1


async def test_a_burst_beyond_the_servers_update_limit_waits_instead_of_failing(lab, make_plan, monkeypatch):
    import asyncio

    from temporalio.client import WorkflowHandle

    from api.service import UPDATES_IN_FLIGHT_PER_ACTIVITY

    plan = await opened(lab, make_plan, places=30)
    in_flight, peak = 0, 0
    real_execute = WorkflowHandle.execute_update

    async def counting(self, *args, **kwargs):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return await real_execute(self, *args, **kwargs)
        finally:
            in_flight -= 1

    monkeypatch.setattr(WorkflowHandle, "execute_update", counting)
    results = await asyncio.gather(
        *(
            lab.service.register(plan.id, name=f"P{i}", email=f"p{i}@skola.test", organisation="berg", role="lärare")
            for i in range(30)
        )
    )
    assert len(results) == 30
    assert 1 < peak <= UPDATES_IN_FLIGHT_PER_ACTIVITY  # concurrent, but never more than the server takes
