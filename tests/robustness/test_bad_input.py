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
from fastapi import FastAPI
from typer.testing import CliRunner

from api.coordinator_api import coordinator_router
from api.web import create_app
from domain.plan import PlanError, parse_plan, parse_plan_text
from domain.reference import default_reference
from runflow.cli import app as cli_app
from tests.support.backoffice import csrf_of
from tests.web_client import fetch_token, post_form

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
    (
        "deadline after first session",
        changed(registration__deadline="2027-10-01T00:00:00+02:00"),
        "registration.deadline",
    ),
    ("sessions out of order", changed(sessions=list(reversed(EXAMPLE["sessions"]))), "sessions[1].start"),
    ("unknown organisation", changed(invitation={"organisations": ["narnia"]}), "invitation.organisations[0]"),
    ("unknown target group", changed(target_groups=["astronaut"]), "target_groups[0]"),
    ("bad duration", changed(grace_period="soon"), "grace_period"),
    ("negative places", changed(places=-1), "places"),
    ("time without offset", changed(registration__opens="2027-08-16T08:00:00"), "registration.opens"),
    (
        "digital session without link",
        changed(sessions=[{**EXAMPLE["sessions"][0], "location": "digital"}]),
        "sessions[0].link",
    ),
    ("unknown location", changed(sessions=[{**EXAMPLE["sessions"][0], "location": "mars"}]), "sessions[0].location"),
    ("bad id", changed(id="Läs Skriv!"), "id"),
    ("bad organiser e-mail", changed(organiser_email="run-at-miun"), "organiser_email"),
    ("unknown field", changed(colour="blue"), "colour"),
    ("no sessions", changed(sessions=[]), "sessions"),
    (
        "survey reminder after window",
        changed(surveys={"window": "2d", "reminder_after": "3d"}),
        "surveys.reminder_after",
    ),
    ("CR in the title", changed(title="Läsa\r\nBcc: alla@evil.example"), "title"),
    ("title too long", changed(title="x" * 201), "title"),
    ("focus area too long", changed(focus_area="x" * 101), "focus_area"),
    ("control character in the description", changed(description="rad\x1b[31m"), "description"),
    ("description too long", changed(description="x" * 5001), "description"),
    ("newline in a room", changed(sessions=[{**EXAMPLE["sessions"][0], "room": "O111\nX"}]), "sessions[0].room"),
    (
        "link not http(s)",
        changed(sessions=[{**EXAMPLE["sessions"][2], "link": "javascript:alert(1)"}]),
        "sessions[0].link",
    ),
    ("display name as organiser e-mail", changed(organiser_email='"RUN" <run@miun.se>'), "organiser_email"),
    ("64 KB organiser e-mail", changed(organiser_email="a" * 65536 + "@miun.se"), "organiser_email"),
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
    (
        "register: team size 0",
        ["register", "x", "--name", "A", "--email", "a@b.se", "--org", "berg", "--role", "r", "--team-size", "0"],
    ),
    ("register: missing --org", ["register", "x", "--name", "A", "--email", "a@b.se", "--role", "r"]),
    ("decide: unknown action", ["decide", "x", "maybe"]),
    ("decide: extend without --until", ["decide", "x", "extend"]),
    ("decide: naive --until", ["decide", "x", "extend", "--until", "2027-01-01T10:00"]),
    ("decide: postpone without --plan", ["decide", "x", "postpone"]),
    ("attendance: session 0", ["attendance", "x", "0", "--present", "a@b.se"]),
    ("list: unknown phase", ["activity", "list", "--phase", "sleeping"]),
    ("plan check: missing file", ["plan", "check", "/no/such/plan.yaml"]),
    (
        "register: display name in the e-mail",
        ["register", "x", "--name", "A", "--email", '"A" <a@b.se>', "--org", "berg", "--role", "r"],
    ),
    (
        "register: 64 KB e-mail",
        ["register", "x", "--name", "A", "--email", "a" * 65536 + "@b.se", "--org", "berg", "--role", "r"],
    ),
    ("withdraw: bad e-mail", ["withdraw", "x", "--email", "a@b@c.se"]),
    ("attendance: bad --present e-mail", ["attendance", "x", "1", "--present", "a@b.se", "nope"]),
    ("staff add: unknown role", ["staff", "add", "--email", "a@b.se", "--role", "admin"]),
    ("staff add: display name in the e-mail", ["staff", "add", "--email", '"A" <a@b.se>', "--role", "viewer"]),
    ("staff add: escape in the name", ["staff", "add", "--email", "a@b.se", "--role", "viewer", "--name", "A\x1b[2J"]),
    ("staff link: 64 KB e-mail", ["staff", "link", "--email", "a" * 65536 + "@b.se"]),
    ("staff token: empty label", ["staff", "token", "--email", "a@b.se", "--label", ""]),
    ("staff token: 64 KB label", ["staff", "token", "--email", "a@b.se", "--label", "x" * 65536]),
]


