"""The action plan (handlingsplan): from YAML and from the office's spreadsheet, every problem named by row and field
in Swedish and English, stable line ids, hostile files refused cheaply."""

from __future__ import annotations

import csv
import io
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from domain.action_plan import (
    LINE_ID,
    ActionPlan,
    ActionPlanError,
    action_plan_yaml,
    line_id_for,
    load_action_plan,
    parse_action_plan_file,
    parse_action_plan_table,
    parse_action_plan_yaml,
    slug,
)
from domain.import_problems import ImportProblem, summary
from domain.spreadsheet import MAX_FILE_BYTES

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "handlingsplan-2020.yaml"


def xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def problems_of(parse, *args) -> list[ImportProblem]:
    with pytest.raises(ActionPlanError) as info:
        parse(*args)
    assert info.value.problems
    return info.value.problems


def where(problems: list[ImportProblem]) -> list[tuple[int | None, str, str]]:
    return [(p.row, p.field, p.code) for p in problems]


# -- the example ---------------------------------------------------------------------------------------------------
def test_the_2020_example_is_the_seeds_plan():
    plan = load_action_plan(str(EXAMPLE))
    assert plan.year == 2020 and plan.period == "2020–2022" and plan.rate == 2 and plan.rate_ore == 200
    assert plan.budget == 925_000
    assert [a.name for a in plan.areas] == [
        "Likvärdighet",
        "SKA och ledarskap",
        "Kompetensförsörjning",
        "Digitalisering",
        "Organisation och nätverk",
    ]
    whats = {line.what for line in plan.lines}
    assert {
        "Att organisera en likvärdig skola",
        "Att leda en likvärdig skola",
        "Framgångsrikt kollegialt lärande",
        "Kulturanalys – handledarutbildning",
        "Mentor i förskola och skola",
        "RUN-webbinarium",
    } <= whats
    assert plan.line("likvardighet-organisera-likvardig-skola") is not None
    assert plan.area_of("kompetensforsorjning-mentor-forskola-skola").name == "Kompetensförsörjning"
    assert {line.id: line.fee for line in plan.lines if line.fee} == {
        "likvardighet-fritidshemsbiennalen": 1500,
        "organisation-natverk-run-riksdag": 1200,
    }


def test_a_plan_written_back_reads_the_same():
    plan = load_action_plan(str(EXAMPLE))
    assert parse_action_plan_yaml(action_plan_yaml(plan)) == plan


def test_ids_are_stable_and_written_ones_are_kept():
    text = EXAMPLE.read_text(encoding="utf-8")
    renamed = text.replace(
        "      - what: Att leda en likvärdig skola\n",
        "      - id: likvardighet-leda-likvardig-skola\n        what: Att leda en likvärdig förskola och skola\n",
    )
    plan = parse_action_plan_yaml(renamed)
    assert plan.line("likvardighet-leda-likvardig-skola").what == "Att leda en likvärdig förskola och skola"
    assert parse_action_plan_yaml(text).line_ids == load_action_plan(str(EXAMPLE)).line_ids


# -- YAML problems -------------------------------------------------------------------------------------------------
BAD_YAML = """\
year: 2024
period: 2020-2022
rate: två
colour: blue
areas:
  - name: Likvärdighet
    budget: 100000
    lines:
      - what: Att leda en likvärdig skola
        budget: 12,5
      - what: ""
        budget: 1000
        fee: -200
  - name: likvärdighet
    lines: []
"""


def test_every_yaml_problem_is_named_by_line_and_field():
    problems = problems_of(parse_action_plan_yaml, BAD_YAML)
    assert set(where(problems)) == {
        (4, "colour", "unknown_field"),
        (3, "rate", "invalid_rate"),
        (1, "year", "year_outside_period"),
        (10, "areas[0].lines[0].budget", "invalid_amount"),
        (11, "areas[0].lines[1].what", "missing"),
        (13, "areas[0].lines[1].fee", "invalid_amount"),
        (14, "areas[1].name", "duplicate_area"),
        (14, "areas[1].name", "area_without_lines"),
    }
    by_field = {p.field: p for p in problems}
    assert by_field["areas[0].lines[0].budget"].text.startswith("Rad 10, areas[0].lines[0].budget: ")
    assert "hela kronor" in by_field["areas[0].lines[0].budget"].text
    assert "'12,5'" in by_field["areas[0].lines[0].budget"].message
    assert "negativt" in by_field["areas[0].lines[1].fee"].text
    assert "2020–2022" in by_field["year"].text
    assert "finns redan" in by_field["areas[1].name"].text or "inga rader" in by_field["areas[1].name"].text
    assert summary(problems).endswith(f"({len(problems) - 1} more)")


