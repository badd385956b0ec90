"""The coordinators' HTTP API, on the time-skipping server through the same Service the CLI uses.

The client is `httpx.AsyncClient` over `ASGITransport`, so requests run on the test's event loop,
the one the Temporal client lives on (TestClient would run the app on a loop of its own).
The time-skipping server has no visibility (ListWorkflowExecutions is unimplemented), so the
list endpoint is tested with a fake service, and against the real server for its 503.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import httpx
import pytest
import yaml
from fastapi import FastAPI

from api.coordinator_api import coordinator_router
from api.directory import Directory

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ORGS = ["sundsvall", "ostersund", "are"]


def make_client(service, store, token: str | None = TOKEN, headers: dict | None = None) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(coordinator_router(service, Directory(store), token), prefix="/api")
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", headers=AUTH if headers is None else headers
    )


@pytest.fixture
async def api(lab):
    async with make_client(lab.service, lab.store) as client:
        yield client


class FakeService:
    """Stands in for Service.list, which needs Temporal visibility."""

    def __init__(self) -> None:
        self.phases: list[str | None] = []

    async def list(self, phase: str | None = None) -> list[dict]:
        self.phases.append(phase)
        return [
            {
                "id": "lasa-skriva-ht27",
                "workflow_id": "activity-lasa-skriva-ht27",
                "status": "running",
                "phase": phase or "open",
                "confirmed": 4,
                "focus_area": "utveckla",
                "first_session_start": "2027-09-23T07:00:00+00:00",
            }
        ]


def plan_json(plan) -> dict:
    return plan.model_dump(mode="json")


def plan_yaml(plan) -> str:
    return yaml.safe_dump(plan_json(plan), allow_unicode=True, sort_keys=False)


async def register(lab, plan, n: int) -> None:
    for i in range(n):
        await lab.service.register(
            plan.id, name=f"Person {i}", email=f"p{i}@skola.test", organisation=ORGS[i % 3], role="lärare"
        )


async def start_open(api, lab, plan) -> None:
    response = await api.post("/api/activities", json=plan_json(plan))
    assert response.status_code == 201, response.text
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))


def problem_fields(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    return {p["field"] for p in response.json()["detail"]["problems"]}


# -- token ---------------------------------------------------------------
@pytest.mark.parametrize(
    "headers, reason",
    [
        ({}, "bearer token is required"),
        ({"Authorization": "Basic czNjcmV0"}, "bearer token is required"),
        ({"Authorization": "Bearer nope"}, "wrong bearer token"),
    ],
)
async def test_missing_or_wrong_token_is_401(store, headers, reason):
    async with make_client(FakeService(), store, headers=headers) as client:
        for method, url in (
            ("GET", "/api/activities"),
            ("GET", "/api/activities/x"),
            ("POST", "/api/activities"),
            ("GET", "/api/activities/x/report.png"),
        ):
            response = await client.request(method, url)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            assert reason in response.json()["detail"]


async def test_without_a_configured_token_only_personal_tokens_are_taken(store):
    async with make_client(FakeService(), store, token=None) as client:
        response = await client.get("/api/activities")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "RUNFLOW_API_TOKEN is not set" in response.json()["detail"]


# -- list ----------------------------------------------------------------
async def test_list_uses_visibility_and_filters_by_phase(store):
    service = FakeService()
    async with make_client(service, store) as client:
        everything = await client.get("/api/activities")
        open_ = await client.get("/api/activities", params={"phase": "open"})
        unknown = await client.get("/api/activities", params={"phase": "ajar"})
    assert everything.status_code == 200 and open_.status_code == 200
    assert everything.json()["activities"][0]["id"] == "lasa-skriva-ht27"
    assert open_.json() == {
        "activities": [
            {
                "id": "lasa-skriva-ht27",
                "workflow_id": "activity-lasa-skriva-ht27",
                "status": "running",
                "phase": "open",
                "confirmed": 4,
                "focus_area": "utveckla",
                "first_session_start": "2027-09-23T07:00:00+00:00",
            }
        ]
    }
    assert service.phases == [None, "open"]  # the unknown phase never reached the service
    assert unknown.status_code == 422
    assert "unknown phase 'ajar'" in unknown.json()["detail"] and "deciding" in unknown.json()["detail"]


async def test_list_without_visibility_is_503(api):
    response = await api.get("/api/activities", params={"phase": "open"})
    assert response.status_code == 503
    assert "ListWorkflowExecutions" in response.json()["detail"]


# -- OpenAPI -------------------------------------------------------------
async def test_openapi_documents_the_paths_models_and_token(store):
    app = FastAPI()
    app.include_router(coordinator_router(FakeService(), Directory(store), TOKEN), prefix="/api")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    assert {
        "/api/activities",
        "/api/activities/{activity_id}",
        "/api/activities/{activity_id}/decision",
        "/api/activities/{activity_id}/attendance",
        "/api/activities/{activity_id}/report",
        "/api/activities/{activity_id}/report.md",
        "/api/activities/{activity_id}/report.csv",
        "/api/activities/{activity_id}/report.png",
        "/api/activities/{activity_id}/participants",
        "/api/activities/{activity_id}/undeliverable",
    } <= set(paths)
    assert set(paths["/api/activities"]) == {"get", "post"}
    assert all(op["tags"] == ["coordinator"] for path in paths.values() for op in path.values())
    assert {
        "ActivityOverview",
        "ParticipantOut",
        "ActivityList",
        "Started",
        "DecisionIn",
        "DecisionOut",
        "AttendanceIn",
        "AttendanceOut",
        "ReportSummary",
        "ErrorOut",
        "ProblemsDetail",
    } <= set(spec["components"]["schemas"])
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    start = paths["/api/activities"]["post"]
    assert {"application/json", "application/yaml"} <= set(start["requestBody"]["content"])
    assert {"201", "401", "409", "422"} <= set(start["responses"])
    assert "image/png" in paths["/api/activities/{activity_id}/report.png"]["get"]["responses"]["200"]["content"]


# -- unknown activity ----------------------------------------------------
async def test_unknown_activity_is_404_everywhere(api):
    requests = [
        ("GET", "/api/activities/nope-nope", None),
        ("POST", "/api/activities/nope-nope/decision", {"action": "run"}),
        ("POST", "/api/activities/nope-nope/attendance", {"session_no": 1, "present": ["a@skola.test"]}),
        ("GET", "/api/activities/nope-nope/report", None),
        ("GET", "/api/activities/nope-nope/report.md", None),
        ("GET", "/api/activities/nope-nope/report.csv", None),
        ("GET", "/api/activities/nope-nope/report.png", None),
        ("GET", "/api/activities/nope-nope/undeliverable", None),
        ("GET", "/api/activities/nope-nope/participants", None),
    ]
    for method, url, body in requests:
        response = await api.request(method, url, json=body)
        assert response.status_code == 404, (url, response.text)
        assert response.json() == {"detail": "no activity 'nope-nope'"}


# -- start ---------------------------------------------------------------
async def test_start_from_yaml_then_status_shows_planned_and_open(api, lab, make_plan):
    plan = make_plan(await lab.now())
    response = await api.post(
        "/api/activities", content=plan_yaml(plan).encode(), headers={"Content-Type": "application/yaml"}
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"id": plan.id, "workflow_id": f"activity-{plan.id}", "phase": "planned"}

    status = await api.get(f"/api/activities/{plan.id}")
    assert status.status_code == 200
    assert status.json()["phase"] == "planned" and status.json()["title"] == plan.title
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    status = (await api.get(f"/api/activities/{plan.id}")).json()
    assert status["phase"] == "open" and status["capacity"] == plan.places and status["confirmed"] == 0
    assert [s["no"] for s in status["sessions"]] == [1, 2]

    again = await api.post("/api/activities", content=plan_yaml(plan), headers={"Content-Type": "text/yaml"})
    assert again.status_code == 409
    assert again.json()["detail"] == f"activity {plan.id!r} has already been started"


async def test_start_from_json_and_duplicate_is_409(api, lab, make_plan):
    plan = make_plan(await lab.now())
    response = await api.post("/api/activities", json=plan_json(plan))
    assert response.status_code == 201, response.text
    assert response.json()["id"] == plan.id
    assert (await api.get(f"/api/activities/{plan.id}")).json()["phase"] == "planned"
    again = await api.post("/api/activities", json=plan_json(plan))
    assert again.status_code == 409 and "already been started" in again.json()["detail"]


async def test_a_line_the_years_action_plan_lacks_is_422_and_nothing_is_started(api, lab, make_plan):
    from pathlib import Path

    from domain.action_plan import parse_action_plan_yaml
    from domain.plan import plan_year

    plan = make_plan(await lab.now())
    year = plan_year(plan)
    example = (Path(__file__).resolve().parents[2] / "examples" / "handlingsplan-2020.yaml").read_text("utf-8")
    lab.store.save_action_plan(
        parse_action_plan_yaml(example.replace("year: 2020", f"year: {year}").replace("2020–2022", f"{year}–")), ""
    )
    wrong = plan.model_copy(update={"action_plan_line": "finns-inte"})
    response = await api.post("/api/activities", json=plan_json(wrong))
    assert response.status_code == 422 and "finns-inte" in response.json()["detail"]
    assert (await api.get(f"/api/activities/{plan.id}")).status_code == 404  # neither saved nor started
    right = plan.model_copy(update={"action_plan_line": "likvardighet-leda-likvardig-skola"})
    assert (await api.post("/api/activities", json=plan_json(right))).status_code == 201
    assert lab.store.activity_lines(year)[plan.id] == "likvardighet-leda-likvardig-skola"


async def test_invalid_plans_are_422_with_problems_by_field(api, lab, make_plan):
    plan = plan_json(make_plan(await lab.now()))
    bad = {**plan, "places": 1, "min_participants": 2, "target_groups": ["astronauter"], "surprise": 1}
    assert problem_fields(await api.post("/api/activities", json=bad)) >= {
        "min_participants",
        "target_groups[0]",
        "surprise",
    }

    bad_yaml = plan_yaml(make_plan(await lab.now())).replace("format: course", "format: karaoke")
    response = await api.post("/api/activities", content=bad_yaml, headers={"Content-Type": "application/yaml"})
    assert problem_fields(response) == {"format"}

    broken = await api.post("/api/activities", content="id: [unclosed", headers={"Content-Type": "text/yaml"})
    assert problem_fields(broken) == {"plan"}
    assert "not valid YAML" in broken.json()["detail"]["problems"][0]["message"]

    not_json = await api.post("/api/activities", content="{nope", headers={"Content-Type": "application/json"})
    assert problem_fields(not_json) == {"plan"}
    not_a_mapping = await api.post("/api/activities", json=["a", "list"])
    assert problem_fields(not_a_mapping) == {"plan"}

    other = await api.post("/api/activities", content="x", headers={"Content-Type": "text/plain"})
    assert other.status_code == 415
    assert lab.store.activity(plan["id"]) is None  # nothing was stored or started


# -- decision ------------------------------------------------------------
async def test_decision_input_is_checked_before_the_workflow(api, lab, make_plan):
    plan = make_plan(await lab.now())
    await start_open(api, lab, plan)
    url = f"/api/activities/{plan.id}/decision"
    cases = [
        ({"action": "extend"}, "extend needs 'until'"),
        ({"action": "extend", "until": "2030-01-01T12:00:00"}, "needs a timezone offset"),
        ({"action": "run", "until": "2030-01-01T12:00:00+01:00"}, "'until' only goes with extend"),
        ({"action": "postpone"}, "postpone needs 'plan'"),
        ({"action": "cancel", "plan": plan_json(plan)}, "'plan' only goes with postpone"),
        ({"action": "postpone", "plan": {**plan_json(plan), "id": "some-other-id"}}, "the plan is for"),
    ]
    for body, reason in cases:
        response = await api.post(url, json=body)
        assert response.status_code == 422, (body, response.text)
        assert reason in response.json()["detail"]

    invalid = await api.post(url, json={"action": "postpone", "plan": {**plan_json(plan), "places": 0}})
    assert problem_fields(invalid) == {"places"}
    unknown_action = await api.post(url, json={"action": "panic"})
    assert unknown_action.status_code == 422  # pydantic's own detail, naming `action`
    assert unknown_action.json()["detail"][0]["loc"] == ["body", "action"]
    assert lab.store.plan(plan.id).places == plan.places  # no new plan version was stored


async def test_decision_refused_in_the_wrong_phase_then_extend_in_deciding(api, lab, make_plan):
    plan = make_plan(await lab.now())
    await start_open(api, lab, plan)
    url = f"/api/activities/{plan.id}/decision"
    refused = await api.post(url, json={"action": "run"})
    assert refused.status_code == 409
    assert "only possible while the activity is deciding" in refused.json()["detail"]

    await register(lab, plan, 1)  # below the minimum of 2
    await lab.advance_to(plan.registration.deadline + timedelta(seconds=1))
    assert (await api.get(f"/api/activities/{plan.id}")).json()["phase"] == "deciding"
    too_late = await api.post(
        url, json={"action": "extend", "until": (plan.sessions[0].start + timedelta(hours=1)).isoformat()}
    )
    assert too_late.status_code == 409 and "after the first session" in too_late.json()["detail"]

    until = plan.registration.deadline + timedelta(days=2)
    response = await api.post(url, json={"action": "extend", "until": until.isoformat()})
    assert response.status_code == 200, response.text
    assert response.json() == {"id": plan.id, "action": "extend", "phase": "open"}
    status = (await api.get(f"/api/activities/{plan.id}")).json()
    assert status["phase"] == "open" and status["decisions"][-1]["kind"] == "extend"
    assert status["decisions"][-1]["by"] == "coordinator"


# -- attendance and report -----------------------------------------------
async def test_attendance_refusals_then_report_after_completion(api, lab, make_plan):
    plan = make_plan(await lab.now())
    await start_open(api, lab, plan)
    url = f"/api/activities/{plan.id}/attendance"
    await register(lab, plan, 3)

    while_open = await api.post(url, json={"session_no": 1, "present": ["p0@skola.test"]})
    assert while_open.status_code == 409 and "while the activity is open" in while_open.json()["detail"]
    for suffix in ("", ".md", ".csv", ".png"):
        response = await api.get(f"/api/activities/{plan.id}/report{suffix}")
        assert response.status_code == 404
        assert response.json()["detail"].startswith(f"no report for {plan.id!r} yet")

    await lab.advance_to(plan.registration.deadline + timedelta(seconds=1))
    assert (await api.get(f"/api/activities/{plan.id}")).json()["phase"] == "confirmed"
    early = await api.post(url, json={"session_no": 1, "present": ["p0@skola.test"]})
    assert early.status_code == 409 and early.json()["detail"] == "session 1 has not started yet"

    s1, s2 = plan.sessions
    await lab.advance_to(s1.start + timedelta(minutes=5))
    stranger = await api.post(url, json={"session_no": 1, "present": ["p0@skola.test", "who@skola.test"]})
    assert stranger.status_code == 409 and "who@skola.test is not registered" in stranger.json()["detail"]
    no_such_session = await api.post(url, json={"session_no": 9, "present": ["p0@skola.test"]})
    assert no_such_session.status_code == 409 and "there is no session 9" in no_such_session.json()["detail"]
    assert (await api.post(url, json={"session_no": 1, "present": []})).status_code == 422
    assert (await api.post(url, json={"session_no": 0, "present": ["p0@skola.test"]})).status_code == 422

    response = await api.post(url, json={"session_no": 1, "present": ["p0@skola.test", "p1@skola.test"]})
    assert response.status_code == 200, response.text
    assert response.json() == {"id": plan.id, "session": 1, "present": 2}
    assert (await api.post(url, json={"session_no": 1, "present": ["p2@skola.test"]})).json()["present"] == 3

    # Every survey closes `window` after the follow-up is sent; then the activity completes with its report.
    await lab.advance_to(s2.end + plan.surveys.follow_up_after + plan.surveys.window + timedelta(hours=1))
    status = (await api.get(f"/api/activities/{plan.id}")).json()
    assert status["phase"] == "completed"
    assert status["sessions"][0]["attended"] == 3

    markdown = await api.get(f"/api/activities/{plan.id}/report.md")
    assert markdown.status_code == 200
    assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
    assert markdown.text.startswith(f"# Slutrapport: {plan.title}")

    table = await api.get(f"/api/activities/{plan.id}/report.csv")
    assert table.status_code == 200
    assert table.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(table.text)))
    assert rows[0] == ["organisation", "deltagare"]
    assert ["tillfälle", "närvarande"] in rows

    chart = await api.get(f"/api/activities/{plan.id}/report.png")
    assert chart.status_code == 200
    assert chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(PNG_SIGNATURE)
    assert chart.headers["content-disposition"] == f'inline; filename="{plan.id}.png"'

    summary = await api.get(f"/api/activities/{plan.id}/report")
    assert summary.status_code == 200
    body = summary.json()
    assert body["id"] == plan.id and body["created_at"]
    assert body["summary"] == json.loads(lab.store.report(plan.id).summary_json)
    assert body["summary"]["title"] == plan.title


async def test_undeliverable_mail_is_listed_for_the_organiser(api, lab, make_plan):
    plan = make_plan(await lab.now())
    lab.mailer.refuse = {"fel@skola.test"}
    assert (await api.post("/api/activities", json=plan_json(plan))).status_code == 201
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    assert (await api.get(f"/api/activities/{plan.id}/undeliverable")).json() == []
    await lab.service.register(plan.id, name="Fel Stavad", email="fel@skola.test", organisation="berg", role="lärare")
    await lab.recorded()  # the confirmation follows the answer
    [row] = (await api.get(f"/api/activities/{plan.id}/undeliverable")).json()
    assert row["recipient"] == "fel@skola.test" and row["purpose"] == "registration"
    assert row["reason"].startswith("recipient_refused: 550") and "@" not in row["reason"]


async def test_participants_are_listed_with_status_position_and_survey_figures(api, lab, make_plan):
    plan = make_plan(await lab.now(), places=2, min_participants=1)
    assert (await api.post("/api/activities", json=plan_json(plan))).status_code == 201
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    for i, email in enumerate(["anna@skola.test", "bo@skola.test", "cia@skola.test", "dan@skola.test"]):
        await lab.service.register(
            plan.id, name=f"Person {i}", email=email, organisation=ORGS[i % 3], role="lärare", school="Skolan"
        )
    await lab.recorded()  # the list is the store's: the rows follow the answers
    rows = (await api.get(f"/api/activities/{plan.id}/participants")).json()
    assert [(r["email"], r["status"], r["waitlist_position"]) for r in rows] == [
        ("anna@skola.test", "confirmed", None),
        ("bo@skola.test", "confirmed", None),
        ("cia@skola.test", "waitlisted", 1),
        ("dan@skola.test", "waitlisted", 2),
    ]
    assert rows[0]["organisation"] == "Sundsvalls kommun" and rows[0]["role"] == "lärare" and rows[0]["registered_at"]
    waiting = (await api.get(f"/api/activities/{plan.id}/participants?status=waitlisted")).json()
    assert [r["name"] for r in waiting] == ["Person 2", "Person 3"]
    assert (await api.get(f"/api/activities/{plan.id}/participants?status=sleeping")).status_code == 422

    await lab.advance_to(plan.sessions[0].end + plan.surveys.attendance_grace + timedelta(minutes=1))
    surveys = (await api.get(f"/api/activities/{plan.id}")).json()["surveys"]
    assert surveys == [{"survey": "s1", "invited": 2, "answered": 0, "reminded": 0}]