@pytest.mark.parametrize("args", [a for _, a in CLI], ids=[c for c, _ in CLI])
def test_bad_cli_arguments_exit_2_with_one_line(args, monkeypatch, tmp_path):
    monkeypatch.setenv("RUNFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # nothing may be reached: refused before connecting
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and result.stdout == ""


# -- plan texts: hostile YAML and JSON are measured before they are built -----
def laughs() -> str:
    """About 50 KB: 9,000 aliases to a list of 100 values, 900,000 values expanded."""
    return "l0: &l0 [" + ", ".join(["lol"] * 100) + "]\nl1: [" + ", ".join(["*l0"] * 9_000) + "]\n"


TEXTS = [  # (case, content type, text, field named, what the one line says)
    ("deep YAML", "application/yaml", "title: " + "[" * 20_000 + "]" * 20_000, "plan", "nested deeper than 20"),
    ("YAML aliases, 50 KB", "application/yaml", laughs(), "plan", "more than 10000 values"),
    ("YAML alias cycle", "application/yaml", "&a [x, *a]", "plan", "cycle"),
    ("YAML over 256 KiB", "application/yaml", "# " + "x" * 300_000, "plan", "larger than 256 KiB"),
    (
        "YAML: CR in the title",
        "application/yaml",
        yaml.safe_dump({**EXAMPLE, "title": "Läsa\r\nBcc: alla@evil.example"}, allow_unicode=True),
        "title",
        "control characters",
    ),
    ("YAML: 5000-digit number", "application/yaml", "places: " + "9" * 5000, "plan", "not valid YAML"),
    ("YAML: impossible date", "application/yaml", "registration: {opens: 2027-13-01}", "plan", "not valid YAML"),
    ("deep JSON, 40 KB", "application/json", "[" * 20_000 + "]" * 20_000, "plan", "nested deeper than 20"),
    (
        "JSON with 20,000 values",
        "application/json",
        "[" + ",".join(["0"] * 20_000) + "]",
        "plan",
        "more than 10000 values",
    ),
]


@pytest.mark.parametrize("content_type,text,named,says", [c[1:] for c in TEXTS], ids=[c[0] for c in TEXTS])
async def test_hostile_plan_text_is_one_line_everywhere(content_type, text, named, says, tmp_path):
    with pytest.raises(PlanError) as refused:
        parse_plan_text(text, default_reference())
    assert [p.field for p in refused.value.problems] == [named] and says in str(refused.value)
    assert len(str(refused.value)) < 300  # never the text itself

    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli_app, ["plan", "check", str(path)])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and says in lines[0] and len(lines[0]) < 400, result.output

    app = FastAPI()
    app.include_router(coordinator_router(None, None, "s3cret"), prefix="/api")  # refused before service or store
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test") as api:
        answer = await api.post(
            "/api/activities", content=text.encode(), headers={**TOKEN, "Content-Type": content_type}
        )
    assert answer.status_code == 422 and len(answer.text) < 400, answer.text[:500]
    [problem] = answer.json()["detail"]["problems"]
    assert problem["field"] == named and says in problem["message"]


