"""Signing in to the back-office with one-time links; sessions; sign-out; who may see what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from activities_impl.mailer import MemoryMailer
from api.backoffice import BackOfficeConfig
from api.web import create_app
from domain.staff import Role, TokenKind
from tests.support.backoffice import csrf_of, sign_in, signin_link


@pytest.fixture
def mailbox() -> MemoryMailer:
    return MemoryMailer()


@pytest.fixture
def client(store, mailbox) -> TestClient:
    config = BackOfficeConfig(base_url="https://run.example.se", mailer=mailbox)
    with TestClient(create_app(store, secret_key="k" * 40, backoffice=config), base_url="https://testserver") as client:
        yield client


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/admin/?phase=open", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/signin?next=/admin/%3Fphase%3Dopen"
    page = client.get(response.headers["location"])
    assert page.status_code == 200 and "Logga in" in page.text


def test_a_link_signs_in_once_and_the_session_cookie_is_locked_down(client, store):
    member, _ = store.add_staff("anna@miun.se", Role.COORDINATOR, name="Anna")
    token = signin_link(store, member)
    page = client.get(f"/admin/signin/{token}")
    assert page.status_code == 200  # opening the link (or a mail scanner following it) does not use it up
    response = client.post(f"/admin/signin/{token}", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/admin/"
    cookie = response.headers["set-cookie"]
    assert "runflow_staff=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" in cookie and "Path=/admin" in cookie and "Max-Age=" in cookie
    assert token not in cookie
    overview = client.get("/admin/")
    assert overview.status_code == 200 and "Anna" in overview.text and "Samordnare" in overview.text
    # the same link again, in another browser: used up
    other = TestClient(client.app, base_url="https://testserver")
    page = other.get(f"/admin/signin/{token}")
    again = other.post(f"/admin/signin/{token}", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert again.status_code == 410 and "redan använts" in again.text
    assert other.get("/admin/", follow_redirects=False).status_code == 303


def test_expired_and_unknown_links_are_refused(client, store):
    member, _ = store.add_staff("anna@miun.se", Role.COORDINATOR)
    issued = datetime.now(UTC) - timedelta(minutes=16)
    expired = store.issue_token(member.id, TokenKind.SIGNIN, issued, issued + timedelta(minutes=15))
    for token in (expired, "nonsense", "x" * 5000):
        page = client.get(f"/admin/signin/{token}")
        response = client.post(f"/admin/signin/{token}", data={"csrf_token": csrf_of(page.text)})
        assert response.status_code == 410
    assert client.get("/admin/", follow_redirects=False).status_code == 303


def test_the_link_is_stored_hashed(client, store):
    member, _ = store.add_staff("anna@miun.se", Role.COORDINATOR)
    token = signin_link(store, member)
    with store.session() as s:
        from sqlmodel import select

        from domain.tables import StaffToken

        digests = [t.digest for t in s.exec(select(StaffToken))]
    assert token not in digests and len(digests) == 1 and len(digests[0]) == 64


def test_a_sign_in_without_the_csrf_token_is_refused(client, store):
    member, _ = store.add_staff("anna@miun.se", Role.COORDINATOR)
    token = signin_link(store, member)
    response = client.post(f"/admin/signin/{token}", data={})
    assert response.status_code == 403
    page = client.get(f"/admin/signin/{token}")  # the link is still good
    assert client.post(f"/admin/signin/{token}", data={"csrf_token": csrf_of(page.text)}).status_code == 200


def test_sign_out_ends_the_session_on_the_server(client, store):
    sign_in(client, store)
    cookie = client.cookies.get("runflow_staff")
    page = client.get("/admin/")
    response = client.post("/admin/signout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/admin/", follow_redirects=False).status_code == 303
    # the old cookie, replayed, no longer signs anybody in
    replay = TestClient(client.app, base_url="https://testserver", cookies={"runflow_staff": cookie})
    assert replay.get("/admin/", follow_redirects=False).status_code == 303


def test_a_forged_or_tampered_session_cookie_is_ignored(client, store):
    sign_in(client, store)
    cookie = client.cookies.get("runflow_staff")
    value, _, signature = cookie.rpartition(".")
    for forged in (value, f"{value}.{'0' * len(signature)}", "x" * 1000):
        other = TestClient(client.app, base_url="https://testserver", cookies={"runflow_staff": forged})
        assert other.get("/admin/", follow_redirects=False).status_code == 303


def test_deactivating_a_member_ends_their_sessions(client, store):
    member = sign_in(client, store)
    store.set_staff_active(member.id, False, datetime.now(UTC))
    assert client.get("/admin/", follow_redirects=False).status_code == 303


def test_asking_for_a_link_mails_staff_only_and_answers_everybody_alike(client, store, mailbox):
    store.add_staff("anna@miun.se", Role.VIEWER)
    answers = []
    for email in ("Anna@MIUN.se", "stranger@example.se"):
        page = client.get("/admin/signin")
        response = client.post("/admin/signin", data={"csrf_token": csrf_of(page.text), "email": email})
        assert response.status_code == 200
        answers.append(response.text.replace(email, ""))
    assert "skickat en inloggningslänk" in answers[0]
    assert answers[0].count("inloggningslänk") == answers[1].count("inloggningslänk")
    [mail] = mailbox.to("anna@miun.se")
    assert mailbox.to("stranger@example.se") == []
    body = mail.get_content()
    link = next(line for line in body.splitlines() if line.startswith("https://run.example.se/admin/signin/"))
    token = link.rsplit("/", 1)[1]
    page = client.get(f"/admin/signin/{token}")
    assert client.post(f"/admin/signin/{token}", data={"csrf_token": csrf_of(page.text)}).status_code == 200
    assert "Läsbehörighet" in client.get("/admin/").text


def test_asking_for_links_is_rate_limited_and_checks_the_address(client, store, mailbox):
    store.add_staff("anna@miun.se", Role.COORDINATOR)
    page = client.get("/admin/signin")
    token = csrf_of(page.text)
    bad = client.post("/admin/signin", data={"csrf_token": token, "email": "not an address"})
    assert bad.status_code == 422 and "giltig e-postadress" in bad.text
    statuses = [
        client.post("/admin/signin", data={"csrf_token": token, "email": "anna@miun.se"}).status_code for _ in range(7)
    ]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]
    assert len(mailbox.to("anna@miun.se")) == 5


def test_next_only_leads_within_the_back_office(client, store):
    sign_in(client, store)
    for target in ("https://evil.example/", "//evil.example/admin/", "/admin/../../x\\y", "/elsewhere"):
        response = client.get("/admin/signin", params={"next": target}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/admin/"
    response = client.get("/admin/signin", params={"next": "/admin/activities/x"}, follow_redirects=False)
    assert response.headers["location"] == "/admin/activities/x"
