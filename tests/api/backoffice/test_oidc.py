"""Signing in with OpenID Connect, against a real OpenID provider on a local port (oidc-provider-mock).

The web app runs under uvicorn on a free port, and httpx drives the browser's part: the sign-in page's button
(a CSRF-checked POST), the redirect to the provider, the provider's authorization form (where a test "signs in"
as a subject with its claims), the redirect back to the callback, and the page the member asked for.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from oidc_provider_mock import User, run_server_in_thread

from api.backoffice import BackOfficeConfig, OidcConfig
from api.backoffice.config import oidc_config
from api.web import create_app
from domain.staff import Role
from tests.support.backoffice import csrf_of
from tests.support.ports import HOST, free_port
from tests.support.processes import RUNFLOW, clean_env
from tests.support.waiting import wait_for_sync
from worker.settings import Settings

# The mock provider runs on Authlib's server side, which warns about its own use of an older API.
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")

ANNA = User(sub="anna-at-miun", claims={"email": "Anna@miun.se", "email_verified": True, "name": "Anna"})
UNVERIFIED = User(sub="bo-at-miun", claims={"email": "bo@miun.se", "email_verified": False})
STRANGER = User(sub="stranger", claims={"email": "stranger@example.se", "email_verified": True})


@contextmanager
def served(make_app: Callable[[str], FastAPI]) -> Iterator[str]:
    """The app (made for its base URL) under uvicorn on a free local port, in a thread; its base URL."""
    port = free_port()
    base_url = f"http://{HOST}:{port}"
    server = uvicorn.Server(
        uvicorn.Config(make_app(base_url), host=HOST, port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        wait_for_sync(lambda: server.started or not thread.is_alive(), 20, "uvicorn to start")
        assert server.started, "uvicorn did not start"
        yield base_url
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def provider() -> Iterator[str]:
    """A real OpenID provider (discovery, authorization with PKCE parameters, token, keys); its issuer URL."""
    with run_server_in_thread(require_nonce=True, user_claims=[ANNA, UNVERIFIED, STRANGER]) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def web(store, provider) -> Iterator[str]:
    """The web app with the provider configured, served on a free port; its base URL."""
    oidc = OidcConfig(issuer=provider, client_id="runflow-test", client_secret="client-secret")

    def make_app(base_url: str) -> FastAPI:
        return create_app(store, secret_key="k" * 40, backoffice=BackOfficeConfig(base_url=base_url, oidc=oidc))

    with served(make_app) as base_url:
        yield base_url


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=True, timeout=20) as client:
        yield client


def start_sign_in(browser: httpx.Client, web: str, next_path: str = "/admin/tokens") -> httpx.Response:
    """The sign-in page's button, followed to the provider's authorization form."""
    page = browser.get(f"{web}/admin/signin", params={"next": next_path})
    assert page.status_code == 200
    form = browser.post(f"{web}/admin/oidc/login", data={"csrf_token": csrf_of(page.text), "next": next_path})
    assert form.status_code == 200 and "Authorize" in form.text, form.text
    return form


def authorize(browser: httpx.Client, form: httpx.Response, sub: str, follow: bool = True) -> httpx.Response:
    """The provider's authorization form, submitted as `sub`."""
    return browser.post(str(form.url), data={"sub": sub}, follow_redirects=follow)


def signed_in(browser: httpx.Client, web: str) -> bool:
    response = browser.get(f"{web}/admin/", follow_redirects=False)
    assert response.status_code in (200, 303), response.status_code
    return response.status_code == 200


def test_staff_sign_in_and_land_on_the_page_they_asked_for(web, provider, browser, store):
    store.add_staff("anna@miun.se", Role.COORDINATOR, name="Anna Andersson")
    form = start_sign_in(browser, web)
    asked = parse_qs(urlsplit(str(form.url)).query)
    assert asked["code_challenge_method"] == ["S256"] and len(asked["code_challenge"][0]) >= 43
    assert asked["nonce"][0] and asked["state"][0] and asked["client_id"] == ["runflow-test"]
    assert asked["redirect_uri"] == [f"{web}/admin/oidc/callback"]
    assert "code_verifier" not in asked  # the verifier stays in the round-trip cookie

    landed = authorize(browser, form, ANNA.sub)
    assert landed.status_code == 200, landed.text
    assert landed.url == f"{web}/admin/tokens"
    assert "API-nycklar" in landed.text and "Anna Andersson" in landed.text
    assert signed_in(browser, web)
    member = store.staff_by_email("anna@miun.se")
    assert member.oidc_subject == f"{provider} {ANNA.sub}"  # found by the verified address, the subject remembered
    # the round trip's cookie was emptied by the callback; the session cookie is the back-office's own
    assert "runflow_oidc" not in browser.cookies and browser.cookies.get("runflow_staff")


