"""The year in the back-office (`/admin/year`): the action plan with its lines and activities, importing a plan file
(every problem by row and field, nothing half-saved), editing a line; costs added, removed and imported, budget
against outcome, the invoice basis per organisation as XLSX and CSV. Coordinators change, viewers read (403),
forms without the CSRF token change nothing, and every change is in the office's log."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook

from activities_impl.invoicing import fee_activities
from api.backoffice import BackOfficeConfig
from api.backoffice.context import OFFICE
from api.web import create_app
from domain.action_plan import load_action_plan
from domain.costs import Cost, CostCategory
from domain.lifecycle import SeatStatus
from domain.staff import Role
from tests.support.backoffice import csrf_of, post_form, sign_in
from tests.support.plans import plan_at

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "handlingsplan-2020.yaml"
PLAN = load_action_plan(str(EXAMPLE))
YEAR = "/admin/year/2020"
ECONOMY = "/admin/year/2020/ekonomi"
LEDA = "likvardighet-leda-likvardig-skola"
BIENNALEN = "likvardighet-fritidshemsbiennalen"  # fee 1500 kr


@pytest.fixture
def client(store) -> TestClient:
    app = create_app(store, secret_key="k" * 40, backoffice=BackOfficeConfig())
    with TestClient(app, base_url="https://testserver") as client:
        yield client


@pytest.fixture
def planned(store):
    store.save_action_plan(PLAN, EXAMPLE.read_text(encoding="utf-8"), "handlingsplan-2020.yaml")
    return PLAN


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def error_at(html: str, field: str) -> str | None:
    found = re.search(rf'<p class="error" id="{field}-error"><span class="skip">Fel: </span>([^<]*)</p>', html)
    return " ".join(unescape(found.group(1)).split()) if found else None


def office_log(store) -> list[tuple[str, dict]]:
    return [(e.kind, json.loads(e.details_json)) for e in store.audit_log(OFFICE)]


def started(store, line: str | None, *, title: str = "Testaktivitet", id: str | None = None):
    plan = plan_at(datetime(2020, 8, 1, tzinfo=UTC), title=title, **({"id": id} if id else {}))
    plan = plan.model_copy(update={"action_plan_line": line})
    store.save_plan(plan, make_current=True)
    return plan


def register(store, activity_id: str, organisation: str, n: int, status=SeatStatus.CONFIRMED, team_size: int = 1):
    ids = []
    for i in range(n):
        email = f"{organisation}-{status.value}-{i}-{team_size}@skola.test"
        pid, _ = store.enrol_participant(
            activity_id, name=f"Person {i}", email=email, organisation_id=organisation, role="lärare"
        )
        store.record_registration(
            registration_id=f"{activity_id}-{email}",
            activity_id=activity_id,
            participant_id=pid,
            status=status.value,
            team_size=team_size,
            seq=abs(hash(email)) % 1_000_000,
        )
        ids.append(pid)
    return ids


def upload(client, page: str, action: str, field: str, name: str, content: bytes, **more: str):
    html = client.get(page).text
    return client.post(
        action,
        data={"csrf_token": csrf_of(html), **more},
        files={field: (name, content, "application/octet-stream")},
        follow_redirects=False,
    )


def xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- the action plan ----------------------------------------------------------------------------------------------
def test_the_year_page_shows_the_plan_its_lines_and_activities_in_and_outside_it(client, store, planned):
    on_line = started(store, LEDA, title="Att leda en likvärdig skola, omgång 1")
    outside = started(store, None, title="Extra nätverksträff")
    astray = started(store, "likvardighet-finns-inte", title="Aktivitet med en gammal rad")
    sign_in(client, store, "ledning@miun.se", Role.VIEWER)
    assert client.get("/admin/year", follow_redirects=False).headers["location"].startswith("/admin/year/")
    page = client.get(YEAR)
    assert page.status_code == 200
    shown = text(page.text)
    assert "Handlingsplan 2020" in shown and "Verksamhetsperiod 2020–2022" in shown and "925 000 kr" in shown
    assert "<caption>Raderna i Likvärdighet</caption>" in page.text
    assert "Att leda en likvärdig skola Nätverk för rektorer och biträdande rektorer 70 000 kr Ingen" in shown
    assert "Fritidshemsbiennalen" in shown and "1 500 kr" in shown
    row = page.text.split(f'id="rad-{LEDA}"')[1].split("</tr>")[0]
    assert f"/admin/activities/{on_line.id}" in row
    outside_part = page.text.split('id="utanfor"')[1]
    assert f"/admin/activities/{outside.id}" in outside_part and f"/admin/activities/{astray.id}" in outside_part
    assert "anger raden likvardighet-finns-inte" in text(outside_part)
    # a viewer reads only
    assert "/edit" not in page.text and 'action="/admin/year/2020/import"' not in page.text
    assert client.get(f"{YEAR}/lines/{LEDA}/edit").status_code == 403


def test_a_year_without_a_plan_and_years_that_do_not_exist(client, store):
    sign_in(client, store)
    page = client.get("/admin/year/2031")
    assert page.status_code == 200 and "Det finns ingen handlingsplan för 2031" in text(page.text)
    assert client.get("/admin/year/1999").status_code == 404
    assert client.get("/admin/year/tjugo").status_code == 404
    assert client.get("/admin/year/2031/lines/inte-en-rad/edit").status_code == 404


def test_a_coordinator_imports_a_plan_file_and_it_is_logged(client, store):
    sign_in(client, store)
    response = upload(client, YEAR, f"{YEAR}/import", "plan", "handlingsplan-2020.yaml", EXAMPLE.read_bytes())
    assert response.status_code == 303 and response.headers["location"] == f"{YEAR}?klart=importerad"
    assert store.action_plan(2020) == PLAN
    assert store.action_plan_source(2020).name == "handlingsplan-2020.yaml"
    page = client.get(response.headers["location"])
    assert "Handlingsplanen är importerad." in page.text and "Att organisera en likvärdig skola" in page.text
    [(kind, details)] = office_log(store)
    assert kind == "action_plan_imported" and details["year"] == 2020 and details["lines"] == 22
    # the same year again: replaced
    again = upload(client, YEAR, f"{YEAR}/import", "plan", "igen.yaml", EXAMPLE.read_bytes())
    assert again.headers["location"] == f"{YEAR}?klart=ersatt"


def test_a_plan_spreadsheet_is_imported(client, store):
    sign_in(client, store)
    sheet = xlsx(
        [
            ["År", 2021],
            ["Period", "2020–2022"],
            ["Insatsområde", "Vad", "Hur", "Budget", "Deltagaravgift"],
            ["Likvärdighet", "Att leda en likvärdig skola", "Nätverk", 70000, None],
            [None, "Fritidshemsbiennalen", "Konferens", 40000, 1500],
        ]
    )
    response = upload(client, "/admin/year/2021", "/admin/year/2021/import", "plan", "plan.xlsx", sheet)
    assert response.status_code == 303, response.text
    plan = store.action_plan(2021)
    assert plan.budget == 110_000 and plan.line("likvardighet-fritidshemsbiennalen").fee == 1500
    assert "fee: 1500" in store.action_plan_source(2021).text  # kept as YAML


def test_every_problem_of_a_plan_file_is_shown_by_row_and_field_and_nothing_is_saved(client, store):
    sign_in(client, store)
    bad = (
        "year: 2020\nperiod: 2020–2022\nareas:\n"
        "  - name: Likvärdighet\n    lines:\n"
        "      - what: Att leda en likvärdig skola\n        budget: mycket\n"
        "      - what: ''\n        budget: 1000\n        fee: -5\n"
    )
    response = upload(client, YEAR, f"{YEAR}/import", "plan", "plan.yaml", bad.encode())
    assert response.status_code == 422
    shown = text(response.text)
    assert "Handlingsplanen är inte importerad: 3 fel i filen" in shown
    assert "Rad 7, areas[0].lines[0].budget: ska vara ett belopp i hela kronor" in shown
    assert "Rad 8, areas[0].lines[1].what" in shown and "Rad 10, areas[0].lines[1].fee" in shown
    assert 'aria-invalid="true"' in response.text and "Ingenting är ändrat." in shown
    sheet = xlsx([["År", 2020], ["Period", "2020–2022"], ["Vad", "Hur", "Budget"], ["Kurs", "Seminarier", "75 000,50"]])
    response = upload(client, YEAR, f"{YEAR}/import", "plan", "plan.xlsx", sheet)
    assert response.status_code == 422 and "Rad 4, budget: ska vara hela kronor" in text(response.text)
    assert upload(client, YEAR, f"{YEAR}/import", "plan", "", b"").status_code == 422
    garbage = upload(client, YEAR, f"{YEAR}/import", "plan", "plan.yaml", b"\xff\xfe\x00")
    assert garbage.status_code == 422 and "Fil: filen är inte text i UTF-8" in text(garbage.text)
    assert store.action_plan_years() == [] and office_log(store) == []


def test_a_plan_that_drops_a_line_with_costs_is_refused_whole(client, store, planned):
    store.add_cost(
        Cost(year=2020, line_id=LEDA, amount_ore=5000_00, date=date(2020, 3, 1), category=CostCategory.VENUE)
    )
    sign_in(client, store)
    smaller = EXAMPLE.read_text(encoding="utf-8").replace("Att leda en likvärdig skola", "Att leda skolan")
    response = upload(client, YEAR, f"{YEAR}/import", "plan", "ny.yaml", smaller.encode())
    assert response.status_code == 409
    assert LEDA in response.text and "Ingenting är ändrat." in response.text
    assert store.action_plan(2020) == PLAN and office_log(store) == []


def test_viewers_and_forms_without_the_csrf_token_import_nothing(client, store):
    sign_in(client, store, "ledning@miun.se", Role.VIEWER)
    files = {"plan": ("plan.yaml", EXAMPLE.read_bytes(), "application/yaml")}
    token = csrf_of(client.get(YEAR).text)  # the sign-out form's token
    assert client.post(f"{YEAR}/import", data={"csrf_token": token}, files=files).status_code == 403
    sign_in(client, store)
    assert client.post(f"{YEAR}/import", files=files).status_code == 403
    assert store.action_plan_years() == []


# -- editing a line -----------------------------------------------------------------------------------------------
def edit_form(client, line: str = LEDA) -> dict[str, str]:
    page = client.get(f"{YEAR}/lines/{line}/edit")
    assert page.status_code == 200
    html = page.text
    values = dict(re.findall(r'name="(\w+)" value="([^"]*)"', html))
    return {k: unescape(v) for k, v in values.items()}


def test_a_coordinator_changes_a_line_and_its_id_stays(client, store, planned):
    activity = started(store, LEDA)
    sign_in(client, store)
    form = edit_form(client)
    assert form["what"] == "Att leda en likvärdig skola" and form["budget"] == "70000" and form["fee"] == ""
    form |= {"what": "Att leda en likvärdig förskola och skola", "budget": "80 000", "fee": "500"}
    response = client.post(f"{YEAR}/lines/{LEDA}/edit", data=form, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"{YEAR}?klart=andrad#rad-{LEDA}"
    line = store.action_plan(2020).line(LEDA)
    assert (line.what, line.budget, line.fee) == ("Att leda en likvärdig förskola och skola", 80_000, 500)
    assert store.action_plan(2020).budget == 935_000
    assert store.activity_lines(2020)[activity.id] == LEDA
    [(kind, details)] = office_log(store)
    assert kind == "action_plan_line_changed"
    assert details == {"year": 2020, "line_id": LEDA, "texts": ["what"], "budget": [70000, 80000], "fee": [None, 500]}
    page = text(client.get(response.headers["location"]).text)
    assert "Raden är ändrad." in page and "80 000 kr" in page


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"budget": "mycket"}, "budget", "Skriv ett belopp i hela kronor"),
        ({"budget": ""}, "budget", "Skriv ett belopp i kronor"),
        ({"budget": "1234,50"}, "budget", "hela kronor (utan ören)"),
        ({"budget": "-5"}, "budget", "får inte vara negativt"),
        ({"budget": "999999999"}, "budget", "högst 100 000 000 kr"),
        ({"fee": "100001"}, "fee", "högst 100 000 kr"),
        ({"what": ""}, "what", "Skriv vad raden gäller."),
        ({"what": "x" * 201}, "what", "Högst 200 tecken"),
        ({"how": "Rad ett\nrad två"}, "how", "otillåtet tecken"),
    ],
)
def test_a_bad_line_is_refused_with_the_reason_and_nothing_is_written(client, store, planned, changes, field, says):
    sign_in(client, store)
    form = edit_form(client) | changes
    response = client.post(f"{YEAR}/lines/{LEDA}/edit", data=form, follow_redirects=False)
    assert response.status_code == 422
    assert says in (error_at(response.text, field) or ""), response.text[-2000:]
    assert 'role="alert"' in response.text
    assert store.action_plan(2020) == PLAN and office_log(store) == []


def test_a_line_may_not_take_its_area_over_its_budget(client, store):
    plan = load_action_plan(str(EXAMPLE)).model_copy()
    data = plan.model_dump()
    data["areas"][0]["budget"] = 300_000  # the lines have 285 000
    store.save_action_plan(type(plan).model_validate(data, strict=False), "")
    sign_in(client, store)
    response = client.post(f"{YEAR}/lines/{LEDA}/edit", data=edit_form(client) | {"budget": "90000"})
    assert response.status_code == 422
    assert "den här raden kan ha högst 85 000 kr" in error_at(response.text, "budget")
    ok = client.post(f"{YEAR}/lines/{LEDA}/edit", data=edit_form(client) | {"budget": "85000"}, follow_redirects=False)
    assert ok.status_code == 303


def test_a_line_changed_since_the_form_was_opened_is_not_overwritten(client, store, planned):
    sign_in(client, store)
    stale = edit_form(client) | {"budget": "1"}
    fresh = edit_form(client) | {"budget": "2"}
    assert client.post(f"{YEAR}/lines/{LEDA}/edit", data=fresh, follow_redirects=False).status_code == 303
    response = client.post(f"{YEAR}/lines/{LEDA}/edit", data=stale, follow_redirects=False)
    assert response.status_code == 409 and "har ändrats sedan du öppnade formuläret" in response.text
    assert store.action_plan(2020).line(LEDA).budget == 2


def test_viewers_and_forms_without_the_csrf_token_change_no_line(client, store, planned):
    sign_in(client, store)
    form = edit_form(client) | {"budget": "1"}
    del form["csrf_token"]
    assert client.post(f"{YEAR}/lines/{LEDA}/edit", data=form).status_code == 403
    sign_in(client, store, "ledning@miun.se", Role.VIEWER)
    token = csrf_of(client.get(YEAR).text)
    assert client.post(f"{YEAR}/lines/{LEDA}/edit", data=form | {"csrf_token": token}).status_code == 403
    assert store.action_plan(2020) == PLAN and office_log(store) == []


# -- costs --------------------------------------------------------------------------------------------------------
GOOD_COST = {"date": "2020-09-23", "amount": "12 500,50", "category": "föreläsare", "target": f"rad:{LEDA}"}


def test_a_coordinator_adds_and_removes_costs_and_the_outcome_follows(client, store, planned):
    activity = started(store, BIENNALEN, title="Fritidshemsbiennalen 2020")
    sign_in(client, store)
    response = post_form(client, ECONOMY, f"{YEAR}/costs", GOOD_COST | {"note": "Föreläsare 23 september"})
    assert response.status_code == 303 and response.headers["location"] == f"{ECONOMY}?klart=tillagd#kostnader"
    on_activity = GOOD_COST | {"target": f"aktivitet:{activity.id}", "amount": "4000", "category": "lokal"}
    assert post_form(client, ECONOMY, f"{YEAR}/costs", on_activity).status_code == 303
    first, second = store.costs(2020)
    assert (first.line_id, first.amount_ore, first.category, first.note) == (
        LEDA,
        12_500_50,
        CostCategory.SPEAKER,
        "Föreläsare 23 september",
    )
    assert (second.activity_id, second.amount_ore) == (activity.id, 4000_00)
    page = text(client.get(ECONOMY + "?klart=tillagd").text)
    assert "Kostnaden är tillagd." in page and "2 av 2 kostnader 2020, sammanlagt 16 500,50 kr" in page
    assert "Likvärdighet: Att leda en likvärdig skola 70 000 kr 12 500,50 kr 57 499,50 kr" in page
    assert "Likvärdighet: Fritidshemsbiennalen 40 000 kr 4 000 kr 36 000 kr" in page
    assert "Totalt 925 000 kr 16 500,50 kr 908 499,50 kr" in page
    assert "Utfall per slag: Lokal 4 000 kr, Föreläsare 12 500,50 kr." in page
    filtered = text(client.get(ECONOMY, params={"aktivitet": activity.id}).text)
    assert "1 av 2 kostnader 2020, sammanlagt 4 000 kr" in filtered
    filtered = text(client.get(ECONOMY, params={"rad": LEDA}).text)
    assert "1 av 2 kostnader 2020, sammanlagt 12 500,50 kr" in filtered
    # removing: a confirmation, then the cost is gone
    confirm = client.get(f"{YEAR}/costs/{first.id}/remove")
    assert confirm.status_code == 200 and "12 500,50 kr" in text(confirm.text)
    removed = client.post(
        f"{YEAR}/costs/{first.id}/remove", data={"csrf_token": csrf_of(confirm.text)}, follow_redirects=False
    )
    assert removed.status_code == 303 and [c.id for c in store.costs(2020)] == [second.id]
    assert client.get(f"{YEAR}/costs/{first.id}/remove").status_code == 404
    assert client.get(f"/admin/year/2021/costs/{second.id}/remove").status_code == 404  # another year's page
    kinds = [kind for kind, _ in office_log(store)]
    assert kinds == ["cost_added", "cost_added", "cost_removed"]
    assert office_log(store)[0][1] == {
        "cost_id": first.id,
        "year": 2020,
        "amount_ore": 12_500_50,
        "line_id": LEDA,
        "on_activity": None,
    }


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"amount": ""}, "amount", "Skriv beloppet."),
        ({"amount": "tolv"}, "amount", "Skriv ett belopp i kronor"),
        ({"amount": "-5"}, "amount", "större än 0"),
        ({"amount": "0"}, "amount", "större än 0"),
        ({"amount": "1,234"}, "amount", "högst två decimaler"),
        ({"amount": "99999999999"}, "amount", "högst 10 000 000 kr"),
        ({"date": "2020-02-30"}, "date", "Skriv ett datum som finns"),
        ({"date": "2023-01-01"}, "date", "för långt från 2020"),
        ({"date": ""}, "date", "Skriv datumet"),
        ({"category": "champagne"}, "category", "Välj vad kostnaden gäller."),
        ({"target": "rad:finns-inte"}, "target", "Välj en rad i handlingsplanen eller en aktivitet"),
        ({"target": "aktivitet:finns-inte"}, "target", "Välj en rad i handlingsplanen eller en aktivitet"),
        ({"target": ""}, "target", "Välj en rad i handlingsplanen eller en aktivitet"),
        ({"note": "n" * 201}, "note", "Högst 200 tecken"),
        ({"note": "rad\x1b[31m"}, "note", "otillåtet tecken"),
    ],
)
def test_a_bad_cost_is_refused_with_the_reason_and_nothing_is_written(client, store, planned, changes, field, says):
    sign_in(client, store)
    response = post_form(client, ECONOMY, f"{YEAR}/costs", GOOD_COST | changes)
    assert response.status_code == 422
    assert says in (error_at(response.text, field) or ""), response.text[-3000:]
    assert "Kostnaden är inte sparad." in response.text
    assert store.costs(2020) == [] and office_log(store) == []


def test_viewers_and_forms_without_the_csrf_token_add_and_remove_no_cost(client, store, planned):
    cost = store.add_cost(
        Cost(year=2020, line_id=LEDA, amount_ore=100_00, date=date(2020, 3, 1), category=CostCategory.FOOD)
    )
    sign_in(client, store)
    assert client.post(f"{YEAR}/costs", data=GOOD_COST).status_code == 403
    assert client.post(f"{YEAR}/costs/{cost.id}/remove").status_code == 403
    sign_in(client, store, "ledning@miun.se", Role.VIEWER)
    page = client.get(ECONOMY)
    assert page.status_code == 200 and "Lägg till en kostnad" not in page.text and "/remove" not in page.text
    token = csrf_of(page.text)
    assert client.post(f"{YEAR}/costs", data=GOOD_COST | {"csrf_token": token}).status_code == 403
    assert client.post(f"{YEAR}/costs/{cost.id}/remove", data={"csrf_token": token}).status_code == 403
    assert client.get(f"{YEAR}/costs/{cost.id}/remove").status_code == 403
    files = {"file": ("k.csv", b"rad;belopp;datum;kategori\n", "text/csv")}
    assert client.post(f"{YEAR}/costs/import", data={"csrf_token": token}, files=files).status_code == 403
    assert store.costs(2020) == [cost] and office_log(store) == []


def test_a_file_of_costs_is_imported_all_or_nothing_and_once(client, store, planned):
    activity = started(store, None, title="Extra nätverksträff")
    sign_in(client, store)
    good = (
        "rad;aktivitet;belopp;datum;kategori;anteckning\n"
        f"{LEDA};;2 000;2020-03-05;lokal;Sal O111\n"
        f";{activity.id};950 kr;2020-09-01;fika;\n"
        "Fritidshemsbiennalen;;10000;2020-10-10;resor;\n"
    ).encode()
    response = upload(client, ECONOMY, f"{YEAR}/costs/import", "file", "kostnader.csv", good)
    assert response.status_code == 303 and response.headers["location"] == f"{ECONOMY}?klart=importerade#kostnader"
    assert [(c.line_id, c.activity_id, c.amount_ore) for c in store.costs(2020)] == [
        (LEDA, None, 2000_00),
        (None, activity.id, 950_00),
        (BIENNALEN, None, 10_000_00),
    ]
    [(kind, details)] = office_log(store)
    assert kind == "costs_imported" and details == {"years": [2020], "costs": 3, "total_ore": 12_950_00}
    page = text(client.get(response.headers["location"]).text)
    assert "Kostnaderna är importerade." in page and "Utanför handlingsplanen: Extra nätverksträff" in page
    again = upload(client, ECONOMY, f"{YEAR}/costs/import", "file", "kostnader.csv", good)
    assert again.status_code == 409 and "Den här filen är redan importerad." in again.text
    assert len(store.costs(2020)) == 3


def test_every_problem_of_a_cost_file_is_shown_and_nothing_is_recorded(client, store, planned):
    sign_in(client, store)
    bad = (
        "rad;belopp;datum;kategori\n"
        f"{LEDA};2 000;2020-03-05;lokal\n"
        "finns-inte;2 000;2020-03-05;lokal\n"
        f"{LEDA};tusen;2020-13-05;champagne\n"
    ).encode()
    response = upload(client, ECONOMY, f"{YEAR}/costs/import", "file", "kostnader.csv", bad)
    assert response.status_code == 422
    shown = text(response.text)
    assert "Kostnaderna är inte importerade: 4 fel i filen" in shown
    assert "Rad 3, rad: handlingsplanen för 2020 har ingen rad ”finns-inte”" in shown
    assert "Rad 4, datum" in shown and "Rad 4, belopp" in shown and "Rad 4, kategori" in shown
    no_header = upload(client, ECONOMY, f"{YEAR}/costs/import", "file", "k.csv", b"a;b\n1;2\n")
    assert (
        no_header.status_code == 422
        and "Rad 1, rubrikrad: kolumnerna rad eller aktivitet, belopp, datum, kategori saknas" in text(no_header.text)
    )
    nothing = upload(client, ECONOMY, f"{YEAR}/costs/import", "file", "", b"")
    assert nothing.status_code == 422 and "Välj en fil att ladda upp." in nothing.text
    assert store.costs(2020) == [] and office_log(store) == []


# -- the invoice basis --------------------------------------------------------------------------------------------
def test_the_invoice_basis_per_organisation_on_the_page_and_as_xlsx_and_csv(client, store, planned):
    biennalen = started(store, BIENNALEN, title="Fritidshemsbiennalen 2020")
    free = started(store, LEDA, title="Att leda en likvärdig skola")  # no fee
    sundsvall = register(store, biennalen.id, "sundsvall", 2)
    register(store, biennalen.id, "sundsvall", 1, team_size=3)  # a team of three
    register(store, biennalen.id, "are", 1)
    register(store, biennalen.id, "are", 2, status=SeatStatus.WITHDRAWN)
    register(store, biennalen.id, "ostersund", 1, status=SeatStatus.WAITLISTED)
    register(store, free.id, "sundsvall", 4)
    sign_in(client, store, "ledning@miun.se", Role.VIEWER)
    page = text(client.get(ECONOMY).text)
    assert (
        "Sundsvalls kommun Fritidshemsbiennalen 2020 5 1 500 kr 7 500 kr "
        "Åre kommun Fritidshemsbiennalen 2020 1 1 500 kr 1 500 kr"
    ) in page
    assert "Totalt 6 9 000 kr" in page and "Östersund" not in page.split("Fakturaunderlag 2020")[1]

    response = client.get(f"{YEAR}/fakturaunderlag.xlsx")
    assert response.status_code == 200
    assert "fakturaunderlag-2020-bekraftade.xlsx" in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content))
    rows = [list(r) for r in book["Fakturaunderlag"].iter_rows(values_only=True) if any(r)]
    assert rows[1][0] == "Organisation"
    assert rows[2:] == [
        ["Sundsvalls kommun", "sundsvall", "Fritidshemsbiennalen 2020", biennalen.id, 5, 1500, 7500],
        ["Åre kommun", "are", "Fritidshemsbiennalen 2020", biennalen.id, 1, 1500, 1500],
        ["Totalt", None, None, None, 6, None, 9000],
    ]
    csv_response = client.get(f"{YEAR}/fakturaunderlag.csv", params={"deltagare": "bekraftade"})
    assert csv_response.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig")), delimiter=";"))
    assert lines[0][0] == "Organisation" and lines[1:] == [
        ["Sundsvalls kommun", "sundsvall", "Fritidshemsbiennalen 2020", biennalen.id, "5", "1500", "7500"],
        ["Åre kommun", "are", "Fritidshemsbiennalen 2020", biennalen.id, "1", "1500", "1500"],
    ]
    # those present at one session or more
    store.record_attendance(biennalen.id, 1, [sundsvall[0]])
    attended = client.get(f"{YEAR}/fakturaunderlag.csv", params={"deltagare": "narvarande"})
    assert "fakturaunderlag-2020-narvarande.csv" in attended.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(attended.content.decode("utf-8-sig")), delimiter=";"))
    assert lines[1:] == [
        ["Sundsvalls kommun", "sundsvall", "Fritidshemsbiennalen 2020", biennalen.id, "1", "1500", "1500"]
    ]
    budget = client.get(f"{YEAR}/budget-utfall.csv")
    assert budget.status_code == 200 and "budget-och-utfall-2020.csv" in budget.headers["content-disposition"]
    assert "TOTALT;;;925000;0" in budget.content.decode("utf-8-sig")
    assert client.get(f"{YEAR}/fakturaunderlag.pdf").status_code == 404
    assert client.get(f"{YEAR}/fakturaunderlag.csv", params={"deltagare": "alla"}).status_code == 404


def test_the_invoice_basis_of_those_present(store, planned):
    biennalen = started(store, BIENNALEN, title="Fritidshemsbiennalen 2020")
    sundsvall = register(store, biennalen.id, "sundsvall", 3)
    are = register(store, biennalen.id, "are", 2, team_size=2)
    store.record_attendance(biennalen.id, 1, [sundsvall[0], are[0]])
    store.record_attendance(biennalen.id, 2, [sundsvall[0], sundsvall[1]])
    [activity] = fee_activities(store, 2020, "attended")
    assert activity.participants == {"are": 2, "sundsvall": 2}
    [activity] = fee_activities(store, 2020, "confirmed")
    assert activity.participants == {"are": 4, "sundsvall": 3}
    assert fee_activities(store, 2021) == []
