"""Personal API tokens: the page /admin/tokens (list, create, shown once, revoke) and the tokens in the JSON API."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.coordinator_api import coordinator_router
from api.directory import Directory
from api.web import create_app
from domain.lifecycle import OverrideAction
from domain.staff import Role, TokenKind
from tests.support.backoffice import csrf_of, post_form, sign_in
from tests.support.plans import plan_at

DEPLOYMENT_TOKEN = "deployment-s3cret"


@pytest.fixture
def client(store) -> TestClient:
    with TestClient(create_app(store, secret_key="k" * 40), base_url="https://testserver") as client:
        yield client


def create_token(client: TestClient, label: str):
    return post_form(client, "/admin/tokens", "/admin/tokens", {"label": label})


# -- the page ----------------------------------------------------------------------------------------------------
def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/admin/tokens", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/admin/signin?next=/admin/tokens"


def test_a_token_is_shown_once_and_listed_without_it(client, store):
    member = sign_in(client, store)
    empty = client.get("/admin/tokens")
    assert empty.status_code == 200 and "Du har inga API-nycklar" in empty.text
    created = create_token(client, "  Rapportskript  ")
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    assert "Kopiera nyckeln nu" in created.text and "Rapportskript" in created.text
    raw = created.text.split('<code class="secret">')[1].split("</code>")[0]
    assert raw.startswith("rfp_") and len(raw) > 40
    listed = client.get("/admin/tokens")
    assert "Rapportskript" in listed.text and "Aldrig" in listed.text and "Aktiv" in listed.text
    assert raw not in listed.text
    assert store.token_holder(raw, TokenKind.API, datetime.now(UTC)).id == member.id  # as the API does
    assert "Aldrig" not in client.get("/admin/tokens").text  # last used: now
    (token,) = store.api_tokens(member.id)
    assert token.label == "Rapportskript" and token.digest != raw


@pytest.mark.parametrize("label", ["", "   ", "x" * 101, "skript\x00"])
def test_a_label_is_required_and_checked(client, store, label):
    member = sign_in(client, store)
    response = create_token(client, label)
    assert response.status_code == 422 and 'aria-invalid="true"' in response.text
    assert store.api_tokens(member.id) == []


def test_a_token_is_revoked_by_its_holder_only(client, store):
    member = sign_in(client, store)
    raw = store.issue_token(member.id, TokenKind.API, datetime.now(UTC), None, "ci")
    (token,) = store.api_tokens(member.id)
    other, _ = store.add_staff("bo@miun.se", Role.COORDINATOR)
    store.issue_token(other.id, TokenKind.API, datetime.now(UTC), None, "bos")
    (others,) = store.api_tokens(other.id)

    refused = post_form(client, "/admin/tokens", f"/admin/tokens/{others.id}/revoke", {})
    assert refused.status_code == 404 and "finns inte bland dina aktiva nycklar" in refused.text
    assert store.api_tokens(other.id)[0].revoked_at is None

    revoked = post_form(client, "/admin/tokens", f"/admin/tokens/{token.id}/revoke", {})
    assert revoked.status_code == 303 and revoked.headers["location"] == "/admin/tokens?klart=aterkallad"
    page = client.get(revoked.headers["location"])
    assert "Nyckeln är återkallad" in page.text and "Återkallad" in page.text
    assert store.token_holder(raw, TokenKind.API, datetime.now(UTC)) is None
    again = post_form(client, "/admin/tokens", f"/admin/tokens/{token.id}/revoke", {})
    assert again.status_code == 404


def test_revoking_needs_the_csrf_token(client, store):
    member = sign_in(client, store)
    store.issue_token(member.id, TokenKind.API, datetime.now(UTC), None, "ci")
    (token,) = store.api_tokens(member.id)
    assert client.post(f"/admin/tokens/{token.id}/revoke", data={}).status_code == 403
    assert client.post("/admin/tokens", data={"label": "x"}).status_code == 403
    assert store.api_tokens(member.id)[0].revoked_at is None and len(store.api_tokens(member.id)) == 1


@pytest.mark.parametrize("token_id", ["0", "-1", "abc", str(2**31), "9" * 40])
def test_a_nonsense_token_id_is_refused(client, store, token_id):
    sign_in(client, store)
    page = client.get("/admin/tokens")
    response = client.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code in (404, 422)


def test_a_viewer_makes_tokens_too(client, store):
    member = sign_in(client, store, "ledning@miun.se", Role.VIEWER)
    page = client.get("/admin/tokens")
    assert "bara läsa" in page.text
    assert create_token(client, "läsning").status_code == 200
    assert len(store.api_tokens(member.id)) == 1


# -- the tokens in the JSON API ----------------------------------------------------------------------------------
class FakeService:
    """Stands in for Service: the list (which needs Temporal visibility) and decisions, remembering who decided."""

    def __init__(self) -> None:
        self.decisions: list[tuple[str, OverrideAction, str | None]] = []

    async def list(self, phase: str | None = None, below_minimum: bool | None = None) -> list[dict]:
        return []

    async def decide(self, activity_id, action, *, until=None, plan=None, staff_id=None) -> str:
        self.decisions.append((activity_id, action, staff_id))
        return "confirmed"


def api(store, service: FakeService, token: str | None = DEPLOYMENT_TOKEN) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(coordinator_router(service, Directory(store), token), prefix="/api")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def personal_token(store, email: str, role: Role) -> tuple[str, str]:
    member, _ = store.add_staff(email, role)
    return member.id, store.issue_token(member.id, TokenKind.API, datetime.now(UTC), None, "test")


async def test_a_coordinator_s_token_reads_and_decides_in_their_name(store):
    plan = plan_at(datetime.now(UTC))
    store.save_plan(plan, make_current=True)
    staff_id, token = personal_token(store, "anna@miun.se", Role.COORDINATOR)
    service = FakeService()
    async with api(store, service) as client:
        assert (await client.get("/api/activities", headers=bearer(token))).status_code == 200
        decided = await client.post(
            f"/api/activities/{plan.id}/decision", json={"action": "run"}, headers=bearer(token)
        )
        assert decided.status_code == 200, decided.text
        by_deployment = await client.post(
            f"/api/activities/{plan.id}/decision", json={"action": "run"}, headers=bearer(DEPLOYMENT_TOKEN)
        )
        assert by_deployment.status_code == 200
    assert service.decisions == [(plan.id, OverrideAction.RUN, staff_id), (plan.id, OverrideAction.RUN, None)]
    (kept,) = store.api_tokens(staff_id)
    assert kept.used_at is not None  # shown as "last used" on the page


async def test_a_viewer_s_token_may_only_read(store):
    plan = plan_at(datetime.now(UTC))
    store.save_plan(plan, make_current=True)
    _, token = personal_token(store, "ledning@miun.se", Role.VIEWER)
    service = FakeService()
    async with api(store, service) as client:
        assert (await client.get("/api/activities", headers=bearer(token))).status_code == 200
        for url, body in ((f"/api/activities/{plan.id}/decision", {"action": "cancel"}), ("/api/activities", {})):
            response = await client.post(url, json=body, headers=bearer(token))
            assert response.status_code == 403 and "read-only" in response.json()["detail"]
    assert service.decisions == []


async def test_names_and_addresses_only_to_coordinators(store):
    plan = plan_at(datetime.now(UTC))
    store.save_plan(plan, make_current=True)
    person = store.upsert_participant(
        plan.id, name="Anna Berg", email="anna@skola.test", organisation_id="are", role="lärare", school="Skolan"
    )
    store.record_registration(
        registration_id=f"{plan.id}-r1",
        activity_id=plan.id,
        participant_id=person,
        status="confirmed",
        team_size=1,
        seq=1,
    )
    _, viewer = personal_token(store, "ledning@miun.se", Role.VIEWER)
    _, coordinator = personal_token(store, "anna@miun.se", Role.COORDINATOR)
    async with api(store, FakeService()) as client:
        seen = {
            who: (await client.get(f"/api/activities/{plan.id}/participants", headers=bearer(token))).json()
            for who, token in (("viewer", viewer), ("coordinator", coordinator), ("deployment", DEPLOYMENT_TOKEN))
        }
    assert seen["coordinator"][0]["email"] == "anna@skola.test" == seen["deployment"][0]["email"]
    [row] = seen["viewer"]
    assert (row["name"], row["email"], row["school"], row["team_members"]) == (None, None, None, [])
    assert row["organisation_id"] == "are" and row["status"] == seen["coordinator"][0]["status"]


async def test_revoked_unknown_and_deactivated_tokens_get_401(store):
    staff_id, revoked = personal_token(store, "anna@miun.se", Role.COORDINATOR)
    (row,) = store.api_tokens(staff_id)
    assert store.revoke_api_token(staff_id, row.id, datetime.now(UTC))
    gone_id, of_deactivated = personal_token(store, "bo@miun.se", Role.COORDINATOR)
    store.set_staff_active(gone_id, False, datetime.now(UTC))
    _, good = personal_token(store, "cia@miun.se", Role.COORDINATOR)
    async with api(store, FakeService()) as client:
        for token in (revoked, of_deactivated, "rfp_" + "x" * 43, good + "x", "rfp_" + "x" * 500):
            response = await client.get("/api/activities", headers=bearer(token))
            assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert (await client.get("/api/activities", headers=bearer(good))).status_code == 200


async def test_without_a_deployment_token_personal_tokens_still_work(store):
    _, token = personal_token(store, "anna@miun.se", Role.COORDINATOR)
    async with api(store, FakeService(), token=None) as client:
        assert (await client.get("/api/activities", headers=bearer(token))).status_code == 200
        wrong = await client.get("/api/activities", headers=bearer(DEPLOYMENT_TOKEN))
    assert wrong.status_code == 401 and "RUNFLOW_API_TOKEN is not set" in wrong.json()["detail"]