def test_the_round_trip_cookie_is_locked_down(web, browser):
    page = browser.get(f"{web}/admin/signin")
    response = browser.post(
        f"{web}/admin/oidc/login", data={"csrf_token": csrf_of(page.text), "next": "/admin/"}, follow_redirects=False
    )
    assert response.status_code == 302 and response.headers["location"].startswith("http://localhost:")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("runflow_oidc=") and "path=/admin" in cookie and "httponly" in cookie
    assert "samesite=lax" in cookie and "Max-Age=1800" in cookie


def test_an_unknown_subject_is_refused_with_403(web, browser, store):
    store.add_staff("anna@miun.se", Role.COORDINATOR)
    answer = authorize(browser, start_sign_in(browser, web), STRANGER.sub)
    assert answer.status_code == 403
    assert "Ditt konto har inte tillgång" in answer.text and answer.url.path == "/admin/oidc/callback"
    assert not signed_in(browser, web)
    assert store.staff_by_email("stranger@example.se") is None


def test_an_address_the_provider_has_not_verified_signs_nobody_in(web, browser, store):
    store.add_staff("bo@miun.se", Role.VIEWER)
    answer = authorize(browser, start_sign_in(browser, web), UNVERIFIED.sub)
    assert answer.status_code == 403
    assert not signed_in(browser, web)
    assert store.staff_by_email("bo@miun.se").oidc_subject is None


def test_a_deactivated_member_is_refused(web, browser, store):
    member, _ = store.add_staff("anna@miun.se", Role.COORDINATOR)
    store.set_staff_active(member.id, False, datetime.now(UTC))
    answer = authorize(browser, start_sign_in(browser, web), ANNA.sub)
    assert answer.status_code == 403 and not signed_in(browser, web)


def test_a_linked_subject_signs_in_after_the_address_changed_at_the_provider(web, provider, browser, store):
    member, _ = store.add_staff("anna.andersson@miun.se", Role.VIEWER)
    store.link_oidc_subject("anna.andersson@miun.se", f"{provider} {ANNA.sub}")  # linked at an earlier sign-in
    landed = authorize(browser, start_sign_in(browser, web, "/admin/"), ANNA.sub)  # the token says Anna@miun.se
    assert landed.status_code == 200 and landed.url == f"{web}/admin/"


def test_a_tampered_state_is_refused(web, browser, store):
    store.add_staff("anna@miun.se", Role.COORDINATOR)
    to_callback = authorize(browser, start_sign_in(browser, web), ANNA.sub, follow=False)
    assert to_callback.status_code == 302
    callback = urlsplit(to_callback.headers["location"])
    query = parse_qs(callback.query)
    assert callback.path == "/admin/oidc/callback" and query["code"] and query["state"]
    tampered = {**query, "state": [query["state"][0][:-2] + "xx"]}
    answer = browser.get(f"{web}{callback.path}?{urlencode(tampered, doseq=True)}")
    assert answer.status_code == 400 and "Inloggningen misslyckades" in answer.text
    assert not signed_in(browser, web)
    # the round trip is over: the real state, replayed afterwards, signs nobody in either
    replayed = browser.get(to_callback.headers["location"])
    assert replayed.status_code == 400 and not signed_in(browser, web)


def test_a_callback_from_another_browser_is_refused(web, browser, store):
    """The code and state are bound to the browser that started (its round-trip cookie): a stolen callback URL is
    worth nothing elsewhere."""
    store.add_staff("anna@miun.se", Role.COORDINATOR)
    to_callback = authorize(browser, start_sign_in(browser, web), ANNA.sub, follow=False)
    with httpx.Client(follow_redirects=True) as other:
        answer = other.get(to_callback.headers["location"])
        assert answer.status_code == 400 and not signed_in(other, web)


def test_no_session_without_the_callback(web, browser, store):
    store.add_staff("anna@miun.se", Role.COORDINATOR)
    assert authorize(browser, start_sign_in(browser, web), ANNA.sub, follow=False).status_code == 302
    assert not signed_in(browser, web)
    assert not browser.cookies.get("runflow_staff")


