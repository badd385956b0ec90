"""The invoice basis and the budget-against-outcome table as CSV (Swedish Excel) and XLSX, read back."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from openpyxl import load_workbook

from activities_impl.year_files import (
    INVOICE_HEADER,
    OUTCOME_HEADER,
    invoice_basis_csv,
    invoice_basis_xlsx,
    outcome_csv,
    table_csv,
)
from domain.action_plan import load_action_plan
from domain.costs import Cost, CostCategory
from domain.year_outcome import FeeActivity, invoice_basis, year_outcome

PLAN = load_action_plan(str(Path(__file__).resolve().parents[2] / "examples" / "handlingsplan-2020.yaml"))
NAMES = {"sundsvall": "Sundsvalls kommun", "berg": '=HYPERLINK("http://x")'}
BASIS = invoice_basis(
    2020,
    PLAN,
    [
        FeeActivity(
            activity_id="riksdag-20",
            title="RUN-riksdag",
            line_id="organisation-natverk-run-riksdag",
            participants={"sundsvall": 2, "berg": 1},
        ),
        FeeActivity(activity_id="extra", title="Extra", line_id=None, participants={"sundsvall": 1}, fee=99),
    ],
    NAMES,
    counted="attended",
)


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def test_the_invoice_basis_as_csv():
    rows = read_csv(invoice_basis_csv(BASIS))
    assert rows[0] == INVOICE_HEADER
    assert rows[1:] == [
        ['\'=HYPERLINK("http://x")', "berg", "RUN-riksdag", "riksdag-20", "1", "1200", "1200"],
        ["Sundsvalls kommun", "sundsvall", "Extra", "extra", "1", "99", "99"],
        ["Sundsvalls kommun", "sundsvall", "RUN-riksdag", "riksdag-20", "2", "1200", "2400"],
    ]


def test_the_invoice_basis_as_xlsx():
    book = load_workbook(io.BytesIO(invoice_basis_xlsx(BASIS)))
    assert book.sheetnames == ["Fakturaunderlag", "Per organisation"]
    rows = [list(r) for r in book["Fakturaunderlag"].iter_rows(values_only=True)]
    assert rows[0][0] == "Fakturaunderlag 2020 (deltagaravgifter, närvarande deltagare)"
    assert rows[2] == INVOICE_HEADER
    assert rows[3][0] == '=HYPERLINK("http://x")' and book["Fakturaunderlag"].cell(4, 1).data_type == "s"
    assert rows[-1] == ["Totalt", None, None, None, 4, None, 3699]
    per = [list(r) for r in book["Per organisation"].iter_rows(min_row=4, values_only=True)]
    assert per == [
        ['=HYPERLINK("http://x")', "berg", 1, 1200],
        ["Sundsvalls kommun", "sundsvall", 3, 2499],
        ["Totalt", None, 4, 3699],
    ]


def test_amounts_with_ore_and_negative_amounts_in_csv():
    rows = read_csv(table_csv(["a", "b"], [["-5 text", None]]))
    assert rows[1] == ["'-5 text", ""]
    from activities_impl.year_files import Kronor

    assert read_csv(table_csv(["kr"], [[Kronor(123450)], [Kronor(-500_00)]]))[1:] == [["1234,50"], ["-500"]]


def test_the_outcome_table_as_csv():
    costs = [
        Cost(
            year=2020,
            line_id="likvardighet-leda-likvardig-skola",
            amount_ore=1_250_050,
            date=date(2020, 3, 1),
            category=CostCategory.SPEAKER,
        ),
        Cost(
            year=2020,
            activity_id="utanfor-planen",
            amount_ore=500_00,
            date=date(2020, 3, 1),
            category=CostCategory.FOOD,
        ),
    ]
    rows = read_csv(outcome_csv(year_outcome(2020, PLAN, costs, {"utanfor-planen": None})))
    assert rows[0] == OUTCOME_HEADER
    assert rows[2] == [
        "Likvärdighet",
        "Att leda en likvärdig skola",
        "Nätverk för rektorer och biträdande rektorer",
        "70000",
        "12500,50",
    ]
    assert ["Likvärdighet", "Summa", "", "285000", "12500,50"] in rows
    assert rows[-2] == ["Utanför handlingsplanen", "utanfor-planen", "", "", "500"]
    assert rows[-1] == ["TOTALT", "", "", "925000", "13000,50"]
