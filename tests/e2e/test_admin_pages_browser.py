"""The back-office pages the coordinator's day does not reach, in Chromium and checked with axe-core (WCAG 2.1 A
and AA): the sign-in link's page, the YAML upload (and its errors), a new round, editing a draft, the
postponement's confirmation with its date fields (and their errors), a message with errors, the report, the
office's log, the 404 and 403 pages; and the year's pages (Handlingsplan och ekonomi) with their forms' errors.

The web app alone (these pages need only the store), served by uvicorn in a thread: see the contacts test."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

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


def test_the_year_pages_pass_axe(web, page, tmp_path):  # noqa: F811 - the fixtures
    """Handlingsplan och ekonomi: the action plan (as coordinator and viewer), its import with errors, a line's form
    with errors, the economy page with its cost form and cost import with errors, removing a cost, the annual report."""
    from playwright.sync_api import expect

    from domain.action_plan import parse_action_plan_yaml
    from domain.costs import Cost, CostCategory
    from domain.plan import plan_year

    store, base = web
    audit = Audit()
    on_line = plan_at(datetime.now(UTC), id="biennalen-ht27", title="Fritidshemsbiennalen")
    year = plan_year(on_line)
    example = (Path(__file__).resolve().parents[2] / "examples" / "handlingsplan-2020.yaml").read_text("utf-8")
    action_plan = parse_action_plan_yaml(
        example.replace("year: 2020", f"year: {year}").replace("2020–2022", f"{year}–")
    )
    store.save_action_plan(action_plan, "")
    store.save_plan(on_line.model_copy(update={"action_plan_line": "likvardighet-fritidshemsbiennalen"}), True)
    store.save_plan(plan_at(datetime.now(UTC), id="extra-ht27", title="Extra nätverksträff"), True)
    person, _ = store.enrol_participant(
        on_line.id, name="Anna A", email="anna@skola.test", organisation_id="sundsvall", role="lärare"
    )
    store.record_registration(
        registration_id="r1", activity_id=on_line.id, participant_id=person, status="confirmed", team_size=1, seq=1
    )
    cost = store.add_cost(
        Cost(
            year=year,
            line_id="likvardighet-leda-likvardig-skola",
            amount_ore=12_500_00,
            date=date(year, 1, 15),
            category=CostCategory.SPEAKER,
        )
    )
    member, _ = store.add_staff("samordnare@miun.se", Role.COORDINATOR, name="Samordnare")
    page.goto(f"{base}/admin/signin/{signin_link(store, member)}")
    submit(page, "Logga in", 303)

    page.get_by_role("link", name="Handlingsplan och ekonomi").click()
    expect(page.get_by_role("heading", name=f"Handlingsplan {year}", level=1)).to_be_visible()
    audit(page, "action plan")
    bad = tmp_path / "handlingsplan.yaml"
    bad.write_text(f"year: {year}\nperiod: {year}–\nareas:\n  - name: X\n    lines:\n      - what: ''\n", "utf-8")
    page.get_by_label("Handlingsplanen (YAML, Excel eller CSV)").set_input_files(str(bad))
    submit(page, "Importera handlingsplanen", 422)
    expect(page.get_by_role("alert")).to_be_visible()
    audit(page, "action plan import with errors")

    page.get_by_role("link", name="Ändra Att leda en likvärdig skola").click()
    expect(page.locator("#budget")).to_have_value("70000")
    audit(page, "action plan line")
    page.locator("#budget").fill("mycket")
    submit(page, "Spara raden", 422)
    expect(page.locator("#budget-error")).to_be_visible()
    audit(page, "action plan line with errors")

    page.goto(f"{base}/admin/year/{year}/ekonomi")
    expect(page.get_by_role("heading", name=f"Ekonomi {year}", level=1)).to_be_visible()
    expect(page.get_by_role("cell", name="Fritidshemsbiennalen", exact=True)).to_be_visible()
    audit(page, "economy")
    submit(page, "Lägg till kostnaden", 422)
    expect(page.locator("#amount-error")).to_be_visible()
    audit(page, "cost form with errors")
    costs = tmp_path / "kostnader.csv"
    costs.write_text("rad;belopp;datum;kategori\nfinns-inte;tusen;igår;champagne\n", "utf-8")
    page.get_by_label("Fil med kostnader").set_input_files(str(costs))
    submit(page, "Importera kostnaderna", 422)
    expect(page.get_by_role("alert")).to_be_visible()
    audit(page, "cost import with errors")
    page.goto(f"{base}/admin/year/{year}/costs/{cost.id}/remove")
    expect(page.get_by_role("button", name="Ta bort kostnaden")).to_be_visible()
    audit(page, "removing a cost")
    page.goto(f"{base}/admin/year/{year}")
    page.get_by_role("link", name=f"Verksamhetsrapport {year}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Verksamhetsrapport")
    audit(page, "annual report")

    viewer, _ = store.add_staff("ledning@miun.se", Role.VIEWER, name="Ledning")
    page.context.clear_cookies()
    page.goto(f"{base}/admin/signin/{signin_link(store, viewer)}")
    submit(page, "Logga in", 303)
    page.goto(f"{base}/admin/year/{year}")
    audit(page, "action plan, viewer")
    page.goto(f"{base}/admin/year/{year}/ekonomi")
    audit(page, "economy, viewer")
    page.goto(f"{base}/admin/year/{year}/verksamhetsrapport")
    audit(page, "annual report, viewer")

    problems = audit.blocking()
    print(f"axe-core {audit.engine}, WCAG 2.1 A/AA rules, violations per page:\n" + audit.summary())
    assert not problems, "\n".join(problems)
