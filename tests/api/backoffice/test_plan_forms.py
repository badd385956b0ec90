"""Creating and changing activities without YAML: the form (sessions added and removed without JavaScript), each bad
input's Swedish message next to its field, the YAML upload, a new round, editing, the preview and starting."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any, cast

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from activities_impl.store import Store
from api.backoffice import BackOfficeConfig
from api.backoffice.plan_check import RULE_FALLBACK, check_plan
from api.backoffice.plan_form import (
    MAX_SESSIONS,
    PlanForm,
    duration_text,
    duration_value,
    form_key,
    next_round_id,
)
from api.service import Refused, Service
from api.web import create_app
from domain.plan import ActivityPlan
from domain.plan_source import MAX_PLAN_BYTES
from domain.reference import default_reference
from domain.refusals import RefusalCode
from domain.staff import Role
from tests.support.backoffice import csrf_of, post_form, sign_in
from tests.support.plans import plan_at

NEW = "/admin/activities/new"
UPLOAD = "/admin/activities/upload"
ACTIVITY = "lasa-skriva-ht31"
VALID: dict[str, Any] = {
    "id": ACTIVITY,
    "title": "Läs- och skrivutveckling i alla ämnen",
    "description": "En seminarieserie för lärare.\r\nMed uppgifter mellan träffarna.",
    "format": "seminar_series",
    "focus_area": "utveckla",
    "target_groups": ["lärare", "specialpedagog"],
    "organiser_email": "samordnare@miun.se",
    "places": "40",
    "min_participants": "20",
    "teams_min_size": "5",
    "teams_max_size": "12",
    "registration_opens": "2031-08-18T08:00",
    "registration_deadline": "2031-09-12T23:59",
    "registration_reminders": "14 dagar, 5 dagar",
    "grace_period": "3 dagar",
    "invite": "chosen",
    "organisations": ["sundsvall", "ostersund"],
    "sessions-0-start": "2031-09-23T09:00",
    "sessions-0-end": "2031-09-23T15:00",
    "sessions-0-location": "sundsvall",
    "sessions-0-room": "Campus Sundsvall, sal O111",
    "sessions-0-link": "",
    "sessions-0-title": "",
    "sessions-1-start": "2031-11-18T13:00",
    "sessions-1-end": "2031-11-18T16:00",
    "sessions-1-location": "digital",
    "sessions-1-room": "",
    "sessions-1-link": "https://miun.example.se/zoom/lasa",
    "sessions-1-title": "Avslutning",
    "session_reminder_before": "2 dagar",
    "surveys_attendance_grace": "2 dagar",
    "surveys_window": "14 dagar",
    "surveys_reminder_after": "7 dagar",
    "surveys_final_evaluation_after": "1 dag",
    "surveys_follow_up_after": "90 dagar",
    "retention": "365 dagar",
}


class FakeService:
    """What the pages need of `api.service.Service`: start (saving the plan as current, as the real one does) and
    status; `fail` makes start raise."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.started: list[ActivityPlan] = []
        self.fail: BaseException | None = None

    async def start(self, plan: ActivityPlan) -> object:
        if self.fail is not None:
            raise self.fail
        if any(p.id == plan.id for p in self.started):
            raise Refused(f"activity {plan.id!r} has already been started", RefusalCode.ALREADY_STARTED)
        self.store.save_plan(plan, True)
        self.started.append(plan)
        return object()

    async def status(self, activity_id: str) -> object:
        if any(p.id == activity_id for p in self.started):
            return object()
        raise Refused(f"no activity {activity_id!r}", RefusalCode.NO_ACTIVITY)

    async def list(self, *args: object, **kwargs: object) -> list[dict[str, Any]]:
        return []


@pytest.fixture
def service(store: Store) -> FakeService:
    return FakeService(store)


@pytest.fixture
def client(store: Store, service: FakeService) -> Iterator[TestClient]:
    app = create_app(
        store,
        cast(Service, service),
        secret_key="k" * 40,
        backoffice=BackOfficeConfig(base_url="https://run.example.se"),
    )
    with TestClient(app, base_url="https://testserver") as client:
        yield client