def test_lines_above_the_area_budget_and_a_missing_budget():
    text = """\
year: 2020
period: 2020–2022
areas:
  - name: Likvärdighet
    budget: 50000
    lines:
      - {what: A, budget: 40000}
      - {what: B, budget: 20000}
  - name: Digitalisering
    lines:
      - {what: C, how: webbinarium}
"""
    problems = problems_of(parse_action_plan_yaml, text)
    assert where(problems) == [
        (5, "areas[0].budget", "lines_above_area_budget"),
        (11, "areas[1].lines[0].budget", "missing"),
    ]
    assert problems[0].details == {"budget": 50000, "lines": 60000}
    assert "60\u00a0000 kr" in problems[0].text


def test_an_area_budget_lets_its_lines_go_without():
    plan = parse_action_plan_yaml(
        "year: 2019\nperiod: 2017-2019\ncarried_over: 165000\nareas:\n"
        "  - name: Systematiskt kvalitetsarbete\n    budget: 150000\n    lines:\n"
        "      - {what: SKA i förskolan, how: Seminarieserie}\n"
    )
    assert plan.areas[0].total_budget == 150_000 and plan.lines[0].budget == 0 and plan.budget == 150_000
    assert plan.period == "2017–2019" and plan.carried_over == 165_000


def test_duplicate_ids_given_and_made():
    text = """\
year: 2020
period: 2020–2022
areas:
  - name: Likvärdighet
    lines:
      - {what: Att leda en likvärdig skola, budget: 1}
      - {what: Att leda en likvärdig skola, budget: 2}
      - {id: egen-rad, what: X, budget: 3}
      - {id: egen-rad, what: Y, budget: 4}
      - {id: Inte OK, what: Z, budget: 5}
"""
    problems = problems_of(parse_action_plan_yaml, text)
    assert where(problems) == [
        (10, "areas[0].lines[4].id", "invalid_id"),
        (7, "areas[0].lines[1].what", "duplicate_line"),
        (9, "areas[0].lines[3].id", "duplicate_line"),
    ]
    assert "rad 6" in problems[1].text and "eget id" in problems[1].text


def test_the_same_what_twice_takes_how_into_its_ids():
    plan = parse_action_plan_yaml(
        "year: 2019\nperiod: 2017–2019\nareas:\n  - name: SKA\n    lines:\n"
        "      - {what: Kulturanalys, how: Handledarutbildning, budget: 1}\n"
        "      - {what: Kulturanalys, how: Erfarenhetsseminarium, budget: 2}\n"
    )
    assert plan.line_ids == ["ska-kulturanalys-handledarutbildning", "ska-kulturanalys-erfarenhetsseminarium"]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("- a\n- b\n", "invalid_type"),
        ("year: [unclosed\n", "invalid_yaml"),
        ("a: &a [1, 2]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n" * 1, "unknown_field"),
        ("x: " + "[" * 50 + "]" * 50 + "\n", "too_deep"),
        ("year: 2020\n" + "#" * (300 * 1024) + "\n", "too_large"),
    ],
)
def test_unreadable_yaml_is_one_problem_never_a_crash(text, code):
    problems = problems_of(parse_action_plan_yaml, text)
    assert code in [p.code for p in problems]
    assert all(p.text for p in problems)


def test_billion_laughs_is_refused_before_it_expands():
    lol = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join('*' + chr(97 + i) for _ in range(10))}]\n" for i in range(8)
    )
    assert [p.code for p in problems_of(parse_action_plan_yaml, lol)] == ["too_many_values"]


# -- the office's spreadsheet --------------------------------------------------------------------------------------
OFFICE_2019 = [
    ["Handlingsplan 2019 med ekonomisk redovisning"],
    ["År", 2019],
    ["Period", "2017–2019"],
    ["Kr per invånare", 2],
    ["Överfört överskott", "165 000 kr"],
    [],
    ["Vad", "Hur", "Budgeterat", "Utfall"],
    ["Systematiskt kvalitetsarbete"],
    ["SKA i grundskola och gymnasium", "Digital utbildning", None, "Inställd"],
    ["SKA i förskolan", "Seminarieserie"],
    ["Kulturanalys", "Handledarutbildning"],
    [None, "Erfarenhetsseminarium"],
    ["Summa", None, "150 000", "195 000"],
    ["Inkluderande skola"],
    ["Förbättra flickors och pojkars lärande och resultat", "Seminarieserie"],
    ["Summa", None, 250000, 220000],
    ["Övrig verksamhet"],
    ["RUN-riksdag", "Konferens Södra Berget i Sundsvall"],
    [None, "Summa", 690000, 675000],
    [None, "TOTALT", "1 090 000", "1 090 000"],
]


