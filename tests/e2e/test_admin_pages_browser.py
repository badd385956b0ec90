"""The back-office pages the coordinator's day does not reach, in Chromium and checked with axe-core (WCAG 2.1 A
and AA): the sign-in link's page, the YAML upload (and its errors), a new round, editing a draft, the
postponement's confirmation with its date fields (and their errors), a message with errors, the report, the
office's log, and the 404 and 403 pages.

The web app alone (these pages need only the store), served by uvicorn in a thread: see the contacts test."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from activities_impl.report import build_report
from domain.staff import Role
from tests.e2e.test_admin_contacts_browser import web  # noqa: F401 - the fixture
from tests.e2e.test_browser import CHROMIUM_ARGS, Audit, browser, page, submit  # noqa: F401 - fixtures
from tests.support.backoffice import signin_link
from tests.support.plans import plan_at

pytestmark = pytest.mark.e2e


def test_the_remaining_admin_pages_pass_axe(web, page, tmp_path):  # noqa: F811 - the fixtures
    from playwright.sync_api import expect

    store, base = web
    audit = Audit()
    plan = plan_at(datetime.now(UTC), id="lasa-skriva-ht27", title="Läs- och skrivutveckling")
    store.save_plan(plan, True)  # published (as if started): it has a report
    store.save_report(build_report(store, plan.id))
    draft = plan_at(datetime.now(UTC), id="utkast-vt28", title="Utkast till nätverksträff")
    store.save_plan(draft, False)
    member, _ = store.add_staff("samordnare@miun.se", Role.COORDINATOR, name="Samordnare")

    page.goto(f"{base}/admin/signin/{signin_link(store, member)}")
    expect(page.get_by_role("button", name="Logga in")).to_be_visible()
    audit(page, "sign-in link")
    submit(page, "Logga in", 303)

    page.goto(f"{base}/admin/activities/upload")
    audit(page, "YAML upload")
    bad = tmp_path / "plan.yaml"
    bad.write_text("id: x\ntitle: [\n", encoding="utf-8")
    page.get_by_label("Planen (YAML-fil)").set_input_files(str(bad))
    submit(page, "Ladda upp och förhandsgranska", 422)
    expect(page.get_by_role("alert")).to_be_visible()
    audit(page, "YAML upload with errors")

    page.goto(f"{base}/admin/activities/{plan.id}/new-round?veckor=52")
    expect(page.locator("#title")).to_have_value("Läs- och skrivutveckling")
    audit(page, "new round")
    page.goto(f"{base}/admin/activities/{draft.id}/edit")
    expect(page.locator("#title")).to_have_value("Utkast till nätverksträff")
    audit(page, "edit a draft")
    page.goto(f"{base}/admin/activities/{draft.id}/preview")
    audit(page, "preview of a draft")

    page.goto(f"{base}/admin/activities/{plan.id}/decide/postpone")
    expect(page.get_by_role("heading", name="Skjut upp aktiviteten?")).to_be_visible()
    audit(page, "postponement")
    page.locator("#start_1").fill("2027-02-30T10:00")
    page.get_by_role("button", name="Ja, skjut upp aktiviteten").click()
    expect(page.locator("#start_1-error")).to_be_visible()
    audit(page, "postponement with errors")

    page.goto(f"{base}/admin/activities/{plan.id}/message")
    page.get_by_role("button", name="Förhandsgranska").click()
    expect(page.get_by_role("alert")).to_be_visible()
    audit(page, "message with errors")

    page.goto(f"{base}/admin/activities/{plan.id}")
    audit(page, "activity page with a report")
    page.get_by_role("link", name="Visa rapporten").click()
    expect(page.get_by_role("img")).to_be_visible()
    audit(page, "report")
    page.get_by_role("link", name="Logg").first.click()
    expect(page.get_by_role("heading", name="Logg", level=1)).to_be_visible()
    audit(page, "office log")
    assert page.goto(f"{base}/admin/activities/finns-inte").status == 404
    audit(page, "404")

    viewer, _ = store.add_staff("ledning@miun.se", Role.VIEWER, name="Ledning")
    page.context.clear_cookies()
    page.goto(f"{base}/admin/signin/{signin_link(store, viewer)}")
    submit(page, "Logga in", 303)
    assert page.goto(f"{base}/admin/activities/new").status == 403
    audit(page, "403")

    problems = audit.blocking()
    print(f"axe-core {audit.engine}, WCAG 2.1 A/AA rules, violations per page:\n" + audit.summary())
    assert not problems, "\n".join(problems)