@pytest.mark.parametrize(
    "path,body",
    [
        ("/api/activities/x/decision", '{"action": "postpone", "plan": ' + "[" * 20_000 + "]" * 20_000 + "}"),
        ("/api/activities/x/attendance", '{"session_no": 1, "present": ' + "[" * 20_000 + "]" * 20_000 + "}"),
        ("/api/activities/x/attendance", '{"session_no": 1, "present": ["' + "a" * 300_000 + '"]}'),
    ],
)
async def test_hostile_json_bodies_are_422_after_the_token_check(path, body):
    app = FastAPI()
    app.include_router(coordinator_router(None, None, "s3cret"), prefix="/api")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test") as api:
        answer = await api.post(path, content=body, headers={**TOKEN, "Content-Type": "application/json"})
        stranger = await api.post(path, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and answer.json()["detail"].startswith("the request body is ")
    assert stranger.status_code == 401


# -- the web: forms, surveys and tokens against a real workflow ---------------
@dataclass
class WebCase:
    name: str
    method: str
    path: str  # {id}, {survey}, {withdraw} are filled in
    data: dict = field(default_factory=dict)
    status: int = 422
    says: str = ""
    csrf: str = "good"  # web POSTs: the form's token ("good"), none at all ("none") or a made-up one ("wrong")
    headers: dict = field(default_factory=dict)


GOOD = {"name": "Anna A", "email": "anna@skola.test", "organisation": "sundsvall", "role": "lärare"}
WEB = [
    WebCase("form: empty name", "POST", "/a/{id}", {**GOOD, "name": ""}, 422, "Skriv ditt namn."),
    WebCase("form: bad e-mail", "POST", "/a/{id}", {**GOOD, "email": "anna.at.skola"}, 422, "giltig e-postadress"),
    WebCase(
        "form: unknown organisation",
        "POST",
        "/a/{id}",
        {**GOOD, "organisation": "narnia"},
        422,
        "Välj kommun eller organisation",
    ),
    WebCase("form: unknown role", "POST", "/a/{id}", {**GOOD, "role": "pirat"}, 422, "Välj en roll"),
    WebCase("form: too long name", "POST", "/a/{id}", {**GOOD, "name": "x" * 201}, 422, "högst 200 tecken"),
    WebCase(
        "form: team on an individual activity",
        "POST",
        "/a/{id}",
        {**GOOD, "team_members": "A\nB\nC\nD\nE"},
        422,
        "bara emot enskilda",
    ),
    WebCase("form: nothing at all", "POST", "/a/{id}", {}, 422, "Skriv ditt namn."),
    WebCase("form: too long school", "POST", "/a/{id}", {**GOOD, "school": "s" * 201}, 422, "högst 200 tecken"),
    WebCase("form: already registered", "POST", "/a/{id}", {**GOOD, "email": "first@skola.test"}, 409, "redan anmäld"),
    WebCase("form: unknown activity", "POST", "/a/finns-inte", GOOD, 404, "finns inte"),
    WebCase(
        "survey: missing scale",
        "POST",
        "/s/{survey}",
        {"balans": "3", "ny_kunskap": "3"},
        422,
        "Välj ett värde från 1 till 5.",
    ),
    WebCase(
        "survey: scale out of range",
        "POST",
        "/s/{survey}",
        {"behov": "9", "balans": "3", "ny_kunskap": "3"},
        422,
        "värde från 1 till 5",
    ),
    WebCase(
        "survey: text too long",
        "POST",
        "/s/{survey}",
        {"behov": "3", "balans": "3", "ny_kunskap": "3", "ta_med": "x" * 2001},
        422,
        "högst 2000 tecken",
    ),
    WebCase("token: forged survey token", "POST", "/s/forged-token-123", {"behov": "3"}, 404, "ogiltig"),
    WebCase("token: forged withdrawal link", "POST", "/w/{id}-r1.0000000000000000deadbeef", {}, 404, "ogiltig"),
    WebCase("token: unsigned withdrawal link", "GET", "/w/{id}-r1", {}, 404, "ogiltig"),
    WebCase("token: withdrawal link reused", "POST", "/w/{withdrawn}", {}, 409, "ingen aktiv anmälan"),
    WebCase(
        "form: display name in the e-mail",
        "POST",
        "/a/{id}",
        {**GOOD, "email": '"a" <x@y.se>'},
        422,
        "giltig e-postadress",
    ),
    WebCase(
        "form: list of e-mail addresses",
        "POST",
        "/a/{id}",
        {**GOOD, "email": "a,b@evil.example"},
        422,
        "giltig e-postadress",
    ),
    WebCase("form: 64 KB e-mail", "POST", "/a/{id}", {**GOOD, "email": "a" * 64000 + "@x.se"}, 422, "högst 254 tecken"),
    WebCase(
        "form: too long organisation",
        "POST",
        "/a/{id}",
        {**GOOD, "organisation": "o" * 101},
        422,
        "Välj kommun eller organisation",
    ),
    WebCase(
        "form: too long team list",
        "POST",
        "/a/{id}",
        {**GOOD, "team_members": "Lärare\n" * 800},
        422,
        "högst 5000 tecken",
    ),
    WebCase("form: body over 64 KiB", "POST", "/a/{id}", {**GOOD, "name": "x" * 70000}, 413, "för stort"),
    WebCase("form: no CSRF token", "POST", "/a/{id}", GOOD, 403, "Formuläret har gått ut", csrf="none"),
    WebCase("form: wrong CSRF token", "POST", "/a/{id}", GOOD, 403, "Formuläret har gått ut", csrf="wrong"),
    WebCase(
        "form: posted from another site",
        "POST",
        "/a/{id}",
        GOOD,
        403,
        "Formuläret har gått ut",
        headers={"Origin": "https://evil.example"},
    ),
    WebCase(
        "survey: no CSRF token",
        "POST",
        "/s/{survey}",
        {"behov": "3", "balans": "3", "ny_kunskap": "3"},
        403,
        "Formuläret har gått ut",
        csrf="none",
    ),
    WebCase("survey: body over 64 KiB", "POST", "/s/{survey}", {"behov": "3", "ovrigt": "x" * 70000}, 413, "för stort"),
    WebCase("withdrawal: no CSRF token", "POST", "/w/{withdrawable}", {}, 403, "Formuläret har gått ut", csrf="none"),
    WebCase(
        "form: empty label in the e-mail",
        "POST",
        "/a/{id}",
        {**GOOD, "email": "name@skola..se"},
        422,
        "giltig e-postadress",
    ),
    WebCase("form: NUL in the name", "POST", "/a/{id}", {**GOOD, "name": "Anna\x00Berg"}, 422, "otillåtet tecken"),
    WebCase(
        "form: escape in the school", "POST", "/a/{id}", {**GOOD, "school": "Skola\x1b[31m"}, 422, "otillåtet tecken"
    ),
    WebCase(
        "survey: NUL in a free text",
        "POST",
        "/s/{survey}",
        {"behov": "3", "balans": "3", "ny_kunskap": "3", "ta_med": "bra\x00"},
        422,
        "otillåtet tecken",
    ),
]


async def snapshot(lab, activity_id: str) -> tuple:
    await lab.recorded()  # registrations are answered first and recorded after: compare what is in the store
    status = await lab.service.status(activity_id)
    rows = lab.store.registrations(activity_id)
    return (
        status.confirmed,
        status.waitlisted,
        status.withdrawn,
        status.registrations,
        sorted((r.id, r.status) for r, _ in rows),
        len(lab.store.survey_answers(activity_id)),
        len(lab.store.outbox(activity_id)),
    )


@pytest.mark.parametrize("case", WEB, ids=[c.name for c in WEB])
async def test_bad_web_input_is_answered_and_changes_nothing(lab, make_plan, case):
    plan = make_plan(await lab.now(), places=3, min_participants=1)
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    web = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(lab.store, lab.service, secret_key=lab.settings.secret_key)),
        base_url="http://web.test",
    )
    await post_form(web, f"/a/{plan.id}", {**GOOD, "email": "first@skola.test"})
    await post_form(web, f"/a/{plan.id}", {**GOOD, "email": "second@skola.test"})
    await lab.recorded()  # the confirmations (with their withdrawal links) follow the answers
    withdraw_mail = lab.mails("registration", to="second@skola.test")[0].get_body().get_content()
    withdrawn = re.search(r"/w/(\S+)", withdraw_mail).group(1)
    withdrawable = re.search(
        r"/w/(\S+)", lab.mails("registration", to="first@skola.test")[0].get_body().get_content()
    ).group(1)
    await post_form(web, f"/w/{withdrawn}")
    await lab.advance_to(plan.sessions[0].start + timedelta(minutes=1))
    await lab.service.attendance(plan.id, 1, ["first@skola.test"])
    await lab.advance_to(plan.sessions[0].end + timedelta(seconds=5))
    if case.path.startswith("/a/{id}"):  # registration cases need registration open: use a second activity
        plan = make_plan(await lab.now(), places=3, min_participants=1)
        await lab.service.start(plan)
        await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
        await post_form(web, f"/a/{plan.id}", {**GOOD, "email": "first@skola.test"})
    [survey] = lab.store.survey_invitations(plan.id, "s1") or [None]
    path = case.path.format(
        id=plan.id, survey=survey.token if survey else "-", withdrawn=withdrawn, withdrawable=withdrawable
    )
    data = dict(case.data)
    if case.method == "POST" and case.csrf != "none":  # the client has the cookie: a token from any form page works
        data["csrf_token"] = await fetch_token(web, f"/w/{withdrawable}") if case.csrf == "good" else "0" * 64

    before = await snapshot(lab, plan.id)
    answer = await web.request(case.method, path, data=data or None, headers=case.headers or None)
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
    WebCase(
        "api: naive extend time",
        "POST",
        "/api/activities/{id}/decision",
        {"action": "extend", "until": "2030-01-01T10:00:00"},
        422,
        "offset",
    ),
    WebCase(
        "api: decision in the wrong phase", "POST", "/api/activities/{id}/decision", {"action": "run"}, 409, "deciding"
    ),
    WebCase(
        "api: attendance for someone not registered",
        "POST",
        "/api/activities/{id}/attendance",
        {"session_no": 1, "present": ["nobody@skola.test"]},
        409,
        "not registered",
    ),
    WebCase("api: report before completion", "GET", "/api/activities/{id}/report.csv", status=404, says="report"),
    WebCase("api: body over 1 MiB", "POST", "/api/activities", {"id": "x" * (1024 * 1024)}, 413, "larger than"),
]


