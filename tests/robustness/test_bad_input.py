"""Bad input, table-driven: each is answered with a clear message and changes nothing (store and workflow)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.web import create_app
from domain.plan import PlanError, parse_plan
from domain.reference import default_reference

EXAMPLE = yaml.safe_load(Path("examples/lasa-skriva.yaml").read_text())


def changed(**changes) -> dict:
    data = copy.deepcopy(EXAMPLE)
    for dotted, value in changes.items():
        target, *path, last = [data, *dotted.split("__")]
        for part in path:
            target = target[part]
        target[last] = value
    return data


# -- plan files: (case, plan data, field named in the answer) ---------------
PLANS = [
    ("min above places", changed(min_participants=99), "min_participants"),
    ("deadline after first session", changed(registration__deadline="2027-10-01T00:00:00+02:00"),
     "registration.deadline"),
    ("sessions out of order", changed(sessions=list(reversed(EXAMPLE["sessions"]))), "sessions[1].start"),
    ("unknown organisation", changed(invitation={"organisations": ["narnia"]}), "invitation.organisations[0]"),
    ("unknown target group", changed(target_groups=["astronaut"]), "target_groups[0]"),
    ("bad duration", changed(grace_period="soon"), "grace_period"),
    ("negative places", changed(places=-1), "places"),
    ("time without offset", changed(registration__opens="2027-08-16T08:00:00"), "registration.opens"),
    ("digital session without link", changed(sessions=[{**EXAMPLE["sessions"][0], "location": "digital"}]),
     "sessions[0].link"),
    ("unknown location", changed(sessions=[{**EXAMPLE["sessions"][0], "location": "mars"}]), "sessions[0].location"),
    ("bad id", changed(id="Läs Skriv!"), "id"),
    ("bad organiser e-mail", changed(organiser_email="run-at-miun"), "organiser_email"),
    ("unknown field", changed(colour="blue"), "colour"),
    ("no sessions", changed(sessions=[]), "sessions"),
    ("survey reminder after window", changed(surveys={"window": "2d", "reminder_after": "3d"}),
     "surveys.reminder_after"),
]


@pytest.mark.parametrize("data,named", [(d, f) for _, d, f in PLANS], ids=[c for c, _, _ in PLANS])
def test_bad_plan_is_refused_naming_the_field(data, named):
    with pytest.raises(PlanError) as refused:
        parse_plan(data, default_reference())
    assert named in {p.field for p in refused.value.problems}


# -- CLI arguments: exit code 2 and one line ---------------------------------
CLI = [
    ("register: bad e-mail", ["register", "x", "--name", "A", "--email", "nope", "--org", "berg", "--role", "lärare"]),
    ("register: empty name", ["register", "x", "--name", " ", "--email", "a@b.se", "--org", "berg", "--role", "r"]),
    ("register: team size 0", ["register", "x", "--name", "A", "--email", "a@b.se", "--org", "berg", "--role", "r",
                               "--team-size", "0"]),
    ("register: missing --org", ["register", "x", "--name", "A", "--email", "a@b.se", "--role", "r"]),
    ("decide: unknown action", ["decide", "x", "maybe"]),
    ("decide: extend without --until", ["decide", "x", "extend"]),
    ("decide: naive --until", ["decide", "x", "extend", "--until", "2027-01-01T10:00"]),
    ("decide: postpone without --plan", ["decide", "x", "postpone"]),
    ("attendance: session 0", ["attendance", "x", "0", "--present", "a@b.se"]),
    ("list: unknown phase", ["activity", "list", "--phase", "sleeping"]),
    ("plan check: missing file", ["plan", "check", "/no/such/plan.yaml"]),
]


@pytest.mark.parametrize("args", [a for _, a in CLI], ids=[c for c, _ in CLI])
def test_bad_cli_arguments_exit_2_with_one_line(args, monkeypatch, tmp_path):
    monkeypatch.setenv("RUNFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # nothing may be reached: refused before connecting
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and result.stdout == ""


# -- the web: forms, surveys and tokens against a real workflow ---------------
@dataclass
class WebCase:
    name: str
    method: str
    path: str  # {id}, {survey}, {withdraw} are filled in
    data: dict = field(default_factory=dict)
    status: int = 422
    says: str = ""


GOOD = {"name": "Anna A", "email": "anna@skola.test", "organisation": "sundsvall", "role": "lärare"}
WEB = [
    WebCase("form: empty name", "POST", "/a/{id}", {**GOOD, "name": ""}, 422, "Skriv ditt namn."),
    WebCase("form: bad e-mail", "POST", "/a/{id}", {**GOOD, "email": "anna.at.skola"}, 422, "giltig e-postadress"),
    WebCase("form: unknown organisation", "POST", "/a/{id}", {**GOOD, "organisation": "narnia"}, 422,
            "Välj kommun eller organisation"),
    WebCase("form: unknown role", "POST", "/a/{id}", {**GOOD, "role": "pirat"}, 422, "Välj en roll"),
    WebCase("form: too long name", "POST", "/a/{id}", {**GOOD, "name": "x" * 201}, 422, "högst 200 tecken"),
    WebCase("form: team on an individual activity", "POST", "/a/{id}", {**GOOD, "team_members": "A\nB\nC\nD\nE"},
            422, "bara emot enskilda"),
    WebCase("form: nothing at all", "POST", "/a/{id}", {}, 422, "Skriv ditt namn."),
    WebCase("form: too long school", "POST", "/a/{id}", {**GOOD, "school": "s" * 201}, 422, "högst 200 tecken"),
    WebCase("form: already registered", "POST", "/a/{id}", {**GOOD, "email": "first@skola.test"}, 409,
            "redan anmäld"),
    WebCase("form: unknown activity", "POST", "/a/finns-inte", GOOD, 404, "finns inte"),
    WebCase("survey: missing scale", "POST", "/s/{survey}", {"balans": "3", "ny_kunskap": "3"}, 422,
            "Välj ett värde från 1 till 5."),
    WebCase("survey: scale out of range", "POST", "/s/{survey}", {"behov": "9", "balans": "3", "ny_kunskap": "3"},
            422, "värde från 1 till 5"),
    WebCase("survey: text too long", "POST", "/s/{survey}",
            {"behov": "3", "balans": "3", "ny_kunskap": "3", "ta_med": "x" * 2001}, 422, "högst 2000 tecken"),
    WebCase("token: forged survey token", "POST", "/s/forged-token-123", {"behov": "3"}, 404, "ogiltig"),
    WebCase("token: forged withdrawal link", "POST", "/w/{id}-r1.0000000000000000deadbeef", {}, 404, "ogiltig"),
    WebCase("token: unsigned withdrawal link", "GET", "/w/{id}-r1", {}, 404, "ogiltig"),
    WebCase("token: withdrawal link reused", "POST", "/w/{withdrawn}", {}, 409, "ingen aktiv anmälan"),
]


async def snapshot(lab, activity_id: str) -> tuple:
    status = await lab.service.status(activity_id)
    rows = lab.store.registrations(activity_id)
    return (status.confirmed, status.waitlisted, status.withdrawn, status.registrations,
            sorted((r.id, r.status) for r, _ in rows), len(lab.store.survey_answers(activity_id)),
            len(lab.store.outbox(activity_id)))


@pytest.mark.parametrize("case", WEB, ids=[c.name for c in WEB])
async def test_bad_web_input_is_answered_and_changes_nothing(lab, make_plan, case):
    plan = make_plan(await lab.now(), places=3, min_participants=1)
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    web = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(
        lab.store, lab.service, secret_key=lab.settings.secret_key)), base_url="http://web.test")
    await web.post(f"/a/{plan.id}", data={**GOOD, "email": "first@skola.test"})
    await web.post(f"/a/{plan.id}", data={**GOOD, "email": "second@skola.test"})
    withdraw_mail = lab.mails("registration", to="second@skola.test")[0].get_body().get_content()
    withdrawn = re.search(r"/w/(\S+)", withdraw_mail).group(1)
    await web.post(f"/w/{withdrawn}")
    await lab.advance_to(plan.sessions[0].start + timedelta(minutes=1))
    await lab.service.attendance(plan.id, 1, ["first@skola.test"])
    await lab.advance_to(plan.sessions[0].end + timedelta(seconds=5))
    if case.path.startswith("/a/{id}"):  # registration cases need registration open: use a second activity
        plan = make_plan(await lab.now(), places=3, min_participants=1)
        await lab.service.start(plan)
        await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
        await web.post(f"/a/{plan.id}", data={**GOOD, "email": "first@skola.test"})
    [survey] = lab.store.survey_invitations(plan.id, "s1") or [None]
    path = case.path.format(id=plan.id, survey=survey.token if survey else "-", withdrawn=withdrawn)

    before = await snapshot(lab, plan.id)
    answer = await web.request(case.method, path, data=case.data or None)
    assert answer.status_code == case.status, answer.text[:500]
    assert case.says in answer.text
    assert await snapshot(lab, plan.id) == before
    await web.aclose()


def test_the_table_has_at_least_40_bad_inputs():
    assert len(PLANS) + len(CLI) + len(WEB) + len(API) >= 40


# -- the coordinators' HTTP API ----------------------------------------------
TOKEN = {"Authorization": "Bearer s3cret"}
API = [
    WebCase("api: no token", "GET", "/api/activities/{id}", status=401, says="detail"),
    WebCase("api: wrong token", "POST", "/api/activities/{id}/decision", {"action": "cancel"}, 401, "detail"),
    WebCase("api: invalid plan", "POST", "/api/activities", {"id": "x"}, 422, "problems"),
    WebCase("api: unknown phase", "GET", "/api/activities?phase=sleeping", status=422, says="phase"),
    WebCase("api: naive extend time", "POST", "/api/activities/{id}/decision",
            {"action": "extend", "until": "2030-01-01T10:00:00"}, 422, "offset"),
    WebCase("api: decision in the wrong phase", "POST", "/api/activities/{id}/decision", {"action": "run"}, 409,
            "deciding"),
    WebCase("api: attendance for someone not registered", "POST", "/api/activities/{id}/attendance",
            {"session_no": 1, "present": ["nobody@skola.test"]}, 409, "not registered"),
    WebCase("api: report before completion", "GET", "/api/activities/{id}/report.csv", status=404, says="report"),
]


@pytest.mark.parametrize("case", API, ids=[c.name for c in API])
async def test_bad_api_calls_are_answered_and_change_nothing(lab, make_plan, case):
    plan = make_plan(await lab.now(), places=3, min_participants=1)
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    await lab.service.register(plan.id, name="Anna", email="anna@skola.test", organisation="berg", role="lärare")
    app = create_app(lab.store, lab.service, secret_key="k", coordinator_api_token="s3cret")
    headers = {} if case.name == "api: no token" else (
        {"Authorization": "Bearer wrong"} if case.name == "api: wrong token" else TOKEN)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web.test") as api:
        before = await snapshot(lab, plan.id)
        answer = await api.request(case.method, case.path.format(id=plan.id), headers=headers,
                                   json=case.data or None)
        assert answer.status_code == case.status, answer.text[:500]
        assert case.says in answer.text
        assert await snapshot(lab, plan.id) == before