# -- reading pages as a browser does -------------------------------------------------------------
class _FormFields(HTMLParser):
    """The fields a browser sends for the POST form with `action` (no button pressed)."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside = action, False
        self.fields: list[tuple[str, str]] = []
        self.select: str | None = None
        self.options: list[tuple[str, bool]] = []
        self.textarea: str | None = None
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action and a.get("method") == "post"
        if not self.inside:
            return
        if tag == "input":
            kind = a.get("type") or "text"
            if kind in ("submit", "button", "file") or (kind in ("checkbox", "radio") and "checked" not in a):
                return
            self.fields.append((a["name"] or "", a.get("value") or ""))
        elif tag == "select":
            self.select, self.options = a["name"], []
        elif tag == "option" and self.select is not None:
            self.options.append((a.get("value") or "", "selected" in a))
        elif tag == "textarea":
            self.textarea, self.text = a["name"], ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select is not None:
            chosen = [v for v, selected in self.options if selected] or [self.options[0][0]]
            self.fields.append((self.select, chosen[-1]))
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            self.fields.append((self.textarea, self.text))
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.text += data


def form_fields(html: str, action: str) -> dict[str, Any]:
    """The form's fields as a browser would send them: ticked boxes sharing a name as a list."""
    parser = _FormFields(action)
    parser.feed(html)
    fields: dict[str, Any] = {}
    for name, value in parser.fields:
        if name in ("target_groups", "organisations"):
            fields.setdefault(name, []).append(value)
        else:
            fields[name] = value
    return fields


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.by_id[a["id"] or ""] = {"tag": tag, **a}


def element(html: str, element_id: str) -> dict[str, str | None]:
    parser = _Elements()
    parser.feed(html)
    assert element_id in parser.by_id, f"no element with id {element_id!r}"
    return parser.by_id[element_id]


def error_of(html: str, key: str) -> str:
    found = re.search(rf'<p class="error" id="{re.escape(key)}-error">(.*?)</p>', html, re.S)
    assert found, f"no error next to {key!r}"
    return re.sub(r"<[^>]+>", "", found.group(1)).replace("&#34;", '"').replace("&#39;", "'")


def post(client: TestClient, action: str, data: dict[str, Any], page: str = NEW, **kwargs: Any) -> httpx.Response:
    response: httpx.Response = post_form(client, page, action, data, **kwargs)
    return response


def latest(store: Store, activity_id: str) -> tuple[int, ActivityPlan]:
    found = store.latest_plan(activity_id)
    assert found is not None, f"no plan saved for {activity_id}"
    return found


def current_version(store: Store, activity_id: str) -> int:
    activity = store.activity(activity_id)
    assert activity is not None
    return activity.current_version


def audit_kinds(store: Store, activity_id: str) -> list[tuple[str, str]]:
    return [(e.kind, e.by) for e in store.audit_log(activity_id)]