@pytest.mark.parametrize("case", API, ids=[c.name for c in API])
async def test_bad_api_calls_are_answered_and_change_nothing(lab, make_plan, case):
    plan = make_plan(await lab.now(), places=3, min_participants=1)
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    await lab.service.register(plan.id, name="Anna", email="anna@skola.test", organisation="berg", role="lärare")
    app = create_app(lab.store, lab.service, secret_key="k", coordinator_api_token="s3cret")
    headers = (
        {}
        if case.name == "api: no token"
        else ({"Authorization": "Bearer wrong"} if case.name == "api: wrong token" else TOKEN)
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web.test") as api:
        before = await snapshot(lab, plan.id)
        answer = await api.request(case.method, case.path.format(id=plan.id), headers=headers, json=case.data or None)
        assert answer.status_code == case.status, answer.text[:500]
        assert case.says in answer.text
        assert await snapshot(lab, plan.id) == before


# -- the back-office: every form, signed in as a coordinator, against a real workflow -------------------------------
# (case, the page whose form is posted, the form's action, fields changed from what the page holds, status, says)
BACKOFFICE = [
    ("plan form: empty title", "{round}", "/admin/activities/new", {"title": ""}, 422, "Aktivitetens namn"),
    (
        "plan form: 10,000-character title",
        "{round}",
        "/admin/activities/new",
        {"title": "x" * 10_000},
        422,
        "Högst 200 tecken",
    ),
    ("plan form: escape in the title", "{round}", "/admin/activities/new", {"title": "Kurs\x1b[31m"}, 422, "tecken"),
    ("plan form: minimum above places", "{round}", "/admin/activities/new", {"min_participants": "99"}, 422, "Minsta"),
    ("plan form: malformed date", "{round}", "/admin/activities/new", {"registration_deadline": "31/12"}, 422, "ÅÅÅÅ"),
    (
        "plan form: date that does not exist",
        "{round}",
        "/admin/activities/new",
        {"sessions-0-start": "2031-02-30T10:00"},
        422,
        "finns inte",
    ),
    ("plan form: unknown focus area", "{round}", "/admin/activities/new", {"focus_area": "flyga"}, 422, "Insatsområde"),
    (
        "plan form: link that is not http",
        "{round}",
        "/admin/activities/new",
        {"sessions-0-link": "javascript:alert(1)"},
        422,
        "Länk",
    ),
    (
        "plan form: duration in no known unit",
        "{round}",
        "/admin/activities/new",
        {"grace_period": "en stund"},
        422,
        "Tid för beslut",
    ),
    ("plan form: the id of a started activity", "{round}", "/admin/activities/new", {"id": "{id}"}, 422, "Kortnamn"),
    (
        "plan form: no CSRF token",
        "{round}",
        "/admin/activities/new",
        {"csrf_token": None},
        403,
        "Formuläret har gått ut",
    ),
    (
        "extend: malformed deadline",
        "/admin/activities/{id}/decide/extend",
        "/admin/activities/{id}/decide/extend",
        {"deadline": "imorgon"},
        422,
        "ÅÅÅÅ-MM-DD",
    ),
    (
        "extend: deadline after the first session",
        "/admin/activities/{id}/decide/extend",
        "/admin/activities/{id}/decide/extend",
        {"deadline": "2099-01-01T10:00"},
        409,
        "efter att första träffen",
    ),
    (
        "decision: NUL in the reason",
        "/admin/activities/{id}/decide/cancel",
        "/admin/activities/{id}/decide/cancel",
        {"reason": "för få\x00"},
        422,
        "otillåtet tecken",
    ),
    (
        "decision: 5,000-character reason",
        "/admin/activities/{id}/decide/cancel",
        "/admin/activities/{id}/decide/cancel",
        {"reason": "x" * 5000},
        422,
        "högst 1000 tecken",
    ),
    (
        "decision: an action that does not exist",
        "/admin/activities/{id}/decide/cancel",
        "/admin/activities/{id}/decide/explode",
        {},
        404,
        "Finns inte",
    ),
    (
        "attendance: not a participant id",
        "/admin/activities/{id}",
        "/admin/activities/{id}/attendance/1",
        {"present": "1 OR 1=1"},
        422,
        "närvarolista",
    ),
    (
        "message: unknown segment",
        "/admin/activities/{id}/message",
        "/admin/activities/{id}/message",
        {"segment": "alla", "subject": "Hej", "body": "Text"},
        422,
        "Välj",
    ),
    (
        "message: subject on two lines",
        "/admin/activities/{id}/message",
        "/admin/activities/{id}/message/send",
        {"segment": "confirmed", "subject": "a\nb", "body": "Text"},
        422,
        "otillåtet tecken",
    ),
    (
        "message: empty body",
        "/admin/activities/{id}/message",
        "/admin/activities/{id}/message/send",
        {"segment": "confirmed", "subject": "Hej", "body": " "},
        422,
        "Skriv ett meddelande.",
    ),
    (
        "contact: bad e-mail",
        "/admin/contacts",
        "/admin/contacts",
        {"organisation": "sundsvall", "name": "Pia", "email": "pia.at.skola"},
        422,
        "e-postadress",
    ),
    (
        "contact: unknown organisation",
        "/admin/contacts",
        "/admin/contacts",
        {"organisation": "narnia", "name": "Pia", "email": "pia@skola.test"},
        422,
        "organisation",
    ),
    (
        "contact: NUL in the name",
        "/admin/contacts",
        "/admin/contacts",
        {"organisation": "sundsvall", "name": "Pia\x00", "email": "pia@skola.test"},
        422,
        "tecken",
    ),
    ("token: empty label", "/admin/tokens", "/admin/tokens", {"label": ""}, 422, "Ge nyckeln ett namn"),
    (
        "sign-in link: not an address",
        "/admin/tokens",
        "/admin/signin",
        {"email": "kerstin"},
        422,
        "giltig e-postadress",
    ),
    # Recurring rounds: a schedule's note goes to Temporal as plain text (checked before Temporal is asked).
    (
        "schedule: e-mail address in the note",
        "/admin/tokens",
        "/admin/schedules/rounds-{id}/pause",
        {"note": "fråga pia@skola.test"},
        422,
        "e-postadress",
    ),
    (
        "schedule: 10,000-character note",
        "/admin/tokens",
        "/admin/schedules/rounds-{id}/pause",
        {"note": "x" * 10_000},
        422,
        "högst 200 tecken",
    ),
    (
        "schedule: escape in the note",
        "/admin/tokens",
        "/admin/schedules/rounds-{id}/resume",
        {"note": "Paus\x1b[31m"},
        422,
        "på en rad",
    ),
    ("schedule: not a schedule", "/admin/tokens", "/admin/schedules/{id}/pause", {}, 404, "inget sådant schema"),
    (
        "schedule: no CSRF token",
        "/admin/tokens",
        "/admin/schedules/rounds-{id}/pause",
        {"csrf_token": None},
        403,
        "Formuläret har gått ut",
    ),
    (
        "plan form: malformed action plan line",
        "{round}",
        "/admin/activities/new",
        {"action_plan_line": "Rad 1; DROP TABLE"},
        422,
        "Rad i handlingsplanen",
    ),
    (
        "year: cost with an amount that is not one",
        "/admin/year/2031/ekonomi",
        "/admin/year/2031/costs",
        {"amount": "1 OR 1=1", "date": "2031-01-01", "category": "lokal", "target": "aktivitet:{id}"},
        422,
        "Skriv ett belopp i kronor",
    ),
    (
        "year: cost on a line of no plan",
        "/admin/year/2031/ekonomi",
        "/admin/year/2031/costs",
        {"amount": "100", "date": "2031-01-01", "category": "lokal", "target": "rad:../../etc"},
        422,
        "Välj en rad i handlingsplanen",
    ),
    (
        "year: cost without a CSRF token",
        "/admin/year/2031/ekonomi",
        "/admin/year/2031/costs",
        {"csrf_token": None, "amount": "100", "date": "2031-01-01", "category": "lokal"},
        403,
        "Formuläret har gått ut",
    ),
    (
        "year: a line of no plan",
        "/admin/year/2031",
        "/admin/year/2031/lines/x/edit",
        {"budget": "1"},
        404,
        "Raden finns inte",
    ),
]


def _filled(text: str, ids: dict[str, str]) -> str:
    for key, value in ids.items():
        text = text.replace("{" + key + "}", value)
    return text


async def backoffice_snapshot(lab, plan_id: str) -> tuple:
    await lab.recorded()  # the registration's row and e-mail follow its answer
    status = await lab.service.status(plan_id)
    return (
        status.phase,
        status.deadline,
        len(status.decisions),
        sorted(a.id for a in lab.store.activities()),
        len(lab.store.audit_log(plan_id)),
        len(lab.store.audit_log("")),
        len(lab.store.messages(plan_id)),
        len(lab.store.attendance(plan_id)),
        len(lab.store.contact_list()),
        len(lab.store.outbox(plan_id)),
    )


@pytest.mark.parametrize("case", BACKOFFICE, ids=[c[0] for c in BACKOFFICE])
async def test_bad_back_office_input_is_answered_and_changes_nothing(lab, make_plan, case):
    from api.backoffice import BackOfficeConfig
    from tests.support.backoffice import form_fields, sign_in_async

    name, page_path, action, changes, status, says = case
    plan = make_plan(await lab.now(), places=3, min_participants=1)
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    await lab.service.register(plan.id, name="Anna A", email="first@skola.test", organisation="are", role="lärare")
    ids = {"id": plan.id, "round": f"/admin/activities/{plan.id}/new-round?veckor=52"}
    app = create_app(lab.store, lab.service, secret_key=lab.settings.secret_key, backoffice=BackOfficeConfig())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://office.test") as office:
        await sign_in_async(office, lab.store, "kerstin@miun.se")
        page_path = _filled(page_path, ids)
        page = await office.get(page_path)
        assert page.status_code == 200, page.text[:500]
        form_action = _filled(action, ids)
        data = form_fields(page.text, form_action.replace("/send", "")) if "new-round" in page_path else {}
        data["csrf_token"] = csrf_of(page.text)
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = _filled(value, ids)
        data.pop("action", None)
        before = await backoffice_snapshot(lab, plan.id)
        answer = await office.post(form_action, data={**data, "action": "save"} if "new-round" in page_path else data)
        assert answer.status_code == status, answer.text[-1500:]
        assert says in answer.text, answer.text[-1500:]
        assert await backoffice_snapshot(lab, plan.id) == before
