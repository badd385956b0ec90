"""Signing in with OpenID Connect in Chromium, and the API token pages, checked with axe-core (WCAG 2.1 A and AA).

A real browser matters here: the sign-in button's POST is redirected to the provider, which Chromium allows only
when the page's Content-Security-Policy lets the form go there (form-action). The provider is oidc-provider-mock
on a local port; the web app alone (no Temporal: these pages need only the store) runs under uvicorn in a thread.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from oidc_provider_mock import User, run_server_in_thread

from activities_impl.store import Store
from api.backoffice import BackOfficeConfig, OidcConfig
from api.web import create_app
from domain.reference import default_reference
from domain.staff import Role
from tests.api.backoffice.test_oidc import served
from tests.e2e.test_browser import Audit, browser, page, submit  # noqa: F401 - fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")]

ANNA = User(sub="anna-at-miun", claims={"email": "anna@miun.se", "email_verified": True})


@pytest.fixture
def web(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/runflow.db")
    store.migrate()
    store.seed_reference(default_reference())
    with run_server_in_thread(require_nonce=True, user_claims=[ANNA]) as provider:
        oidc = OidcConfig(
            issuer=f"http://localhost:{provider.server_port}", client_id="runflow", client_secret="secret"
        )

        def make_app(base_url: str) -> FastAPI:
            return create_app(store, secret_key="k" * 40, backoffice=BackOfficeConfig(base_url=base_url, oidc=oidc))

        with served(make_app) as base:
            yield store, base
    store.engine.dispose()


def sign_in_at_the_provider(tab, sub: str) -> None:
    tab.get_by_placeholder("sub").fill(sub)
    tab.get_by_role("button", name="Authorize").click()
    tab.wait_for_load_state()


def test_oidc_sign_in_and_the_token_pages_in_chromium(web, page, browser):  # noqa: F811 - the fixtures
    from playwright.sync_api import expect

    store, base = web
    store.add_staff("anna@miun.se", Role.COORDINATOR, name="Anna Andersson")
    audit = Audit()

    page.goto(f"{base}/admin/tokens")  # anonymous: to the sign-in page, which remembers where they were going
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
    audit(page, "sign-in")
    page.get_by_role("button", name="Logga in med ditt konto vid Mittuniversitetet").click()
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()  # the CSP let the form go to the provider
    sign_in_at_the_provider(page, ANNA.sub)
    expect(page.get_by_role("heading", name="API-nycklar")).to_be_visible()
    assert page.url == f"{base}/admin/tokens"
    audit(page, "tokens")

    submit(page, "Skapa nyckel", 422)  # no label
    expect(page.get_by_label("Namn på nyckeln")).to_have_attribute("aria-invalid", "true")
    audit(page, "tokens with an error")
    page.get_by_label("Namn på nyckeln").fill("Rapportskript")
    submit(page, "Skapa nyckel", 200)
    expect(page.get_by_text("Kopiera nyckeln nu.")).to_be_visible()
    assert page.locator("code.secret").inner_text().startswith("rfp_")
    audit(page, "token created")
    page.get_by_role("link", name="Till dina API-nycklar").click()
    submit(page, "Återkalla nyckeln Rapportskript", 303)
    expect(page.get_by_text("Nyckeln är återkallad")).to_be_visible()
    audit(page, "token revoked")

    other = browser.new_context(locale="sv-SE").new_page()  # somebody the office does not know
    other.goto(f"{base}/admin/signin")
    other.get_by_role("button", name="Logga in med ditt konto vid Mittuniversitetet").click()
    sign_in_at_the_provider(other, "stranger")
    expect(other.get_by_text("Ditt konto har inte tillgång")).to_be_visible()
    audit(other, "no access")
    other.context.close()

    print("axe-core", audit.engine, "\n" + audit.summary())
    assert audit.pages and all(v == [] for v in audit.pages.values()), audit.summary()