# -- the form, end to end ----------------------------------------------------------------------------
def test_a_coordinator_creates_an_activity_with_sessions_added_and_removed_without_javascript(
    client: TestClient, store: Store, service: FakeService
) -> None:
    member = sign_in(client, store)
    page = client.get(NEW)
    assert page.status_code == 200
    fields = form_fields(page.text, NEW)
    assert "sessions-0-start" in fields and "sessions-1-start" not in fields
    assert fields["grace_period"] == "3 dagar" and fields["retention"] == "365 dagar"  # the plan's defaults
    typed = {k: v for k, v in VALID.items() if not k.startswith("sessions-1-")}
    fields.update(typed)

    # "Lägg till träff": the same form again, with one more empty session, everything typed kept
    added = client.post(NEW, data={**fields, "action": "add_session"})
    assert added.status_code == 200 and "Träff 2 har lagts till." in added.text
    fields = form_fields(added.text, NEW)
    for key, value in typed.items():
        assert fields[key] == value, key
    assert fields["sessions-1-start"] == "" and fields["sessions-1-location"] == "sundsvall"  # the last one's place
    assert 'formaction="/admin/activities/new#traff-3"' in added.text

    # a session typed by mistake, then the one wanted; the mistaken one removed with its own button
    fields.update({"sessions-1-start": "2031-10-01T09:00", "sessions-1-end": "2031-10-01T12:00"})
    fields = form_fields(client.post(NEW, data={**fields, "action": "add_session"}).text, NEW)
    fields.update({k.replace("sessions-1-", "sessions-2-"): v for k, v in VALID.items() if k.startswith("sessions-1-")})
    removed = client.post(NEW, data={**fields, "action": "remove_session-1"})
    assert removed.status_code == 200 and "Träff 2 har tagits bort." in removed.text
    fields = form_fields(removed.text, NEW)
    assert "sessions-2-start" not in fields
    assert {k: v for k, v in fields.items() if k.startswith("sessions-")} == {
        k: v for k, v in VALID.items() if k.startswith("sessions-")
    }
    assert store.activity(ACTIVITY) is None  # nothing saved by adding and removing

    saved = client.post(NEW, data={**fields, "action": "save"}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"/admin/activities/{ACTIVITY}/preview?sparad=1"
    version, plan = latest(store, ACTIVITY)
    assert version == 1 and current_version(store, ACTIVITY) == 0  # saved, not published
    assert (
        plan.title == VALID["title"]
        and plan.description == "En seminarieserie för lärare.\nMed uppgifter mellan träffarna."
    )
    assert [(s.start, s.end) for s in plan.sessions] == [
        (datetime(2031, 9, 23, 7, tzinfo=UTC), datetime(2031, 9, 23, 13, tzinfo=UTC)),  # CEST, UTC+2
        (datetime(2031, 11, 18, 12, tzinfo=UTC), datetime(2031, 11, 18, 15, tzinfo=UTC)),  # CET, UTC+1
    ]
    assert plan.registration.reminders_before_deadline == [timedelta(days=14), timedelta(days=5)]
    assert plan.invitation.organisations == ["sundsvall", "ostersund"] and plan.sessions[1].title == "Avslutning"
    assert audit_kinds(store, ACTIVITY) == [("plan_created", f"staff:{member.id}")]

    # the preview: the plan and the computed timeline in Swedish time, and the start button
    preview = client.get(saved.headers["location"])
    assert preview.status_code == 200
    assert "tisdag 23 september 2031 kl. 09.00–15.00" in preview.text
    assert "tisdag 18 november 2031 kl. 13.00–16.00" in preview.text
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td></tr>", preview.text)
    assert ("måndag 18 augusti 2031 kl. 08.00", rows[0][1]) == rows[0] and rows[0][1].startswith("Anmälan öppnar")
    assert ("tisdag 23 september 2031 kl. 09.00", "Träff 1 av 2 börjar på campus Sundsvall.") in rows
    assert ("tisdag 18 november 2031 kl. 13.00", "Träff 2 av 2 börjar digitalt.") in rows
    assert any(when == "fredag 12 september 2031 kl. 23.59" and "Sista anmälningsdag" in what for when, what in rows)
    assert "Starta aktiviteten" in preview.text

    started = post_form(client, saved.headers["location"], f"/admin/activities/{ACTIVITY}/start", {"version": "1"})
    assert started.status_code == 303 and started.headers["location"] == f"/admin/activities/{ACTIVITY}"
    assert [p.id for p in service.started] == [ACTIVITY] and service.started[0] == plan
    assert audit_kinds(store, ACTIVITY)[-1] == ("activity_started", f"staff:{member.id}")


BAD_INPUTS = [
    ("empty title", {"title": ""}, "title", "Skriv aktivitetens namn."),
    ("10,000-character title", {"title": "x" * 10_000}, "title", "Högst 200 tecken (du skrev 10\u00a0000)."),
    ("control character", {"title": "Läsa\x1bskriva"}, "title", "otillåtet tecken"),
    ("line break in a title", {"title": "Läsa\nskriva"}, "title", "Skriv den på en rad."),
    ("NUL in the description", {"description": "Rad ett\x00"}, "description", "osynligt styrtecken"),
    (
        "minimum above places",
        {"places": "10", "min_participants": "20"},
        "min_participants",
        "Minsta antal deltagare (20) är fler än antalet platser (10).",
    ),
    ("places in words", {"places": "fyrtio"}, "places", "Skriv ett heltal"),
    ("no places", {"places": "0"}, "places", "Aktiviteten måste ha minst 1 plats."),
    (
        "deadline after the first session",
        {"registration_deadline": "2031-09-24T12:00"},
        "registration_deadline",
        "Sista anmälningsdag måste vara innan första träffen börjar.",
    ),
    (
        "deadline before registration opens",
        {"registration_deadline": "2031-08-01T12:00", "registration_reminders": ""},
        "registration_deadline",
        "Sista anmälningsdag måste vara efter att anmälan öppnar.",
    ),
    (
        "session ending before it starts",
        {"sessions-0-end": "2031-09-23T08:00"},
        "sessions-0-end",
        "Träffen måste sluta efter att den börjar.",
    ),
    (
        "sessions out of order",
        {"sessions-1-start": "2031-09-01T09:00", "sessions-1-end": "2031-09-01T12:00"},
        "sessions-1-start",
        "Träffarna ska stå i tidsordning: den här börjar före träff 1.",
    ),
    ("unknown focus area", {"focus_area": "astrologi"}, "focus_area", "Välj ett insatsområde i listan."),
    ("no focus area", {"focus_area": ""}, "focus_area", "Välj ett insatsområde."),
    ("invalid link", {"sessions-1-link": "zoom möte 123"}, "sessions-1-link", "Skriv en fullständig webbadress"),
    ("link without scheme", {"sessions-1-link": "javascript:alert(1)"}, "sessions-1-link", "börjar med https://"),
    ("digital without a link", {"sessions-1-link": ""}, "sessions-1-link", "En digital träff behöver en länk."),
    (
        "malformed date",
        {"registration_opens": "2031-13-45T08:00"},
        "registration_opens",
        "Datumet eller tiden finns inte.",
    ),
    ("a date in words", {"registration_opens": "nästa måndag"}, "registration_opens", "ÅÅÅÅ-MM-DD TT:MM"),
    ("the hour skipped in March", {"sessions-0-start": "2031-03-30T02:30"}, "sessions-0-start", "finns inte i Sverige"),
    ("no session start", {"sessions-0-start": ""}, "sessions-0-start", "Skriv när träffen börjar."),
    ("unknown target group", {"target_groups": ["lärare", "astronaut"]}, "target_groups", "Målgruppen finns inte."),
    ("no target group", {"target_groups": []}, "target_groups", "Välj minst en målgrupp."),
    ("no organisation ticked", {"organisations": []}, "organisations", "Välj minst en organisation att bjuda in."),
    ("unknown organisation", {"organisations": ["atlantis"]}, "organisations", "finns inte bland RUN:s organisationer"),
    ("duration in words", {"grace_period": "tre dagar"}, "grace_period", "Skriv en tid som 14 dagar"),
    ("empty duration", {"retention": ""}, "retention", "Skriv en tid, till exempel 365 dagar."),
    (
        "reminder before registration opens",
        {"registration_reminders": "60 dagar"},
        "registration_reminders",
        "innan anmälan har öppnat",
    ),
    ("bad reminder", {"registration_reminders": "14 dagar, snart"}, "registration_reminders", "Skriv en tid som"),
    (
        "survey reminder after it closes",
        {"surveys_reminder_after": "20 dagar"},
        "surveys_reminder_after",
        "Påminnelsen måste gå ut innan enkäten stänger",
    ),
    (
        "team larger than the places",
        {"teams_allowed": "ja", "teams_max_size": "50"},
        "teams_max_size",
        "Ett lag kan inte vara större än antalet platser (40).",
    ),
    ("bad id", {"id": "Läsa Skriva"}, "id", "Kortnamnet får bara ha små bokstäver"),
    ("a page's name as id", {"id": "upload"}, "id", "upptaget av administrationen"),
    ("bad e-mail", {"organiser_email": "samordnare-at-miun"}, "organiser_email", "Skriv en giltig e-postadress"),
    ("unknown format", {"format": "picnic"}, "format", "Välj typ av aktivitet i listan."),
    ("unknown location", {"sessions-0-location": "mars"}, "sessions-0-location", "Välj var träffen hålls i listan."),
]


@pytest.mark.parametrize(("changes", "key", "message"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_each_bad_input_is_named_in_swedish_next_to_its_field_and_nothing_is_stored(
    client: TestClient, store: Store, changes: dict[str, Any], key: str, message: str
) -> None:
    sign_in(client, store)
    response = post(client, NEW, {**VALID, **changes, "action": "save"})
    assert response.status_code == 422
    assert message in error_of(response.text, key)
    field = element(response.text, key if key not in ("target_groups", "organisations") else f"{key}-0")
    assert field.get("aria-invalid") == "true"
    assert f"{key}-error" in (field.get("aria-describedby") or "") or key in ("target_groups", "organisations")
    summary = re.search(r'<div class="summary" role="alert".*?</div>', response.text, re.S)
    assert summary and 'href="#' in summary.group() and message.split("(")[0][:30] in summary.group()
    assert "<title>Fel – Ny aktivitet" in response.text
    # what was typed comes back (clipped to the field's length), ready to be corrected
    fields = form_fields(response.text, NEW)
    assert fields["organiser_email"] == changes.get("organiser_email", VALID["organiser_email"])
    assert store.activities() == []


def test_every_problem_gets_its_own_message_at_once(client: TestClient, store: Store) -> None:
    sign_in(client, store)
    response = post(
        client, NEW, {**VALID, "title": "", "places": "x", "sessions-1-end": "2031-11-18T12:00", "action": "save"}
    )
    assert response.status_code == 422
    assert "Rätta de här 3 sakerna" in response.text
    for key in ("title", "places", "sessions-1-end"):
        assert error_of(response.text, key)
    summary = re.search(r'<div class="summary".*?</div>', response.text, re.S).group()  # type: ignore[union-attr]
    assert summary.index("#title") < summary.index("#places") < summary.index("#sessions-1-end")  # the form's order
    assert "Träff 2, slutar: Träffen måste sluta efter att den börjar." in summary


def test_an_id_already_taken_is_refused(client: TestClient, store: Store) -> None:
    sign_in(client, store)
    store.save_plan(plan_at(datetime.now(UTC) + timedelta(days=30), id=ACTIVITY), False)
    response = post(client, NEW, {**VALID, "action": "save"})
    assert response.status_code == 422
    assert "Det finns redan en aktivitet med kortnamnet lasa-skriva-ht31" in error_of(response.text, "id")
    assert latest(store, ACTIVITY)[0] == 1


def test_enter_in_a_field_saves_and_sessions_stop_at_the_most_a_plan_can_have(client: TestClient, store: Store) -> None:
    sign_in(client, store)
    page = client.get(NEW).text
    form = page[page.index('action="/admin/activities/new"') :]
    first_button = re.search(r"<button[^>]*>", form).group()  # type: ignore[union-attr]
    assert 'value="save"' in first_button and 'tabindex="-1"' in first_button  # what Enter presses
    many = {**VALID, **{f"sessions-{i}-start": "" for i in range(MAX_SESSIONS)}}
    full = post(client, NEW, {**many, "action": "add_session"})
    assert f"En aktivitet kan ha högst {MAX_SESSIONS} träffar." in full.text
    assert 'value="add_session"' not in full.text


# -- YAML upload ---------------------------------------------------------------------------------
def plan_yaml(**changes: Any) -> bytes:
    data = plan_at(datetime(2031, 8, 1, tzinfo=UTC), id=ACTIVITY).model_dump(mode="json") | changes
    return yaml.safe_dump(data, allow_unicode=True).encode()


def upload(client: TestClient, content: bytes | None, **kwargs: Any) -> httpx.Response:
    files = {"plan": ("plan.yaml", content, "application/yaml")} if content is not None else None
    return post(client, UPLOAD, {}, page=UPLOAD, files=files, **kwargs)


def test_a_yaml_plan_is_uploaded_and_previewed(client: TestClient, store: Store) -> None:
    member = sign_in(client, store)
    response = upload(client, plan_yaml())
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/admin/activities/{ACTIVITY}/preview?sparad=1"
    assert latest(store, ACTIVITY)[1].title == "Testaktivitet om läsutveckling"
    assert audit_kinds(store, ACTIVITY) == [("plan_created", f"staff:{member.id}")]
    # the same id again, not started yet: a new version of it
    assert upload(client, plan_yaml(title="Läsutveckling, ny version")).status_code == 303
    assert latest(store, ACTIVITY)[0] == 2
    assert [k for k, _ in audit_kinds(store, ACTIVITY)] == ["plan_created", "plan_edited"]


ALIASES = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(8)
)
BAD_FILES = [
    ("too large", b"# " + b"x" * MAX_PLAN_BYTES, "Filen: Filen är för stor: högst 256 KiB."),
    ("too deep", b"a: " + b"[" * 30 + b"]" * 30, "Filen: Filen har för många nivåer i varandra: högst 20."),
    ("aliases", ALIASES.encode(), "Filen: Filen har för många värden"),
    ("not YAML", b"title: [unclosed", "Filen: Filen är inte giltig YAML: fel på rad 1"),
    ("not UTF-8", "title: Läsa".encode("latin-1"), "Filen är inte text i UTF-8"),
    ("not a plan", b"- just\n- a list\n", "Planen: Här ska det stå fält med värden"),
    ("no file", None, "Välj en fil att ladda upp."),
]


@pytest.mark.parametrize(("content", "message"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_a_bad_file_is_refused_with_its_reason(
    client: TestClient, store: Store, content: bytes | None, message: str
) -> None:
    sign_in(client, store)
    response = upload(client, content)
    assert response.status_code == 422
    assert message in response.text
    assert element(response.text, "plan").get("aria-invalid") == "true"
    assert store.activities() == []


def test_an_invalid_plan_in_a_file_lists_each_problem_in_swedish(client: TestClient, store: Store) -> None:
    sign_in(client, store)
    data = yaml.safe_load(plan_yaml(places=0, focus_area="astrologi"))
    del data["title"]
    data["sessions"][1]["link"] = "ftp://x"
    data["sessions"][0]["start"] = "2031-08-15T09:00:00"  # no time zone
    response = upload(client, yaml.safe_dump(data, allow_unicode=True).encode())
    assert response.status_code == 422
    items = re.findall(r"<li>(.*?)</li>", response.text)
    assert "Aktivitetens namn: Skriv aktivitetens namn." in items
    assert "Antal platser: Aktiviteten måste ha minst 1 plats." in items
    assert "Insatsområde: Välj ett insatsområde i listan." in items
    assert any(i.startswith("Träff 2, länk: Skriv en fullständig webbadress") for i in items)
    assert any(i.startswith("Träff 1, börjar: Skriv tiden med tidszon") for i in items)
    assert store.activities() == []


# -- a new round, editing ------------------------------------------------------------------------
def saved_plan(store: Store, **changes: Any) -> ActivityPlan:
    plan = plan_at(datetime(2031, 8, 1, 6, tzinfo=UTC), id=ACTIVITY, **changes)
    store.save_plan(plan, False)
    return plan


def test_a_new_round_starts_from_an_earlier_plan_with_the_dates_left_to_set(client: TestClient, store: Store) -> None:
    member = sign_in(client, store)
    old = saved_plan(store)
    page = client.get(f"/admin/activities/{ACTIVITY}/new-round")
    assert page.status_code == 200 and "Datum och tider är tomma" in page.text
    fields = form_fields(page.text, NEW)
    assert fields["id"] == "lasa-skriva-vt32" and fields["title"] == old.title
    assert fields["copied_from"] == ACTIVITY
    assert fields["registration_opens"] == fields["sessions-0-start"] == fields["sessions-1-end"] == ""
    assert fields["sessions-0-room"] == "O111" and fields["sessions-1-link"] == "https://meet.test/x"
    assert fields["target_groups"] == ["lärare"] and sorted(fields["organisations"]) == [
        "are",
        "ostersund",
        "sundsvall",
    ]
    assert fields["surveys_follow_up_after"] == "30 dagar" and fields["registration_reminders"] == "5 dagar, 1 dag"
    refused = client.post(NEW, data={**fields, "action": "save"})
    assert refused.status_code == 422 and "Skriv när anmälan öppnar." in error_of(refused.text, "registration_opens")

    # or every date moved a number of weeks, the same weekday and clock time
    shifted = client.get(f"/admin/activities/{ACTIVITY}/new-round?veckor=52")
    assert shifted.status_code == 200 and "flyttade 52 veckor framåt" in shifted.text
    fields = form_fields(shifted.text, NEW)
    assert fields["sessions-0-start"] == "2032-08-13T08:00"  # 15 August 2031 08:00 (CEST) + 52 weeks
    assert fields["id"] == "lasa-skriva-ht32"
    saved = client.post(NEW, data={**fields, "action": "save"}, follow_redirects=False)
    assert saved.status_code == 303
    new = latest(store, "lasa-skriva-ht32")[1]
    assert new.sessions[0].start == old.sessions[0].start + timedelta(weeks=52)
    assert latest(store, ACTIVITY)[0] == 1  # the earlier one is untouched
    entry = store.audit_log("lasa-skriva-ht32")[0]
    assert (entry.kind, entry.by) == ("plan_created", f"staff:{member.id}") and '"copied_from": "' in entry.details_json

    bad = client.get(f"/admin/activities/{ACTIVITY}/new-round?veckor=m%C3%A5nga")
    assert bad.status_code == 422 and "Skriv ett antal veckor mellan 1 och 520." in bad.text
    assert element(bad.text, "veckor").get("aria-invalid") == "true"


def test_a_plan_not_yet_started_is_edited_and_a_started_one_is_not(
    client: TestClient, store: Store, service: FakeService
) -> None:
    member = sign_in(client, store)
    saved_plan(store)
    edit = f"/admin/activities/{ACTIVITY}/edit"
    page = client.get(edit)
    assert page.status_code == 200 and 'name="id"' not in page.text and ACTIVITY in page.text
    fields = form_fields(page.text, edit)
    unchanged = client.post(edit, data={**fields, "action": "save"}, follow_redirects=False)
    assert unchanged.status_code == 303 and latest(store, ACTIVITY)[0] == 1  # nothing new to save
    fields["title"] = "Läsutveckling, omarbetad"
    response = client.post(edit, data={**fields, "id": "something-else", "action": "save"}, follow_redirects=False)
    assert response.status_code == 303
    version, plan = latest(store, ACTIVITY)
    assert (version, plan.title, plan.id) == (2, "Läsutveckling, omarbetad", ACTIVITY)
    assert audit_kinds(store, ACTIVITY)[-1] == ("plan_edited", f"staff:{member.id}")
    assert "Läsutveckling, omarbetad" in client.get(f"/admin/activities/{ACTIVITY}/preview").text

    assert (
        post_form(
            client, f"/admin/activities/{ACTIVITY}/preview", f"/admin/activities/{ACTIVITY}/start", {"version": "2"}
        ).status_code
        == 303
    )
    again = client.get(edit)
    assert again.status_code == 409 and "Aktiviteten är redan startad." in again.text and "skjuta upp" in again.text
    posted = post(client, edit, {**fields, "action": "save"}, page=f"/admin/activities/{ACTIVITY}/preview")
    assert posted.status_code == 409 and latest(store, ACTIVITY)[0] == 3  # the start's version only
    preview = client.get(f"/admin/activities/{ACTIVITY}/preview")
    assert "Starta aktiviteten</button>" not in preview.text and "Aktiviteten är startad." in preview.text


# -- starting ---------------------------------------------------------------------------------------
def start(client: TestClient, version: str = "1") -> httpx.Response:
    return post(
        client, f"/admin/activities/{ACTIVITY}/start", {"version": version}, f"/admin/activities/{ACTIVITY}/preview"
    )


def test_start_refusals_are_said_in_swedish(client: TestClient, store: Store, service: FakeService) -> None:
    sign_in(client, store)
    saved_plan(store)
    stale = start(client, "0")
    assert stale.status_code == 409 and "Någon har sparat en ny version av planen" in stale.text
    service.fail = RuntimeError("connection refused")
    unreachable = start(client)
    assert unreachable.status_code == 503 and "ingen kontakt med Temporal" in unreachable.text
    service.fail = Refused("already", RefusalCode.ALREADY_STARTED)
    already = start(client)
    assert already.status_code == 409 and "Aktiviteten är redan startad." in already.text
    assert service.started == [] and [k for k, _ in audit_kinds(store, ACTIVITY)] == []


def test_a_plan_whose_deadline_has_passed_is_not_started(
    client: TestClient, store: Store, service: FakeService
) -> None:
    sign_in(client, store)
    store.save_plan(plan_at(datetime.now(UTC) - timedelta(days=20), id=ACTIVITY), False)
    preview = client.get(f"/admin/activities/{ACTIVITY}/preview")
    assert "Sista anmälningsdag har redan passerat" in preview.text
    response = start(client)
    assert response.status_code == 409 and service.started == []


def test_without_temporal_the_plan_is_kept_and_start_says_why(store: Store) -> None:
    app = create_app(store, secret_key="k" * 40, backoffice=BackOfficeConfig(base_url="https://run.example.se"))
    with TestClient(app, base_url="https://testserver") as client:
        sign_in(client, store)
        saved_plan(store)
        response = start(client)
    assert response.status_code == 503 and "Planen är sparad" in response.text


# -- who may ----------------------------------------------------------------------------------------
def test_a_viewer_sees_the_preview_but_gets_403_on_every_post(
    client: TestClient, store: Store, service: FakeService
) -> None:
    saved_plan(store)
    sign_in(client, store, "ledning@miun.se", Role.VIEWER)
    preview = client.get(f"/admin/activities/{ACTIVITY}/preview")
    assert preview.status_code == 200 and "Starta aktiviteten</button>" not in preview.text
    assert "/edit" not in preview.text
    for path in (NEW, UPLOAD, f"/admin/activities/{ACTIVITY}/edit", f"/admin/activities/{ACTIVITY}/new-round"):
        assert client.get(path).status_code == 403
    token = csrf_of(client.get("/admin/").text)
    for path, data in (
        (NEW, {**VALID, "id": "annan-aktivitet", "action": "save"}),
        (NEW, {**VALID, "action": "add_session"}),
        (f"/admin/activities/{ACTIVITY}/edit", {**VALID, "action": "save"}),
        (f"/admin/activities/{ACTIVITY}/start", {"version": "1"}),
    ):
        assert client.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    files = {"plan": ("plan.yaml", plan_yaml(id="annan-aktivitet"), "application/yaml")}
    assert client.post(UPLOAD, data={"csrf_token": token}, files=files).status_code == 403
    assert [a.id for a in store.activities()] == [ACTIVITY] and latest(store, ACTIVITY)[0] == 1
    assert service.started == []


def test_a_post_without_the_csrf_token_is_refused_and_stores_nothing(
    client: TestClient, store: Store, service: FakeService
) -> None:
    saved_plan(store)
    sign_in(client, store)
    for path, data in (
        (NEW, {**VALID, "id": "annan-aktivitet", "action": "save"}),
        (f"/admin/activities/{ACTIVITY}/edit", {**VALID, "title": "Ändrad", "action": "save"}),
        (f"/admin/activities/{ACTIVITY}/start", {"version": "1"}),
    ):
        response = client.post(path, data=data)
        assert response.status_code == 403 and "Formuläret har gått ut" in response.text, path
    files = {"plan": ("plan.yaml", plan_yaml(id="annan-aktivitet"), "application/yaml")}
    assert client.post(UPLOAD, files=files).status_code == 403
    assert [a.id for a in store.activities()] == [ACTIVITY] and latest(store, ACTIVITY)[0] == 1
    assert service.started == [] and audit_kinds(store, ACTIVITY) == []


def test_anonymous_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    for path in (NEW, UPLOAD, f"/admin/activities/{ACTIVITY}/preview"):
        assert client.get(path, follow_redirects=False).status_code == 303


def test_an_unknown_activity_is_404(client: TestClient, store: Store) -> None:
    sign_in(client, store)
    for path in ("nope-nope/preview", "nope-nope/edit", "nope-nope/new-round", "NOT%20AN%20ID/preview"):
        assert client.get(f"/admin/activities/{path}").status_code == 404


# -- the parts -------------------------------------------------------------------------------------
RULE_CASES = [
    ({"places": 3, "min_participants": 5}, "min_participants", "Minsta antal deltagare (5)"),
    ({"teams": {"allowed": True, "min_size": 3, "max_size": 2}}, "teams.min_size", "Minsta lagstorlek"),
    ({"teams": {"allowed": True, "min_size": 2, "max_size": 9}}, "teams.max_size", "antalet platser (3)"),
    (
        {"registration": {"opens": "2031-08-11T00:00:00Z", "deadline": "2031-08-10T00:00:00Z"}},
        "registration.deadline",
        "efter att anmälan öppnar",
    ),
    (
        {"registration": {"opens": "2031-08-01T00:00:00Z", "deadline": "2031-09-01T00:00:00Z"}},
        "registration.deadline",
        "innan första träffen",
    ),
    (
        {
            "registration": {
                "opens": "2031-08-01T00:00:00Z",
                "deadline": "2031-08-10T00:00:00Z",
                "reminders_before_deadline": ["0s"],
            }
        },
        "registration.reminders_before_deadline[0]",
        "längre än 0",
    ),
    (
        {
            "registration": {
                "opens": "2031-08-01T00:00:00Z",
                "deadline": "2031-08-10T00:00:00Z",
                "reminders_before_deadline": ["20d"],
            }
        },
        "registration.reminders_before_deadline[0]",
        "innan anmälan har öppnat",
    ),
    ({"surveys": {"window": "0s"}}, "surveys.window", "längre tid än 0"),
    ({"surveys": {"window": "2d", "reminder_after": "3d"}}, "surveys.reminder_after", "innan enkäten stänger"),
    (
        {"surveys": {"final_evaluation_after": "5d", "follow_up_after": "2d"}},
        "surveys.follow_up_after",
        "senare än slututvärderingen",
    ),
    ({"invitation": {"organisations": ["atlantis"]}}, "invitation.organisations[0]", "RUN:s organisationer"),
    ({"target_groups": ["astronaut"]}, "target_groups[0]", "Välj bland: elevhälsa, "),
]


@pytest.mark.parametrize(("changes", "path", "message"), RULE_CASES)
def test_every_rule_of_the_plan_has_its_swedish_sentence(changes: dict[str, Any], path: str, message: str) -> None:
    data = plan_at(datetime(2031, 8, 1, tzinfo=UTC)).model_dump(mode="json") | changes
    plan, issues = check_plan(data, default_reference())
    assert plan is None
    found = [i for i in issues if i.path == path]
    assert found and message in found[0].message
    assert all(i.message != RULE_FALLBACK for i in issues)


def test_session_rules_have_their_swedish_sentences() -> None:
    data = plan_at(datetime(2031, 8, 1, tzinfo=UTC)).model_dump(mode="json")
    first, second = data["sessions"]
    overlapping = dict(second, start=first["start"], end=second["end"])
    _, issues = check_plan(
        data | {"sessions": [first, overlapping | {"start": "2031-08-15T01:00:00Z"}]}, default_reference()
    )
    assert any(
        i.path == "sessions[1].start" and i.message == "Träffen börjar innan träff 1 har slutat." for i in issues
    )
    _, issues = check_plan(data | {"sessions": [dict(first, location="digital")]}, default_reference())
    assert [(i.label, i.message) for i in issues] == [("Träff 1, länk", "En digital träff behöver en länk.")]


def test_durations_in_swedish_words() -> None:
    assert [duration_value(t) for t in ("14 dagar", "1 dag", "2 veckor", "3 tim", "45 min", "30 s", "P1D", "fort")] == [
        "14d",
        "1d",
        "2w",
        "3h",
        "45m",
        "30s",
        "P1D",
        "fort",
    ]
    for value in (timedelta(days=14), timedelta(days=1), timedelta(weeks=2), timedelta(hours=1), timedelta(seconds=90)):
        text = duration_text(value)
        assert ActivityPlan.model_fields["grace_period"].annotation is not None
        assert plan_at(datetime(2031, 8, 1, tzinfo=UTC), grace_period=duration_value(text)).grace_period == value
    assert duration_text(timedelta(days=14)) == "2 veckor" and duration_text(timedelta(days=3)) == "3 dagar"


def test_a_plan_read_into_the_form_gives_the_same_plan_back() -> None:
    plan = plan_at(datetime(2031, 8, 1, 6, tzinfo=UTC), description="Två rader.\nDen andra.")
    data, errors = PlanForm.from_plan(plan).to_data()
    assert errors == {}
    again, issues = check_plan(data, default_reference())
    assert issues == [] and again == plan


def test_model_paths_find_their_form_fields() -> None:
    assert [
        form_key(p)
        for p in (
            "sessions[3].end",
            "sessions[1]",
            "registration.reminders_before_deadline[2]",
            "target_groups[1]",
            "invitation.organisations",
            "teams.max_size",
            "surveys.keep_free_text",
            "surveys",
            "plan",
            "nonsense",
        )
    ] == [
        "sessions-3-end",
        "sessions-1-start",
        "registration_reminders",
        "target_groups",
        "organisations",
        "teams_max_size",
        "keep_free_text",
        "surveys_window",
        "",
        "",
    ]


def test_a_new_round_gets_a_free_id() -> None:
    taken = {"lasa-skriva-vt32"}
    autumn = datetime(2032, 9, 1, tzinfo=UTC)
    assert next_round_id("lasa-skriva-ht31", None, set()) == "lasa-skriva-vt32"
    assert next_round_id("lasa-skriva-ht31", None, taken) == "lasa-skriva-vt32-2"
    assert next_round_id("lasa-skriva-vt32", None, set()) == "lasa-skriva-ht32"
    assert next_round_id("lasa-skriva-ht31", autumn, set()) == "lasa-skriva-ht32"
    assert next_round_id("natverk", None, set()) == "natverk-2"
    assert next_round_id("natverk-2", None, {"natverk-3"}) == "natverk-3-2"
    long = "a" * 64
    assert len(next_round_id(long, autumn, set())) <= 64