def test_the_provider_s_error_answer_is_a_400(web, browser):
    form = start_sign_in(browser, web)
    answer = browser.post(str(form.url), data={"action": "deny"})
    assert answer.status_code == 400 and "avbröts" in answer.text
    assert not signed_in(browser, web)


def test_next_never_leaves_the_back_office(web, browser, store):
    store.add_staff("anna@miun.se", Role.COORDINATOR)
    landed = authorize(browser, start_sign_in(browser, web, "https://evil.example/admin/"), ANNA.sub)
    assert landed.status_code == 200 and landed.url == f"{web}/admin/"


def test_the_login_needs_the_form_s_csrf_token(web, browser):
    browser.get(f"{web}/admin/signin")
    response = browser.post(f"{web}/admin/oidc/login", data={"next": "/admin/"}, follow_redirects=False)
    assert response.status_code == 403 and "runflow_oidc" not in response.headers.get("set-cookie", "")


def test_the_sign_in_page_lets_its_form_go_to_the_provider(web, provider, browser):
    page = browser.get(f"{web}/admin/signin")
    assert "Logga in med ditt konto" in page.text and 'action="/admin/oidc/login"' in page.text
    csp = page.headers["content-security-policy"]
    assert f"form-action 'self' {provider};" in csp and "default-src 'self'" in csp
    assert browser.get(f"{web}/a/nothing").headers["content-security-policy"].count("form-action 'self';") == 1


# -- without a reachable provider, and the settings ------------------------------------------------------------
def test_an_unreachable_provider_is_a_502(store):
    oidc = OidcConfig(issuer=f"http://127.0.0.1:{free_port()}", client_id="c", client_secret="s")
    app = create_app(store, secret_key="k" * 40, backoffice=BackOfficeConfig(oidc=oidc))
    with TestClient(app, base_url="https://testserver") as client:
        page = client.get("/admin/signin")
        answer = client.post("/admin/oidc/login", data={"csrf_token": csrf_of(page.text), "next": "/admin/"})
    assert answer.status_code == 502 and "går inte att nå" in answer.text


def test_without_a_provider_there_are_no_oidc_routes(store):
    with TestClient(create_app(store, secret_key="k" * 40), base_url="https://testserver") as client:
        page = client.get("/admin/signin")
        assert "/admin/oidc/login" not in page.text
        assert client.get("/admin/oidc/callback").status_code == 404


@pytest.mark.parametrize(
    "values, problem",
    [
        ({"oidc_issuer": "https://login.miun.se/realms/staff"}, "missing: RUNFLOW_OIDC_CLIENT_ID"),
        ({"oidc_client_id": "a", "oidc_client_secret": "b"}, "missing: RUNFLOW_OIDC_ISSUER"),
        ({"oidc_issuer": "http://login.miun.se", "oidc_client_id": "a", "oidc_client_secret": "b"}, "https"),
        ({"oidc_issuer": "login.miun.se", "oidc_client_id": "a", "oidc_client_secret": "b"}, "not a URL"),
    ],
)
def test_the_oidc_settings_go_together(values, problem):
    with pytest.raises(ValueError, match=problem):
        oidc_config(Settings(_env_file=None, **values))


def test_the_oidc_settings_make_the_config():
    assert oidc_config(Settings(_env_file=None)) is None
    config = oidc_config(
        Settings(
            _env_file=None,
            oidc_issuer="https://login.miun.se/realms/staff/",
            oidc_client_id="runflow",
            oidc_client_secret="s3cret",
        )
    )
    assert config is not None and config.client_id == "runflow"
    assert config.metadata_url == "https://login.miun.se/realms/staff/.well-known/openid-configuration"


def test_runflow_web_refuses_a_partial_oidc_setting_before_waiting_for_temporal(tmp_path):
    env = clean_env(
        RUNFLOW_SECRET_KEY="k" * 40,
        RUNFLOW_DATA_DIR=str(tmp_path),
        RUNFLOW_OIDC_ISSUER="https://login.miun.se/realms/staff",
        TEMPORAL_ADDRESS=f"{HOST}:{free_port()}",
    )
    done = subprocess.run(
        [RUNFLOW, "web", "--port", str(free_port()), "--connect-timeout", "30"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "RUNFLOW_OIDC_CLIENT_ID" in done.stderr + done.stdout and "waiting for Temporal" not in done.stderr
