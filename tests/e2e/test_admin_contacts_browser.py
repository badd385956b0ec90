"""The back-office's contact pages in Chromium, checked with axe-core (WCAG 2.1 A and AA): the list, the add form
with its errors, changing, the removal's confirmation, an import's preview with bad rows and its result.

The web app alone (no Temporal: these pages need only the store), served by uvicorn in a thread on a free port;
the browser signs in with a one-time link as a coordinator would."""

from __future__ import annotations

import threading
import time

import pytest
import uvicorn

from activities_impl.store import Store
from api.backoffice import BackOfficeConfig
from api.web import create_app
from domain.reference import default_reference
from domain.staff import Role
from tests.e2e.test_browser import CHROMIUM_ARGS, Audit, browser, page, submit  # noqa: F401 - fixtures
from tests.support.backoffice import signin_link
from tests.support.ports import free_port

pytestmark = pytest.mark.e2e

CSV = (
    "organisation;målgrupp;namn;e-post\n"
    "Sundsvall;lärare;Pia Lärk;pia.lark@sundsvall.example.se\n"
    "Atlantis;;Nemo;nemo@atlantis.example.se\n"
).encode()


@pytest.fixture
def web(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/runflow.db")
    store.migrate()
    store.seed_reference(default_reference())
    port = free_port()
    app = create_app(store, secret_key="k" * 40, backoffice=BackOfficeConfig(base_url=f"http://127.0.0.1:{port}"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield store, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    store.engine.dispose()


def test_the_contact_pages_pass_axe(web, page, tmp_path):  # noqa: F811 - the fixture
    from playwright.sync_api import expect

    store, base = web
    member, _ = store.add_staff("samordnare@miun.se", Role.COORDINATOR, name="Samordnare")
    audit = Audit()
    page.goto(f"{base}/admin/signin/{signin_link(store, member)}")
    submit(page, "Logga in", 303)

    page.goto(f"{base}/admin/contacts")
    expect(page.get_by_role("heading", name="Kontakter", exact=True)).to_be_visible()
    audit(page, "contacts")

    submit(page, "Lägg till kontakten", 422)  # nothing filled in
    expect(page.locator("#name-error")).to_have_text("Skriv kontaktpersonens namn.")
    audit(page, "contacts with errors")

    form = page.get_by_role("region", name="Lägg till en kontakt")
    form.get_by_label("Organisation", exact=True).select_option(label="Bergs kommun")
    form.get_by_label("Målgrupp", exact=True).select_option(label="rektor")
    form.get_by_label("Namn", exact=True).fill("Lars Holm")
    form.get_by_label("E-postadress", exact=True).fill("lars.holm@berg.example.se")
    submit(page, "Lägg till kontakten", 303)
    expect(page.get_by_text("Kontakten är tillagd.")).to_be_visible()

    page.get_by_role("link", name="Ändra Lars Holm, Bergs kommun, rektor").click()
    expect(page.get_by_role("heading", name="Ändra kontakt")).to_be_visible()
    audit(page, "edit")
    page.get_by_label("Namn", exact=True).fill("Lars Holm Ek")
    submit(page, "Spara ändringen", 303)

    page.get_by_role("link", name="Ta bort Lars Holm Ek, Bergs kommun, rektor").click()
    expect(page.get_by_role("heading", name="Ta bort kontakt")).to_be_visible()
    audit(page, "remove")
    submit(page, "Ta bort kontakten", 303)
    expect(page.get_by_text("Kontakten är borttagen.")).to_be_visible()

    path = tmp_path / "kontakter.csv"
    path.write_bytes(CSV)
    page.goto(f"{base}/admin/contacts#importera")
    page.get_by_label("Fil med kontakter").set_input_files(str(path))
    page.get_by_label("Lägg till", exact=True).check()
    submit(page, "Förhandsgranska importen", 200)
    expect(page.get_by_text("Rad 3: organisationen ”Atlantis”", exact=False)).to_be_visible()
    audit(page, "import preview")
    submit(page, "Bekräfta import", 200)
    expect(page.get_by_role("heading", name="Importen är klar")).to_be_visible()
    audit(page, "import done")
    assert ("lärare", "pia.lark@sundsvall.example.se") in {(c.target_group, c.email) for c in store.contact_list()}

    print("axe-core", audit.engine, "\n" + audit.summary())
    assert audit.pages and all(v == [] for v in audit.pages.values()), audit.summary()