@pytest.mark.parametrize("encode", [xlsx, csv_bytes], ids=["xlsx", "csv"])
def test_the_office_table_of_2019_with_budgets_per_area(encode):
    plan = parse_action_plan_table(encode(OFFICE_2019))
    assert (plan.year, plan.period, plan.rate, plan.carried_over) == (2019, "2017–2019", Decimal(2), 165_000)
    assert [(a.name, a.total_budget, len(a.lines)) for a in plan.areas] == [
        ("Systematiskt kvalitetsarbete", 150_000, 4),
        ("Inkluderande skola", 250_000, 1),
        ("Övrig verksamhet", 690_000, 1),
    ]
    assert plan.budget == 1_090_000
    kultur = [line for line in plan.lines if line.what == "Kulturanalys"]
    assert [(line.how, line.id) for line in kultur] == [
        ("Handledarutbildning", "systematiskt-kvalitetsarbete-kulturanalys-handledarutbildning"),
        ("Erfarenhetsseminarium", "systematiskt-kvalitetsarbete-kulturanalys-erfarenhetsseminarium"),
    ]


def test_a_table_with_a_focus_area_column_fills_it_down():
    rows = [
        ["År", "2020"],
        ["Verksamhetsperiod", "2020-2022"],
        ["Insatsområde", "Vad", "Hur", "Budget", "Deltagaravgift", "Id"],
        ["Likvärdighet", "Att leda en likvärdig skola", "Nätverk", 70000, None, None],
        [None, "Fritidshemsbiennalen", "Konferens", "40 000", "1 500 kr", "biennalen"],
        ["Digitalisering", "IKT-nätverk", "Arbetsmöte", 15000],
        ["Likvärdighet", "RUN-webbinarium", "Webbinarier", 15000],
        [None, "TOTALT", None, 140000],
    ]
    plan = parse_action_plan_table(xlsx(rows))
    assert [(a.name, [x.id for x in a.lines]) for a in plan.areas] == [
        ("Likvärdighet", ["likvardighet-leda-likvardig-skola", "biennalen", "likvardighet-run-webbinarium"]),
        ("Digitalisering", ["digitalisering-ikt-natverk"]),
    ]
    assert plan.line("biennalen").fee == 1500 and plan.rate == 2  # the default rate


def test_every_table_problem_is_named_by_row_and_field_in_swedish():
    rows = [
        ["År", "tjugotjugo"],
        ["Insatsområde", "Vad", "Hur", "Budget", "Deltagaravgift"],
        [None, "Utan område", "x", 1000],
        ["Likvärdighet", "Att leda en likvärdig skola", "Nätverk", "70 000,50"],
        [None, None, None, "5000"],
        [None, "X" * 201, "Nätverk", 1000],
        [None, "Webbinarium", "Tre\u007f webbinarier", 1000, "gratis"],
        [None, "TOTALT", None, 999],
    ]
    problems = problems_of(parse_action_plan_table, xlsx(rows))
    assert where(problems) == [
        (1, "år", "invalid_year"),
        (None, "period", "missing"),
        (3, "insatsområde", "missing"),
        (4, "budget", "invalid_amount"),
        (5, "vad", "missing"),
        (6, "vad", "too_long"),
        (7, "hur", "control_character"),
        (7, "deltagaravgift", "invalid_amount"),
    ]  # the total is compared only once every line is right
    texts = [p.text for p in problems]
    assert texts[0] == "Rad 1, år: ska vara ett årtal, t.ex. 2020"
    assert texts[1].startswith("Period: saknas")
    assert texts[3] == "Rad 4, budget: ska vara hela kronor (utan ören)"
    assert texts[5] == "Rad 6, vad: är för lång (högst 200 tecken)"
    assert str(problems[3]) == "row 4, budget: must be whole kronor (no öre) (got '70 000,50')"


def test_a_total_that_is_not_the_sum_is_named():
    rows = [*OFFICE_2019[:-1], [None, "Total summa", "1 000 000"]]
    problems = problems_of(parse_action_plan_table, xlsx(rows))
    assert where(problems) == [(20, "budget", "total_mismatch")]
    assert problems[0].text == (
        "Rad 20, budget: totalen är 1\u00a0000\u00a0000 kr men insatsområdena summerar till 1\u00a0090\u00a0000 kr"
    )


def test_a_table_without_a_header_row_says_what_it_needs():
    problems = problems_of(parse_action_plan_table, xlsx([["År", 2020], ["Period", "2020–2022"], ["Något", "annat"]]))
    assert where(problems) == [(None, "rubrikrad", "no_header")]
    assert "vad, hur, budget" in problems[0].text


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (b"x" * (MAX_FILE_BYTES + 1), "too_large"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "old_excel"),
        ("Vad;Hur;Budget\nÅr;2020\n".encode("utf-16"), "not_utf8"),
        (b"PK\x03\x04 broken zip", "bad_excel"),
        (b"\x89PNG\r\n\x1a\n\0\0\0", "not_a_table"),
    ],
)
def test_files_that_are_not_tables_are_one_problem(data, code):
    assert where(problems_of(parse_action_plan_table, data)) == [(None, "fil", code)]


