"""The store's side of the year: action plans saved and replaced whole, costs added, listed, removed and imported in
one transaction, the activities of a year with their lines; and the 0006 migration. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from activities_impl.store import StoreError
from domain.action_plan import load_action_plan, parse_action_plan_yaml
from domain.costs import Cost, CostCategory
from migrations import alembic_config
from tests.activities_impl.test_migrations import HEAD, downgrade, revision
from tests.support.plans import plan_at

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "handlingsplan-2020.yaml"
PLAN = load_action_plan(str(EXAMPLE))
LEDA = "likvardighet-leda-likvardig-skola"
MENTOR = "kompetensforsorjning-mentor-forskola-skola"


def cost(amount_ore: int = 100_00, *, line: str | None = LEDA, activity: str | None = None, **more) -> Cost:
    return Cost(
        year=more.get("year", 2020),
        line_id=None if activity else line,
        activity_id=activity,
        amount_ore=amount_ore,
        date=more.get("day", date(2020, 3, 5)),
        category=more.get("category", CostCategory.SPEAKER),
        note=more.get("note", ""),
    )


def started(store, line: str | None, start: datetime = datetime(2020, 8, 1, tzinfo=UTC), current: bool = True):
    plan = plan_at(start)
    plan = plan.model_copy(update={"action_plan_line": line})
    store.save_plan(plan, make_current=current)
    return plan


def code(error: pytest.ExceptionInfo[StoreError]) -> str:
    return error.value.code


def test_an_action_plan_is_saved_and_read_back(store):
    text = EXAMPLE.read_text(encoding="utf-8")
    saved = store.save_action_plan(PLAN, text, "handlingsplan-2020.yaml")
    assert (saved.year, saved.replaced, saved.areas, saved.lines, saved.budget) == (2020, False, 5, 22, 925_000)
    assert store.action_plan(2020) == PLAN
    assert store.action_plan(2021) is None and store.action_plan_years() == [2020]
    source = store.action_plan_source(2020)
    assert source.name == "handlingsplan-2020.yaml" and source.text == text and source.imported_at.tzinfo is not None


def test_a_plan_with_budgets_per_area_and_a_rate_in_ore(store):
    plan = parse_action_plan_yaml(
        "year: 2019\nperiod: 2017–2019\nrate: 2.5\ncarried_over: -1000\nareas:\n"
        "  - name: Systematiskt kvalitetsarbete\n    budget: 150000\n    lines:\n"
        "      - {what: SKA i förskolan, how: Seminarieserie}\n"
        "      - {what: Kulturanalys, how: Handledarutbildning, fee: 500}\n"
    )
    store.save_action_plan(plan, "")
    back = store.action_plan(2019)
    assert back == plan and back.rate_ore == 250 and back.areas[0].budget == 150_000 and back.carried_over == -1000


def test_replacing_a_plan_replaces_its_areas_and_lines(store):
    store.save_action_plan(PLAN, "first")
    data = PLAN.model_dump()
    data["areas"] = data["areas"][:2]
    data["areas"][0]["lines"][1]["budget"] = 80_000
    smaller = type(PLAN).model_validate(data, strict=False)
    saved = store.save_action_plan(smaller, "second", "ny.yaml")
    assert saved.replaced and saved.areas == 2 and store.action_plan(2020) == smaller
    assert store.action_plan(2020).line(LEDA).budget == 80_000
    assert store.action_plan_source(2020).text == "second"


def test_a_line_with_costs_cannot_be_dropped(store):
    store.save_action_plan(PLAN, "first")
    store.add_cost(cost(line=MENTOR))
    data = PLAN.model_dump()
    data["areas"] = data["areas"][:2]  # no Kompetensförsörjning, where the mentor line is
    with pytest.raises(StoreError) as error:
        store.save_action_plan(type(PLAN).model_validate(data, strict=False), "second")
    assert code(error) == "line_has_costs" and MENTOR in str(error.value)
    assert store.action_plan(2020) == PLAN and store.action_plan_source(2020).text == "first"  # nothing changed
    with pytest.raises(StoreError) as error:
        store.remove_action_plan(2020)
    assert code(error) == "line_has_costs"


def test_a_plan_without_costs_can_be_removed(store):
    store.save_action_plan(PLAN, "")
    store.remove_action_plan(2020)
    assert store.action_plan(2020) is None and store.year_lines() == {}
    with pytest.raises(StoreError) as error:
        store.remove_action_plan(2020)
    assert code(error) == "no_action_plan"


def test_costs_on_lines_and_activities(store):
    store.save_action_plan(PLAN, "")
    activity = started(store, MENTOR)
    on_line = store.add_cost(cost(12_500_00, note="Arvode", day=date(2020, 4, 1)))
    on_activity = store.add_cost(cost(480_050, activity=activity.id, category=CostCategory.VENUE, day=date(2020, 3, 1)))
    assert on_line.id != on_activity.id and on_line.batch is None
    assert [c.id for c in store.costs(2020)] == [on_activity.id, on_line.id]  # by date
    assert store.costs(2020, line_id=LEDA) == [on_line]
    assert store.costs(2020, activity_id=activity.id) == [on_activity]
    assert store.cost(on_line.id).note == "Arvode" and store.cost(on_line.id).amount_ore == 12_500_00
    assert store.remove_cost(on_line.id) == on_line and store.cost(on_line.id) is None
    with pytest.raises(StoreError) as error:
        store.remove_cost(on_line.id)
    assert code(error) == "unknown_cost"


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (cost(line="finns-inte"), "unknown_line"),
        (cost(year=2021, day=date(2021, 1, 1)), "no_action_plan"),
        (cost(activity="ingen-sadan-aktivitet"), "unknown_activity"),
    ],
)
def test_a_cost_needs_its_line_or_activity(store, bad, expected):
    store.save_action_plan(PLAN, "")
    with pytest.raises(StoreError) as error:
        store.add_cost(bad)
    assert code(error) == expected and store.costs(bad.year) == []


def test_an_import_is_all_or_nothing_and_once(store):
    store.save_action_plan(PLAN, "")
    good = [cost(100_00), cost(200_00, line=MENTOR)]
    with pytest.raises(StoreError) as error:
        store.import_costs([*good, cost(line="finns-inte")], b"file one")
    assert code(error) == "unknown_line" and store.costs(2020) == []
    recorded = store.import_costs(good, b"file two")
    assert [c.amount_ore for c in recorded] == [100_00, 200_00] and len({c.batch for c in recorded}) == 1
    with pytest.raises(StoreError) as error:
        store.import_costs(good, b"file two")
    assert code(error) == "already_imported" and len(store.costs(2020)) == 2


def test_year_lines_name_what_a_cost_file_may_book_on(store):
    store.save_action_plan(PLAN, "")
    lines = store.year_lines()
    assert list(lines) == [2020] and lines[2020].whats[LEDA] == "Att leda en likvärdig skola"
    assert list(lines[2020].whats) == PLAN.line_ids


def test_the_activities_of_a_year_with_their_lines(store):
    store.save_action_plan(PLAN, "")
    named = started(store, LEDA)
    outside = started(store, None)
    started(store, MENTOR, datetime(2021, 2, 1, tzinfo=UTC))  # the next year
    started(store, MENTOR, current=False)  # a draft never started
    assert store.activity_lines(2020) == dict(sorted({named.id: LEDA, outside.id: None}.items()))


def test_an_activity_s_line_is_checked_against_the_plan_of_its_year(store):
    unknown = plan_at(datetime(2020, 8, 1, tzinfo=UTC)).model_copy(update={"action_plan_line": "inte-en-rad"})
    assert store.action_plan_line_problems(unknown) == []  # no plan stored for 2020 yet
    store.save_action_plan(PLAN, "")
    [found] = store.action_plan_line_problems(unknown)
    assert found.code == "unknown_action_plan_line" and found.details["year"] == 2020
    known = unknown.model_copy(update={"action_plan_line": LEDA})
    assert store.action_plan_line_problems(known) == []


def test_upgrade_from_0005_adds_the_year_tables_and_keeps_the_data(store):
    plan = started(store, None)
    previous = ScriptDirectory.from_config(alembic_config(store.url)).get_revision("0006").down_revision
    assert previous == "0005"
    downgrade(store, "0005")
    with store.engine.connect() as connection:
        assert not {"action_plan", "action_plan_area", "action_plan_line", "cost"} & set(
            inspect(connection).get_table_names()
        )
    store.migrate()
    assert revision(store) == HEAD
    assert store.plan(plan.id).id == plan.id
    store.save_action_plan(PLAN, "")
    assert store.add_cost(cost(activity=plan.id)).activity_id == plan.id
