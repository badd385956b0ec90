"""Costs (utfall) from a spreadsheet: every bad row named by row and column in Swedish, lines by id or by what."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest
from openpyxl import Workbook
from pydantic import ValidationError

from domain.costs import Cost, CostCategory, CostsImport, YearLines, parse_costs

LINES = {
    2020: YearLines(
        2020,
        {
            "likvardighet-leda-likvardig-skola": "Att leda en likvärdig skola",
            "ska-kulturanalys-handledarutbildning": "Kulturanalys",
            "ska-kulturanalys-erfarenhetsseminarium": "Kulturanalys",
        },
    )
}
ACTIVITIES = {"mentor-ht20", "webbinarium-ht20"}
HEADER = ["År", "Rad", "Aktivitet", "Belopp", "Datum", "Kategori", "Anteckning"]


def xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list[Any]], delimiter: str = ";") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def parse(data: bytes) -> CostsImport:
    return parse_costs(data, LINES, ACTIVITIES)


GOOD = [
    HEADER,
    [2020, "likvardighet-leda-likvardig-skola", None, "12 500", "2020-03-05", "Föreläsare", "Arvode, första träffen"],
    [None, "Att leda en likvärdig skola", None, "1 234,50 kr", "2020-03-05", "fika", None],
    [2020, None, "mentor-ht20", 4800.5, date(2020, 11, 12), "Lokal", "Sal O111"],
    [2020, None, "webbinarium-ht20", "950:-", "2021-01-15", "övrigt", "Sen faktura"],
]


@pytest.mark.parametrize("encode", [xlsx, csv_bytes], ids=["xlsx", "csv"])
def test_good_rows_become_costs(encode):
    result = parse(encode(GOOD))
    assert result.ok and result.rows == 4
    assert [(c.row, c.cost.line_id, c.cost.activity_id, c.cost.amount_ore, c.cost.category) for c in result.costs] == [
        (2, "likvardighet-leda-likvardig-skola", None, 1_250_000, CostCategory.SPEAKER),
        (3, "likvardighet-leda-likvardig-skola", None, 123_450, CostCategory.FOOD),
        (4, None, "mentor-ht20", 480_050, CostCategory.VENUE),
        (5, None, "webbinarium-ht20", 95_000, CostCategory.OTHER),
    ]
    assert result.costs[3].cost.year == 2020 and result.costs[3].cost.date == date(2021, 1, 15)  # a late invoice
    assert result.costs[1].cost.year == 2020  # the year from the date
    assert result.total_ore == 1_250_000 + 123_450 + 480_050 + 95_000


def test_every_bad_row_is_named_by_row_and_column():
    rows = [
        HEADER,
        [2019, "likvardighet-leda-likvardig-skola", None, "100", "2019-05-01", "mat", None],
        [2020, "Kulturanalys", None, "100", "2020-05-01", "mat", None],
        [2020, "finns-inte", None, "100", "2020-05-01", "mat", None],
        [2020, "likvardighet-leda-likvardig-skola", "mentor-ht20", "100", "2020-05-01", "mat", None],
        [2020, None, "okand-aktivitet", "0", "5/1/2020", "blommor", "x" * 201],
        [2020, None, None, "12,345", None, None, None],
        ["tjugo", None, "mentor-ht20", "-5", "2020-05-01", "mat", "rad\u007f"],
        [2020, None, "mentor-ht20", "100", "2024-05-01", "mat", None],
    ]
    result = parse(xlsx(rows))
    assert result.costs == [] and result.rows == 8
    assert [(p.row, p.field, p.code) for p in result.problems] == [
        (2, "rad", "no_action_plan"),
        (3, "rad", "ambiguous_line"),
        (4, "rad", "unknown_line"),
        (5, "aktivitet", "line_and_activity"),
        (6, "anteckning", "too_long"),
        (6, "datum", "invalid_date"),
        (6, "belopp", "invalid_amount"),
        (6, "kategori", "unknown_category"),
        (6, "aktivitet", "unknown_activity"),
        (7, "datum", "missing"),
        (7, "belopp", "invalid_amount"),
        (7, "kategori", "missing"),
        (7, "rad", "missing"),
        (8, "anteckning", "control_character"),
        (8, "år", "invalid_year"),
        (8, "belopp", "invalid_amount"),
        (9, "datum", "date_outside_year"),
    ]
    texts = {(p.row, p.field): p.text for p in result.problems}
    assert texts[(2, "rad")] == "Rad 2, rad: det finns ingen handlingsplan för 2019"
    assert texts[(6, "kategori")].startswith("Rad 6, kategori: kategorin ”blommor” finns inte (en av lokal,")
    assert texts[(7, "belopp")] == "Rad 7, belopp: får ha högst två decimaler (ören)"
    assert texts[(8, "belopp")] == "Rad 8, belopp: ska vara större än 0"
    assert result.problems[1].details == {
        "ids": ["ska-kulturanalys-handledarutbildning", "ska-kulturanalys-erfarenhetsseminarium"]
    }


@pytest.mark.parametrize(
    ("rows", "code"),
    [
        ([["Belopp", "Datum"], ["1", "2020-01-01"]], "missing_columns"),
        ([HEADER], "no_costs"),
    ],
)
def test_a_file_that_is_not_a_cost_list_is_one_problem(rows, code):
    result = parse(csv_bytes(rows))
    assert result.costs == [] and [p.code for p in result.problems] == [code]


def test_missing_columns_are_named():
    [found] = parse(csv_bytes([["Belopp", "Datum"], ["1", "2020-01-01"]])).problems
    assert found.details == {"missing": ["rad eller aktivitet", "kategori"]}
    assert "kategori" in found.text and "rad eller aktivitet" in found.text


def test_unreadable_files_are_one_problem():
    assert [p.code for p in parse(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64).problems] == ["old_excel"]
    assert [p.code for p in parse(b"").problems] == ["empty"]


def test_a_cost_is_on_a_line_or_an_activity_and_near_its_year():
    base = {"year": 2020, "amount_ore": 100, "date": date(2020, 1, 1), "category": CostCategory.FOOD}
    assert Cost(**base, line_id="a-line").activity_id is None
    for bad in ({}, {"line_id": "a-line", "activity_id": "an-activity"}):
        with pytest.raises(ValidationError):
            Cost(**base, **bad)
    with pytest.raises(ValidationError):
        Cost(**{**base, "date": date(2023, 1, 1)}, line_id="a-line")
    with pytest.raises(ValidationError):
        Cost(**{**base, "amount_ore": 0}, line_id="a-line")


def test_more_rows_than_the_limit_are_refused_before_they_are_checked():
    from domain.costs import MAX_COST_ROWS

    rows = [HEADER] + [[2020, None, "mentor-ht20", "1", "2020-01-01", "mat", None]] * (MAX_COST_ROWS + 1)
    assert [p.code for p in parse(csv_bytes(rows)).problems] == ["too_many_rows"]
    assert parse(csv_bytes(rows[:-1])).ok
