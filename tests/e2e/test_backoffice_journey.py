"""A coordinator's day in the back-office, in Debian's Chromium against the running stack (real Temporal dev
server, SMTP sink, SQLite), every page checked with axe-core (WCAG 2.1 A and AA):

signs in with a one-time link, creates an activity from the form (a session added and removed without JavaScript),
sees the computed timeline in the preview and starts it; a participant registers on the public page and appears
in the list; at the deadline (below the minimum) the coordinator decides to run it, with a confirmation step;
when the session has started she ticks attendance, sends a message to those present, and downloads the XLSX.
A viewer gets 403 on every change, anonymous visitors are sent to sign in, a POST without the CSRF token is refused.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from domain.texts import STOCKHOLM
from tests.e2e.test_browser import CHROMIUM_ARGS, Audit, browser, fill_registration, mail_to, submit  # noqa: F401
from tests.support.waiting import wait_for_sync

pytestmark = pytest.mark.e2e

COORDINATOR, VIEWER = "kerstin.samordnare@miun.se", "lars.ledning@miun.se"
PARTICIPANT = "maja.resa@skola.test"
TITLE = "Formativ bedömning i praktiken"
# On the real clock, from when the form is filled in: registration open from +25 s to +50 s, the session +65..+95 s.
OPENS, DEADLINE, SESSION = 25, 50, (65, 95)


def local(at: datetime) -> str:
    return at.astimezone(STOCKHOLM).strftime("%Y-%m-%dT%H:%M:%S")


def signed_in_context(browser, stack, email: str, role: str):  # noqa: F811 - the fixture
    stack.cli("staff", "add", "--email", email, "--role", role, "--name", email.split(".")[0].capitalize())
    link = stack.cli("staff", "link", "--email", email, "--no-mail")["link"]
    link = f"{stack.base_url}/admin/{link.split('/admin/', 1)[1]}"  # the CLI's RUNFLOW_WEB_BASE_URL is the default
    context = browser.new_context(
        locale="sv-SE", timezone_id="Europe/Stockholm", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(link)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url(f"{stack.base_url}/admin/")
    return context, page


def test_a_coordinator_runs_an_activity_from_the_back_office(stack, browser, tmp_path):  # noqa: F811 - the fixture
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    audit = Audit()
    web = stack.base_url
    blocked: list[str] = []

    # Anonymous visitors are sent to sign in.
    anonymous = browser.new_context(locale="sv-SE")
    stranger = anonymous.new_page()
    stranger.goto(f"{web}/admin/activities/new")
    assert stranger.url == f"{web}/admin/signin?next=/admin/activities/new"
    expect(stranger.get_by_role("heading", name="Logga in", level=1)).to_be_visible()
    audit(stranger, "sign-in page")
    anonymous.close()

    context, page = signed_in_context(browser, stack, COORDINATOR, "coordinator")
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    expect(page.get_by_role("heading", name="Översikt", level=1)).to_be_visible()
    audit(page, "overview")

    # The form: every field; a second session added and removed again by buttons (no JavaScript needed).
    page.get_by_role("link", name="Ny aktivitet").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    audit(page, "new activity form")
    page.get_by_role("button", name="Spara och förhandsgranska").click()
    expect(page.get_by_role("alert")).to_contain_text("Planen är inte sparad")
    audit(page, "new activity form with errors")
    t0 = datetime.now(STOCKHOLM)
    aid = f"formativ-{t0:%H%M%S}"
    page.locator("#id").fill(aid)
    page.locator("#title").fill(TITLE)
    page.locator("#description").fill("Hur återkoppling under lektionen för lärandet framåt.")
    page.locator("#format").select_option("course")
    page.locator("#focus_area").select_option(index=1)
    page.get_by_label("Lärare", exact=True).check()
    page.locator("#organiser_email").fill(COORDINATOR)
    page.locator("#places").fill("5")
    page.locator("#min_participants").fill("2")
    page.locator("#registration_opens").fill(local(t0 + timedelta(seconds=OPENS)))
    page.locator("#registration_deadline").fill(local(t0 + timedelta(seconds=DEADLINE)))
    page.locator("#grace_period").fill("10 minuter")
    page.get_by_label("Bara de organisationer som är valda nedan").check()
    page.get_by_label("Sundsvalls kommun").check()
    page.locator("#sessions-0-start").fill(local(t0 + timedelta(seconds=SESSION[0])))
    page.locator("#sessions-0-end").fill(local(t0 + timedelta(seconds=SESSION[1])))
    page.locator("#sessions-0-location").select_option("sundsvall")
    page.locator("#sessions-0-room").fill("O111")
    page.get_by_role("button", name="Lägg till träff").click()
    expect(page.get_by_role("group", name="Träff 2")).to_be_visible()
    assert page.locator("#title").input_value() == TITLE  # what was typed is kept
    page.get_by_role("button", name="Ta bort träff 2").click()
    expect(page.get_by_role("group", name="Träff 2")).to_have_count(0)
    page.locator("#session_reminder_before").fill("5 sekunder")
    for key, value in [
        ("surveys_attendance_grace", "2 minuter"),
        ("surveys_window", "10 minuter"),
        ("surveys_reminder_after", "5 minuter"),
        ("surveys_final_evaluation_after", "10 minuter"),
        ("surveys_follow_up_after", "20 minuter"),
        ("retention", "30 minuter"),
    ]:
        page.locator(f"#{key}").fill(value)
    page.get_by_role("button", name="Spara och förhandsgranska").click()

    # The preview: the plan and the computed timeline in Swedish time; then start.
    expect(page).to_have_url(re.compile(rf"{re.escape(web)}/admin/activities/{aid}/preview(\?.*)?$"))
    expect(page.get_by_role("heading", name="Tidslinje")).to_be_visible()
    expect(page.get_by_text("Sista anmälningsdag").first).to_be_visible()
    audit(page, "preview")
    page.get_by_role("button", name="Starta aktiviteten").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(web)}/admin/activities/{aid}(\?.*)?$"))
    audit(page, "activity page, just started")
    stack.wait_for_phase(aid, {"open"}, timeout=OPENS + 30)

    # A participant registers on the public page and appears in the list.
    public = browser.new_context(locale="sv-SE").new_page()
    public.goto(f"{web}/a/{aid}")
    fill_registration(public, "Maja Resa", PARTICIPANT, "Sundsvalls kommun", "lärare")
    submit(public, "Anmäl", 200)
    public.context.close()
    page.reload()
    expect(page.get_by_role("cell", name="Maja Resa")).to_be_visible()
    expect(page.get_by_role("cell", name=PARTICIPANT)).to_be_visible()
    audit(page, "activity page with a participant")

    # The deadline passes below the minimum: the overview puts it first, the coordinator decides to run it.
    stack.wait_for_phase(aid, {"deciding"}, timeout=DEADLINE + 30 - (datetime.now(STOCKHOLM) - t0).total_seconds())
    page.goto(f"{web}/admin/")
    expect(page.get_by_role("heading", name="Väntar på ditt beslut")).to_be_visible()
    audit(page, "overview with a decision waiting")
    page.get_by_role("link", name=TITLE).first.click()
    page.get_by_role("link", name="Genomför").click()
    expect(page.get_by_role("heading", name="Genomför aktiviteten?")).to_be_visible()
    audit(page, "decision confirmation")
    page.get_by_label("Motivering (frivillig)").fill("Två till kommer enligt rektor.")
    page.get_by_role("button", name="Ja, genomför aktiviteten").click()
    expect(page.get_by_role("status")).to_contain_text("Beslutet är registrerat.")
    expect(page.get_by_role("cell", name="Blir av").first).to_be_visible()
    assert stack.cli("activity", "show", aid)["phase"] == "confirmed"

    # The session starts: attendance by ticking, then a message to those present.
    wait_for_sync(
        lambda: datetime.now(STOCKHOLM) >= t0 + timedelta(seconds=SESSION[0] + 1) or None, 60, "the session to start"
    )
    page.reload()
    page.get_by_role("group", name="Träff 1").get_by_label("Maja Resa", exact=False).check()
    page.get_by_role("button", name="Spara närvaro för träff 1").click()
    expect(page.get_by_role("status")).to_contain_text("Närvaron är registrerad.")
    expect(page.get_by_text("1 närvarande registrerade")).to_be_visible()
    audit(page, "activity page with attendance")
    page.get_by_role("link", name="Skicka meddelande").click()
    page.get_by_label("Till").select_option("present:1")
    page.get_by_label("Ämnesrad").fill("Bilderna från träff 1")
    page.get_by_label("Meddelande").fill("Hej!\nHär kommer bilderna från dagens träff.")
    audit(page, "message form")
    page.get_by_role("button", name="Förhandsgranska").click()
    expect(page.get_by_text("1 person just nu")).to_be_visible()
    audit(page, "message preview")
    page.get_by_role("button", name="Skicka till 1 person").click()
    expect(page.get_by_role("status")).to_contain_text("Meddelandet är skickat.")
    stack.wait_for_mail(
        lambda m: m["To"] == PARTICIPANT and "Bilderna från träff 1" in (m["Subject"] or ""), 30, "the message"
    )

    # The participant list as XLSX.
    with page.expect_download() as download:
        page.get_by_role("link", name="Ladda ner som Excel (XLSX)").click()
    sheet = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][:2] == ["Namn", "E-post"] and rows[1][:2] == ["Maja Resa", PARTICIPANT]

    # On a phone: no page is wider than the screen (wide tables scroll inside their own box).
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/admin/", f"/admin/activities/{aid}", "/admin/activities/new", f"/admin/activities/{aid}/message"):
        page.goto(f"{web}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 391, f"{path} is {width} px wide on a 390 px phone"
    page.screenshot(path=tmp_path / "activity-phone.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # A POST without the CSRF token changes nothing.
    refused = context.request.post(f"{web}/admin/activities/{aid}/decide/cancel", form={"reason": "x"})
    assert refused.status == 403
    assert stack.cli("activity", "show", aid)["phase"] in ("confirmed", "running")

    # A viewer reads everything but the people's names and addresses, and may change nothing.
    viewer_context, viewer = signed_in_context(browser, stack, VIEWER, "viewer")
    viewer.goto(f"{web}/admin/activities/{aid}")
    expect(viewer.get_by_text("visas bara för samordnare")).to_be_visible()  # the list, without the people
    expect(viewer.get_by_role("cell", name="Maja Resa")).to_have_count(0)
    audit(viewer, "activity page for a viewer")
    token = viewer.locator("input[name=csrf_token]").first.get_attribute("value")
    for path, form in [
        (f"/admin/activities/{aid}/decide/cancel", {}),
        (f"/admin/activities/{aid}/attendance/1", {"present": "1"}),
        (f"/admin/activities/{aid}/message/send", {"segment": "confirmed", "subject": "x", "body": "y"}),
        ("/admin/activities/new", {}),
        ("/admin/contacts/import", {}),
    ]:
        answer = viewer_context.request.post(f"{web}{path}", form={"csrf_token": token, **form})
        assert answer.status == 403, (path, answer.status)
    assert viewer.goto(f"{web}/admin/activities/{aid}/decide/cancel").status == 403
    audit(viewer, "403 for a viewer")
    viewer_context.close()
    context.close()

    assert not blocked, blocked
    problems = audit.blocking()
    print(f"axe-core {audit.engine}, WCAG 2.1 A/AA rules, violations per page:\n" + audit.summary())
    assert not problems, "\n".join(problems)
