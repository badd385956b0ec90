"""The activity form's line of the action plan (`action_plan_line`): offered from the stored action plans (the
activity's year first), kept when a plan is edited in the form, checked against the plan of the activity's year (an
unknown line is refused in Swedish, nothing saved), checked in a YAML upload too, and named in the preview."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import cast

import pytest
from fastapi.testclient import TestClient

from activities_impl.store import Store
from api.backoffice import BackOfficeConfig
from api.backoffice.plan_check import RULES
from api.backoffice.plan_pages import line_choices
from api.service import Service
from api.web import create_app
from domain.action_plan import load_action_plan, parse_action_plan_yaml
from tests.api.backoffice.test_plan_forms import ACTIVITY, NEW, VALID, FakeService, plan_yaml
from tests.support.backoffice import csrf_of, form_fields, sign_in

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "handlingsplan-2020.yaml"
PLAN_2020 = load_action_plan(str(EXAMPLE))
# The same plan as the 2031 one (VALID's sessions are in 2031), with a line of its own.
PLAN_2031 = parse_action_plan_yaml(
    EXAMPLE.read_text(encoding="utf-8")
    .replace("year: 2020", "year: 2031")
    .replace("period: 2020–2022", "period: 2031–2033")
    .replace("RUN-webbinarium", "RUN-poddar")
)
LEDA = "likvardighet-leda-likvardig-skola"
PODD = "likvardighet-run-poddar"


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    app = create_app(store, cast(Service, FakeService(store)), secret_key="k" * 40, backoffice=BackOfficeConfig())
    with TestClient(app, base_url="https://testserver") as client:
        yield client


@pytest.fixture
def plans(store: Store) -> None:
    store.save_action_plan(PLAN_2020, "")
    store.save_action_plan(PLAN_2031, "")


def error_at(html: str, field: str) -> str | None:
    found = re.search(rf'<p class="error" id="{field}-error"><span class="skip">Fel: </span>([^<]*)</p>', html)
    return " ".join(unescape(found.group(1)).split()) if found else None


def save(client: TestClient, data: dict) -> object:
    page = client.get(NEW)
    return client.post(NEW, data={"csrf_token": csrf_of(page.text), **data, "action": "save"}, follow_redirects=False)


def test_the_lines_are_offered_by_plan_the_activity_year_first_each_once() -> None:
    groups = line_choices([PLAN_2020, PLAN_2031], 2031, "")
    assert [name for name, _ in groups] == ["Handlingsplan 2031", "Handlingsplan 2020"]
    assert (LEDA, "Likvärdighet: Att leda en likvärdig skola") in groups[0][1]
    assert groups[1][1] == [("likvardighet-run-webbinarium", "Likvärdighet: RUN-webbinarium")]  # only what 2031 lacks
    assert line_choices([PLAN_2020], 2020, "gammal-rad")[-1] == (
        "Finns inte i någon handlingsplan",
        [("gammal-rad",) * 2],
    )
    assert line_choices([], 2020, "") == []


def test_the_form_offers_the_lines_and_a_plan_saved_from_it_keeps_its_line(client, store, plans) -> None:
    sign_in(client, store)
    page = client.get(NEW)
    assert '<select id="action_plan_line" name="action_plan_line"' in page.text
    assert '<option value="">Ingen rad: utanför handlingsplanen</option>' in page.text
    assert f'<option value="{PODD}">Likvärdighet: RUN-poddar</option>' in page.text
    response = save(client, VALID | {"action_plan_line": LEDA})
    assert response.status_code == 303, response.text[-2000:]
    assert store.latest_plan(ACTIVITY)[1].action_plan_line == LEDA
    # editing in the form keeps the line (it used to be dropped)
    edit = f"/admin/activities/{ACTIVITY}/edit"
    html = client.get(edit).text
    assert f'<option value="{LEDA}" selected>' in html
    fields = form_fields(html, edit)
    assert fields["action_plan_line"] == LEDA
    fields["title"] = "Läs- och skrivutveckling, omarbetad"
    assert client.post(edit, data={**fields, "action": "save"}, follow_redirects=False).status_code == 303
    version, plan = store.latest_plan(ACTIVITY)
    assert (version, plan.title, plan.action_plan_line) == (2, "Läs- och skrivutveckling, omarbetad", LEDA)
    preview = " ".join(client.get(f"/admin/activities/{ACTIVITY}/preview").text.split())
    assert "<dt>Rad i handlingsplanen</dt><dd>Likvärdighet: Att leda en likvärdig skola</dd>" in preview
    # and choosing no line takes it away
    fields["action_plan_line"] = ""
    assert client.post(edit, data={**fields, "action": "save"}, follow_redirects=False).status_code == 303
    assert store.latest_plan(ACTIVITY)[1].action_plan_line is None
    preview = " ".join(client.get(f"/admin/activities/{ACTIVITY}/preview").text.split())
    assert "<dd>Ingen: aktiviteten ligger utanför handlingsplanen</dd>" in preview


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (
            "likvardighet-run-webbinarium",  # the 2020 plan's, not the 2031 one's
            "Handlingsplanen för 2031 har ingen rad ”likvardighet-run-webbinarium”. Välj en rad i handlingsplanen "
            "för 2031",
        ),
        ("Inte en rad!", "Välj en rad i handlingsplanen i listan, eller ingen rad."),
        ("x" * 65, "Högst 64 tecken"),
    ],
)
def test_an_unknown_line_is_refused_in_swedish_and_nothing_is_saved(client, store, plans, line, says) -> None:
    sign_in(client, store)
    response = save(client, VALID | {"action_plan_line": line})
    assert response.status_code == 422
    assert says in (error_at(response.text, "action_plan_line") or ""), response.text[-3000:]
    assert "Rad i handlingsplanen:" in " ".join(unescape(response.text).split())  # in the summary, by its name
    assert store.latest_plan(ACTIVITY) is None


def test_a_year_without_an_action_plan_takes_any_line(client, store) -> None:
    sign_in(client, store)
    assert save(client, VALID | {"action_plan_line": LEDA}).status_code == 303
    assert store.latest_plan(ACTIVITY)[1].action_plan_line == LEDA


def test_an_uploaded_plan_is_checked_against_the_action_plan_too(client, store, plans) -> None:
    sign_in(client, store)
    page = client.get("/admin/activities/upload")

    def upload(line: str) -> object:
        files = {"plan": ("plan.yaml", plan_yaml(action_plan_line=line), "application/yaml")}  # sessions in 2031
        return client.post(
            "/admin/activities/upload", data={"csrf_token": csrf_of(page.text)}, files=files, follow_redirects=False
        )

    response = upload("finns-inte")
    assert response.status_code == 422
    assert "Rad i handlingsplanen: Handlingsplanen för 2031 har ingen rad ”finns-inte”" in unescape(response.text)
    assert store.latest_plan(ACTIVITY) is None
    assert upload(PODD).status_code == 303
    assert store.latest_plan(ACTIVITY)[1].action_plan_line == PODD


def test_the_code_has_its_swedish_sentence() -> None:
    assert "{year}" in RULES["unknown_action_plan_line"] and "{line}" in RULES["unknown_action_plan_line"]