def test_a_zip_bomb_is_refused_before_openpyxl_opens_it():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("xl/workbook.xml", "<workbook/>")
        package.writestr("xl/worksheets/sheet1.xml", " " * (20 * 1024 * 1024))
    assert where(problems_of(parse_action_plan_table, out.getvalue())) == [(None, "fil", "bad_excel")]


def test_a_file_is_read_by_its_content_or_name():
    yaml_plan = parse_action_plan_file(EXAMPLE.read_bytes(), "plan.yaml")
    assert parse_action_plan_file(xlsx(OFFICE_2019), "whatever.bin").year == 2019
    assert parse_action_plan_file(csv_bytes(OFFICE_2019), "plan.csv").year == 2019
    assert yaml_plan.budget == 925_000
    assert where(problems_of(parse_action_plan_file, b"\xff\xfe\x00", "plan.yaml")) == [(None, "fil", "not_utf8")]
    assert where(problems_of(load_action_plan, "/nonexistent/plan.yaml")) == [(None, "fil", "unreadable")]


# -- ids ------------------------------------------------------------------------------------------------------------
def test_slugs_leave_out_function_words_and_accents():
    assert slug("Att organisera en likvärdig skola") == "organisera-likvardig-skola"
    assert slug("SKA och ledarskap") == "ska-ledarskap"
    assert slug("Kulturanalys – handledarutbildning") == "kulturanalys-handledarutbildning"
    assert slug("Att") == "att" and slug("–") == ""
    assert line_id_for("Likvärdighet", "Att organisera en likvärdig skola") == "likvardighet-organisera-likvardig-skola"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.text(max_size=300), st.text(max_size=300))
def test_a_made_id_is_always_a_valid_id(area, what, how):
    made = line_id_for(area, what, how)
    assert LINE_ID.match(made), made
    assert made == line_id_for(area, what, how)


def test_the_model_refuses_what_the_parser_would_never_build():
    plan = load_action_plan(str(EXAMPLE))
    data = plan.model_dump()
    data["areas"][1]["lines"][0]["id"] = data["areas"][0]["lines"][0]["id"]
    with pytest.raises(ValueError):
        ActionPlan.model_validate(data)
    with pytest.raises(ValueError):
        ActionPlan.model_validate({**plan.model_dump(), "year": 2024})


# -- an activity plan names its line -------------------------------------------------------------------------------
def test_an_activity_plan_names_its_line_and_the_workflow_never_sees_it(plan_data, reference):
    from domain.plan import PlanError, action_plan_line_problems, parse_plan, plan_year

    action_plan = load_action_plan(str(EXAMPLE))
    without = parse_plan(plan_data, reference)
    assert without.action_plan_line is None and action_plan_line_problems(without, action_plan) == []

    named = parse_plan({**plan_data, "action_plan_line": "likvardighet-leda-likvardig-skola"}, reference)
    assert named.lifecycle() == without.lifecycle()  # no change to the workflow's input
    assert "action_plan_line" not in named.lifecycle().model_dump()
    assert action_plan_line_problems(named, action_plan) == []
    assert action_plan_line_problems(named, None) == []  # no action plan stored for the year: nothing to check

    unknown = parse_plan({**plan_data, "action_plan_line": "likvardighet-inget-sadant"}, reference)
    [found] = action_plan_line_problems(unknown, action_plan)
    assert (found.field, found.code) == ("action_plan_line", "unknown_action_plan_line")
    assert found.details == {"year": 2020, "line": "likvardighet-inget-sadant"}

    with pytest.raises(PlanError) as info:
        parse_plan({**plan_data, "action_plan_line": "Inte ett id"}, reference)
    assert [p.field for p in info.value.problems] == ["action_plan_line"]
    assert plan_year(without) == 2027


def test_the_year_of_an_activity_is_that_of_its_first_session_in_swedish_time(plan_data, reference):
    from domain.plan import parse_plan, plan_year

    plan_data["registration"] = {"opens": "2020-11-01T08:00:00+01:00", "deadline": "2020-12-01T08:00:00+01:00"}
    plan_data["sessions"] = [
        {
            "start": "2020-12-31T23:30:00+00:00",
            "end": "2021-01-01T01:00:00+00:00",
            "location": "digital",
            "link": "https://miun.se/zoom/1",
        }
    ]
    assert plan_year(parse_plan(plan_data, reference)) == 2021  # 00:30 on New Year's Day in Stockholm
