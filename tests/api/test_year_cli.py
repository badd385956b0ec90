"""`runflow year …`: the action plan, costs and contributions on the store alone (no Temporal).

The contract of every command: `--json` prints exactly one JSON object; bad input exits with code 2 and one
`error:` line (for a file: its first problem by row and field, and how many more); a store that cannot be used
exits with code 1.
"""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from activities_impl.store import Store
from tests.api.test_cli import one_error_line, one_json_object, run
from tests.support.plans import plan_at
from tests.support.ports import free_port
from worker.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "handlingsplan-2020.yaml"


@pytest.fixture
def env(tmp_path, monkeypatch) -> Path:
    """A migrated store with the reference data in a fresh data dir; Temporal at a closed port (never used)."""
    data_dir = tmp_path / "var"
    for name in list(os.environ):
        if name.startswith(("RUNFLOW_", "TEMPORAL_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("RUNFLOW_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    data_dir.mkdir(parents=True)
    run("db", "upgrade")
    yield data_dir
    get_settings.cache_clear()


def store() -> Store:
    return Store(get_settings().effective_database_url)


def xlsx(path: Path, rows: list[list]) -> Path:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- year plan import / show ---------------------------------------------------------------------------------------
def test_import_and_show_the_example_plan(env):
    result = run("year", "plan", "import", str(EXAMPLE), "--json")
    assert result.exit_code == 0, result.stderr
    data = one_json_object(result.stdout)
    assert (data["year"], data["period"], data["replaced"], data["areas"], data["lines"]) == (
        2020,
        "2020–2022",
        False,
        5,
        22,
    )
    assert data["budget_ore"] == 925_000_00 and "likvardighet-organisera-likvardig-skola" in data["line_ids"]
    assert store().action_plan_source(2020).text == EXAMPLE.read_text(encoding="utf-8")  # the YAML as written

    again = run("year", "plan", "import", str(EXAMPLE))
    assert again.exit_code == 0 and again.stdout.startswith("replaced the action plan for 2020 (2020–2022): 5 focus")
    assert "925 000 kr" in again.stdout

    shown = run("year", "plan", "show", "2020", "--json")
    assert shown.exit_code == 0, shown.stderr
    plan = one_json_object(shown.stdout)
    assert plan["budget_ore"] == 925_000_00 and plan["rate_ore"] == 200 and plan["source"] == "handlingsplan-2020.yaml"
    assert [a["name"] for a in plan["areas"]][:2] == ["Likvärdighet", "SKA och ledarskap"]
    assert plan["areas"][0]["lines"][0] == {
        "id": "likvardighet-organisera-likvardig-skola",
        "what": "Att organisera en likvärdig skola",
        "how": "Workshopserie för team på huvudmannanivå, fyra träffar",
        "budget_ore": 90_000_00,
        "fee_ore": None,
    }
    human = run("year", "plan", "show", "2020")
    assert "likvardighet-fritidshemsbiennalen: Fritidshemsbiennalen – Konferens" in human.stdout
    assert "fee 1 500 kr" in human.stdout and human.stdout.rstrip().endswith("total: 925 000 kr")


def test_a_plan_from_a_spreadsheet(env, tmp_path):
    path = xlsx(
        tmp_path / "plan.xlsx",
        [
            ["År", 2021],
            ["Period", "2020–2022"],
            ["Överfört överskott", "455 000"],
            ["Insatsområde", "Vad", "Hur", "Budget"],
            ["Likvärdighet", "Att leda en likvärdig skola", "Nätverk", 70000],
        ],
    )
    result = run("year", "plan", "import", str(path))
    assert result.exit_code == 0, result.stderr
    assert store().action_plan(2021).carried_over == 455_000
    assert store().action_plan_source(2021).text.startswith("year: 2021\n")  # kept as YAML


def test_a_bad_plan_is_one_line_with_its_first_problem_and_how_many_more(env, tmp_path):
    text = (
        EXAMPLE.read_text(encoding="utf-8")
        .replace("budget: 90000", "budget: 90 000,50")
        .replace("budget: 70000", "budget: -5")
    )
    path = write(tmp_path / "bad.yaml", text)
    line = one_error_line(run("year", "plan", "import", str(path)))
    assert line == (
        f"error: {path}: row 20, areas[0].lines[0].budget: must be whole kronor (no öre) (got '90 000,50') (1 more)"
    )
    result = run("year", "plan", "import", str(path), "--json")
    assert result.exit_code == 2
    data = one_json_object(result.stdout)
    assert data["valid"] is False
    assert [(p["row"], p["field"], p["code"]) for p in data["problems"]] == [
        (20, "areas[0].lines[0].budget", "invalid_amount"),
        (23, "areas[0].lines[1].budget", "invalid_amount"),
    ]
    assert data["problems"][1]["text"] == "Rad 23, areas[0].lines[1].budget: får inte vara negativt"
    assert store().action_plan(2020) is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("year", "plan", "show", "2020"), "no action plan for 2020"),
        (("year", "plan", "show", "1999"), "2000"),
        (("year", "plan", "import", "/nowhere/plan.yaml"), "cannot read"),
        (("year", "costs", "import", "/nowhere/costs.csv"), "cannot read"),
        (("year", "contributions", "1990"), "2000"),
    ],
)
def test_bad_arguments_are_one_line(env, args, expected):
    assert expected in one_error_line(run(*args))


