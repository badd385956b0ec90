"""A participant in a real browser against the running stack, and axe-core on every public page.

Debian's Chromium (`/usr/bin/chromium`, installed by `.ci/run`; Playwright never downloads a browser) driven by
Playwright's sync API: the test is a plain sync test like the CLI one, so no event loop is running while the
browser is driven. axe-core comes bundled in the `axe-playwright-python` wheel and is injected into the page; nothing
is fetched from the network.
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from tests.support.plans import plan_data_in_seconds

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying to reach Google and floods refused connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}
TITLE = "Språkutvecklande arbetssätt i webbläsaren"
ANNA, BO = "anna.webb@skola.test", "bo.webb@skola.test"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)  # registrations and withdrawals are Temporal updates: allow for a busy CI
    context = browser.new_context(
        locale="sv-SE", timezone_id="Europe/Stockholm", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


def browser_plan(now: datetime) -> dict:
    """Registration open for a minute, one place (so the second registrant waits), one session right after."""
    return plan_data_in_seconds(
        f"webb-{now:%H%M%S}",
        now,
        places=1,
        opens=2,
        deadline=60,
        sessions=((2, 8),),
        title=TITLE,
        description="Hur elever utvecklar språket i alla ämnen: genrepedagogik, cirkelmodellen och "
        "stöttning i praktiken.",
        target_groups=["lärare", "specialpedagog"],
        format="seminar_series",
        min_participants=1,
        session_reminder_before="1s",
        surveys={
            "window": "90s",
            "reminder_after": "60s",
            "attendance_grace": "5s",
            "final_evaluation_after": "60s",
            "follow_up_after": "120s",
        },
        retention="60s",
        invitation={"organisations": ["sundsvall"]},
    )


class Audit:
    """axe-core (bundled with axe-playwright-python) on each page; the findings are asserted together at the end."""

    def __init__(self):
        from axe_playwright_python.sync_playwright import Axe

        self.axe = Axe()
        self.pages: dict[str, list[dict]] = {}
        self.engine = ""

    def __call__(self, page, name: str) -> None:
        results = self.axe.run(
            page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]}
        )
        assert results.response["passes"], f"axe checked nothing on {name}: {page.url}"
        self.engine = results.response["testEngine"]["version"]
        self.pages[name] = results.response["violations"]

    def blocking(self) -> list[str]:
        return [
            f"{name}: {v['id']} ({v['impact']}) {v['help']} at {[n['target'] for n in v['nodes']]}"
            for name, violations in self.pages.items()
            for v in violations
            if v["impact"] in BLOCKING
        ]

    def summary(self) -> str:
        return "\n".join(
            f"  {name}: " + (", ".join(f"{v['id']} ({v['impact']})" for v in violations) or "none")
            for name, violations in self.pages.items()
        )


def link(message, web_port: int, prefix: str) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    found = re.search(rf"http://127\.0\.0\.1:{web_port}/{prefix}/\S+", text)
    assert found, text
    return found.group(0)


def mail_to(address: str, purpose: str, subject: str = ""):
    return lambda m: m["To"] == address and m["X-Runflow-Purpose"] == purpose and subject in m["Subject"]


def fill_registration(page, name: str, email: str, organisation: str, role: str) -> None:
    page.get_by_label("Namn", exact=True).fill(name)
    page.get_by_label("E-postadress").fill(email)
    page.get_by_label("Kommun eller organisation").select_option(label=organisation)
    page.get_by_label("Roll").select_option(label=role)


def submit(page, button: str, status: int):
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name=button).click()
    assert answer.value.status == status, answer.value.url
    page.wait_for_load_state()


def test_a_participant_registers_withdraws_and_answers_a_survey_in_chromium(stack, page, browser, tmp_path):
    from playwright.sync_api import expect

    began = time.monotonic()
    timings: list[str] = []
    mark = lambda what: timings.append(f"{time.monotonic() - began:5.1f} s  {what}")  # noqa: E731
    audit = Audit()
    web = stack.base_url
    # The Content-Security-Policy allows no inline style or script: anything it blocks is reported on the console.
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)

    now = datetime.now(UTC)
    plan = browser_plan(now)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan, allow_unicode=True))
    aid = plan["id"]
    assert stack.cli("activity", "start", str(path))["id"] == aid
    stack.wait_for_phase(aid, {"open"}, timeout=30)
    mark("registration open")

    # The start page lists the activity; the activity page shows the plan and the form.
    start = page.goto(f"{web}/")
    assert start.status == 200 and start.headers["content-security-policy"].startswith("default-src 'self'")
    assert start.headers["referrer-policy"] == "no-referrer" and start.headers["x-frame-options"] == "DENY"
    expect(page.get_by_role("heading", name="Aktiviteter", level=1)).to_be_visible()
    audit(page, "start page")
    page.get_by_role("link", name="Tillgänglighetsredogörelse").click()  # in every page's footer
    expect(page.get_by_role("heading", name="Tillgänglighet för RUN:s anmälnings- och enkätsidor")).to_be_visible()
    audit(page, "accessibility statement")
    page.goto(f"{web}/")
    page.get_by_role("link", name=TITLE).click()
    expect(page).to_have_url(f"{web}/a/{aid}")
    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    expect(page.get_by_text("1 (1 kvar)")).to_be_visible()
    audit(page, "activity page with the form")
    page.screenshot(path=tmp_path / "activity-desktop.png", full_page=True)
    mobile = browser.new_context(
        locale="sv-SE", viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    try:
        phone = mobile.new_page()
        phone.goto(f"{web}/a/{aid}")
        phone.screenshot(path=tmp_path / "activity-mobile.png", full_page=True)
    finally:
        mobile.close()
    print(f"\nscreenshots: {tmp_path / 'activity-desktop.png'} {tmp_path / 'activity-mobile.png'}")

    # An empty form is answered per field, and the fields say they are invalid.
    submit(page, "Anmäl", 422)
    expect(page.get_by_role("alert")).to_contain_text("Skriv ditt namn.")
    expect(page.get_by_label("Namn", exact=True)).to_have_attribute("aria-invalid", "true")
    audit(page, "activity page with validation errors")

    # The first person gets the place, the second the waiting list.
    fill_registration(page, "Anna Webb", ANNA, "Sundsvalls kommun", "lärare")
    submit(page, "Anmäl", 200)
    expect(page.get_by_role("heading", name="Tack för din anmälan")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Du har fått en plats")
    audit(page, "registration answer")
    page.get_by_role("link", name="Tillbaka till aktiviteten").click()
    expect(page.get_by_text("1 (0 kvar)")).to_be_visible()
    fill_registration(page, "Bo Webb", BO, "Östersunds kommun", "specialpedagog")
    submit(page, "Anmäl", 200)
    expect(page.get_by_role("status")).to_contain_text("reservlistan som nummer 1")
    mark("two registered")

    # The withdrawal link in the first person's confirmation: a GET asks, the button withdraws.
    confirmation = stack.wait_for_mail(mail_to(ANNA, "registration"), timeout=30, what=f"registration to {ANNA}")
    assert page.goto(link(confirmation, stack["web"], "w")).status == 200
    expect(page.get_by_role("heading", name="Avanmälan", level=1)).to_be_visible()
    audit(page, "withdrawal confirmation")
    submit(page, "Avanmäl mig", 200)
    expect(page.get_by_role("heading", name="Du är avanmäld")).to_be_visible()
    audit(page, "withdrawal done")
    stack.wait_for_mail(mail_to(BO, "promoted"), timeout=30, what=f"promoted to {BO}")
    shown = stack.cli("activity", "show", aid)
    assert (shown["confirmed"], shown["waitlisted"]) == (1, 0)
    mark("withdrawn, second promoted")

    # A refusal: a survey link that does not exist.
    assert page.goto(f"{web}/s/forfalskad-token").status == 404
    expect(page.get_by_role("heading", name="Länken är ogiltig")).to_be_visible()
    audit(page, "refusal (invalid survey link)")

    # After the deadline: confirmed, the session runs, attendance recorded, the survey comes at its end.
    stack.wait_for_phase(aid, {"running"}, timeout=(now - datetime.now(UTC)).total_seconds() + 62 + 30)
    mark("running")
    assert page.goto(f"{web}/a/{aid}").status == 200
    expect(page.get_by_text("Anmälan är stängd.")).to_be_visible()
    audit(page, "activity page, registration closed")
    assert stack.cli("attendance", aid, "1", "--present", BO)["present"] == 1
    survey = stack.wait_for_mail(mail_to(BO, "survey", "träff 1"), timeout=45, what=f"survey to {BO}")
    mark("survey e-mail")

    survey_url = link(survey, stack["web"], "s")
    assert page.goto(survey_url).status == 200
    expect(page.get_by_role("heading", name="Utvärdering av träff 1", level=1)).to_be_visible()
    audit(page, "survey")
    submit(page, "Skicka svar", 422)
    expect(page.get_by_role("alert")).to_contain_text("Välj ett värde från 1 till 5.")
    audit(page, "survey with validation errors")
    for question, value in [
        ("I vilken grad motsvarade innehållet dina behov?", "4"),
        ("Hur bra var balansen mellan teori, praktik och erfarenhetsutbyte?", "5"),
        ("I vilken grad fick du ny kunskap?", "3"),
    ]:
        page.get_by_role("group", name=question).get_by_label(value, exact=True).check()
    page.get_by_label("Vad tar du med dig tillbaka till din organisation?").fill("Cirkelmodellen i NO-undervisningen")
    submit(page, "Skicka svar", 200)
    expect(page.get_by_role("heading", name="Tack för dina svar!")).to_be_visible()
    audit(page, "survey answered")
    assert page.goto(survey_url).status == 409  # answered once
    mark("survey answered")

    assert not blocked, blocked
    print(f"axe-core {audit.engine}, WCAG 2.1 A/AA rules, violations per page:\n" + audit.summary())
    print("timings:\n  " + "\n  ".join(timings))
    assert not audit.blocking(), "serious or critical accessibility violations:\n" + "\n".join(audit.blocking())