def test_replacing_a_plan_that_drops_a_line_with_costs_is_refused(env, tmp_path):
    run("year", "plan", "import", str(EXAMPLE))
    costs = write(tmp_path / "costs.csv", "Rad;Belopp;Datum;Kategori\nRUN-webbinarium;1 000;2020-10-01;föreläsare\n")
    assert run("year", "costs", "import", str(costs)).exit_code == 0
    smaller = write(
        tmp_path / "smaller.yaml",
        EXAMPLE.read_text(encoding="utf-8").replace(
            "      - what: RUN-webbinarium\n        how: Tre digitala webbinarier\n        budget: 15000\n", ""
        ),
    )
    line = one_error_line(run("year", "plan", "import", str(smaller)))
    assert "likvardighet-run-webbinarium" in line and "move or remove those costs first" in line


def test_activities_naming_lines_the_new_plan_lacks_are_warned_about(env):
    store().save_plan(
        plan_at(datetime(2020, 8, 1, tzinfo=UTC)).model_copy(update={"action_plan_line": "likvardighet-annat"}), True
    )
    result = run("year", "plan", "import", str(EXAMPLE))
    assert result.exit_code == 0
    assert "warning: activities of 2020 name lines this plan does not have" in result.stderr
    assert "likvardighet-annat" in result.stderr


# -- year costs import ---------------------------------------------------------------------------------------------
def test_import_costs_once(env, tmp_path):
    run("year", "plan", "import", str(EXAMPLE))
    activity = plan_at(datetime(2020, 8, 1, tzinfo=UTC))
    store().save_plan(activity, True)
    path = write(
        tmp_path / "utfall.csv",
        "Rad;Aktivitet;Belopp;Datum;Kategori;Anteckning\n"
        "Att leda en likvärdig skola;;12 500;2020-03-05;Föreläsare;Arvode\n"
        f";{activity.id};1 234,50;2020-09-01;lokal;\n",
    )
    result = run("year", "costs", "import", str(path), "--json")
    assert result.exit_code == 0, result.stderr
    data = one_json_object(result.stdout)
    assert data["imported"] == 2 and data["total_ore"] == 1_373_450 and data["years"] == [2020]
    assert [c.amount_ore for c in store().costs(2020)] == [1_250_000, 123_450]

    line = one_error_line(run("year", "costs", "import", str(path)))
    assert "imported already" in line and len(store().costs(2020)) == 2


def test_bad_costs_are_refused_with_every_problem(env, tmp_path):
    run("year", "plan", "import", str(EXAMPLE))
    path = xlsx(
        tmp_path / "utfall.xlsx",
        [["Rad", "Belopp", "Datum", "Kategori"], ["finns-inte", "100", "2020-01-01", "mat"], ["", "x", "", "blommor"]],
    )
    line = one_error_line(run("year", "costs", "import", str(path)))
    assert line == f"error: {path}: row 2, rad: the action plan for 2020 has no line 'finns-inte' (4 more)"
    data = one_json_object(run("year", "costs", "import", str(path), "--json").stdout)
    assert [(p["row"], p["field"]) for p in data["problems"]] == [
        (2, "rad"),
        (3, "datum"),
        (3, "belopp"),
        (3, "kategori"),
        (3, "rad"),
    ]
    assert store().costs(2020) == []


# -- year contributions ------------------------------------------------------------------------------------------
def test_contributions_of_2020(env):
    run("year", "plan", "import", str(EXAMPLE))
    result = run("year", "contributions", "2020", "--json")
    assert result.exit_code == 0, result.stderr
    data = one_json_object(result.stdout)
    assert data["action_plan"] is True and data["rate_ore"] == 200 and data["population_as_of"] == "2019-12-31"
    assert len(data["contributions"]) == 19 and data["population"] == 467_631
    assert data["total_ore"] == 935_262_00 == data["means_ore"] and data["carried_over_ore"] == 0
    assert data["contributions"][0] == {
        "organisation_id": "berg",
        "name": "Berg",
        "population": 7061,
        "amount_ore": 14_122_00,
    }
    human = run("year", "contributions", "2020")
    assert human.stderr == "" and "total: 935 262 kr (467 631 inhabitants)" in human.stdout
    assert "Sundsvall" in human.stdout and "198 898 kr" in human.stdout


def test_contributions_without_a_plan_or_this_year_s_figures_say_so(env):
    result = run("year", "contributions", "2021")
    assert result.exit_code == 0
    assert "no action plan for 2021" in result.stderr and "those of 2019-12-31" in result.stderr
    data = one_json_object(run("year", "contributions", "2021", "--json").stdout)
    assert data["action_plan"] is False and data["population_of_the_year"] is False
    assert "no population figures for 2019" in one_error_line(run("year", "contributions", "2019"))


def test_an_unmigrated_store_exits_with_1(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("RUNFLOW_", "TEMPORAL_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RUNFLOW_DATA_DIR", str(tmp_path / "empty"))
    get_settings.cache_clear()
    try:
        line = one_error_line(run("year", "plan", "show", "2020"), code=1)
        assert "runflow db upgrade" in line
    finally:
        get_settings.cache_clear()


def test_help_lists_the_year_commands():
    result = run("year", "--help")
    assert result.exit_code == 0
    for command in ("plan", "costs", "contributions"):
        assert command in result.stdout
    assert io.StringIO(run("year", "plan", "--help").stdout).read().count("import") >= 1
