"""The year's tables as files: CSV (UTF-8 with BOM and semicolons, as Excel in Sweden opens it, amounts with a
decimal comma) and XLSX (amounts as numbers in kronor, formatted with thousands and öre).

`table_csv` and `table_xlsx` write any table (the annual report writes one CSV per table through them); the
invoice basis (`domain.year_outcome.InvoiceBasis`) and the budget-against-outcome table (`YearOutcome`) have their
own layouts here. Like the participant lists (`api/backoffice/exports.py`), a text cell that a spreadsheet would
take for a formula (= + - @, a tab or a carriage return first) is written as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from domain.money import decimal_kronor
from domain.year_outcome import InvoiceBasis, YearOutcome

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
COUNTED = {"confirmed": "bekräftade deltagare", "attended": "närvarande deltagare"}


@dataclass(frozen=True)
class Kronor:
    """An amount cell, in öre: written as kronor ("1234,50" in CSV, 1234.5 in XLSX)."""

    ore: int


Cell = str | int | Kronor | None


@dataclass(frozen=True)
class Table:
    title: str  # the sheet's name (at most 31 characters in Excel)
    header: list[str]
    rows: list[list[Cell]]
    heading: str = ""  # a line above the table (XLSX only), e.g. "Fakturaunderlag 2021"


def _csv_cell(value: Cell) -> str | int:
    if value is None:
        return ""
    if isinstance(value, Kronor):
        amount = decimal_kronor(value.ore)
        return f"{amount:.2f}".replace(".", ",") if value.ore % 100 else str(amount)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def table_csv(header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([_csv_cell(h) for h in header])
    for row in rows:
        writer.writerow([_csv_cell(value) for value in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def table_xlsx(tables: Sequence[Table], title: str = "") -> bytes:
    """One sheet per table: its heading (if any), the header in bold, the rows; amounts as numbers."""
    # openpyxl is imported here: only a download needs it.
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING
    from openpyxl.styles import Font

    book = Workbook()
    first = book.active
    assert first is not None  # a new workbook has one sheet
    book.remove(first)
    for table in tables:
        sheet = book.create_sheet(table.title[:31])
        if table.heading:
            sheet.append([table.heading])
            sheet.cell(row=1, column=1).font = Font(bold=True, size=13)
            sheet.append([])
        sheet.append(list(table.header))
        header_row = sheet.max_row
        for cell in sheet[header_row]:
            cell.font = Font(bold=True)
        for values in table.rows:
            sheet.append([_xlsx_value(v) for v in values])
            for value, cell in zip(values, sheet[sheet.max_row], strict=False):
                if isinstance(value, Kronor):
                    cell.number_format = "#,##0.00" if value.ore % 100 else "#,##0"
                elif isinstance(value, str):
                    cell.data_type = TYPE_STRING  # never a formula, whatever it starts with
        sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
        for index, name in enumerate(table.header, start=1):
            longest = max(
                [len(name)] + [len(str(_csv_cell(row[index - 1]))) for row in table.rows if len(row) >= index]
            )
            sheet.column_dimensions[sheet.cell(row=header_row, column=index).column_letter].width = min(
                60, max(10, longest + 2)
            )
    book.properties.title = title[:200]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_value(value: Cell) -> str | int | float | None:
    if isinstance(value, Kronor):
        amount = decimal_kronor(value.ore)
        return int(amount) if value.ore % 100 == 0 else float(amount)
    return value


# -- the invoice basis -----------------------------------------------------------------------------------------------
INVOICE_HEADER = [
    "Organisation",
    "Organisations-id",
    "Aktivitet",
    "Aktivitets-id",
    "Deltagare",
    "Avgift per deltagare (kr)",
    "Summa (kr)",
]


def invoice_rows(basis: InvoiceBasis) -> list[list[Cell]]:
    return [
        [
            r.organisation,
            r.organisation_id,
            r.activity,
            r.activity_id,
            r.participants,
            Kronor(r.fee * 100),
            Kronor(r.sum_ore),
        ]
        for r in basis.rows
    ]


def invoice_basis_csv(basis: InvoiceBasis) -> bytes:
    """One row per organisation and activity (no total row: a file for the finance system)."""
    return table_csv(INVOICE_HEADER, invoice_rows(basis))


def invoice_basis_xlsx(basis: InvoiceBasis) -> bytes:
    """Two sheets: the rows with a total, and the sum per organisation."""
    counted = COUNTED.get(basis.counted, basis.counted)
    heading = f"Fakturaunderlag {basis.year} (deltagaravgifter, {counted})"
    total: list[Cell] = [
        "Totalt",
        None,
        None,
        None,
        sum(r.participants for r in basis.rows),
        None,
        Kronor(basis.total_ore),
    ]
    per_organisation: list[list[Cell]] = [
        [o.organisation, o.organisation_id, o.participants, Kronor(o.sum_ore)] for o in basis.organisations
    ]
    per_organisation.append(["Totalt", None, sum(o.participants for o in basis.organisations), Kronor(basis.total_ore)])
    return table_xlsx(
        [
            Table("Fakturaunderlag", INVOICE_HEADER, [*invoice_rows(basis), total], heading),
            Table(
                "Per organisation",
                ["Organisation", "Organisations-id", "Deltagare", "Summa (kr)"],
                per_organisation,
                heading,
            ),
        ],
        title=heading,
    )


# -- budget against outcome -------------------------------------------------------------------------------------------
OUTCOME_HEADER = ["Insatsområde", "Vad", "Hur", "Budgeterat (kr)", "Utfall (kr)"]


def outcome_rows(outcome: YearOutcome) -> list[list[Cell]]:
    """The table "Handlingsplan <year> med ekonomisk redovisning": each line, then each focus area's sum, activities
    outside the plan, and the total."""
    rows: list[list[Cell]] = []
    for area in outcome.areas:
        for line in area.lines:
            rows.append([area.name, line.what, line.how, Kronor(line.budget_ore), Kronor(line.outcome_ore)])
        rows.append([area.name, "Summa", None, Kronor(area.budget_ore), Kronor(area.outcome_ore)])
    for outside in outcome.outside:
        rows.append(["Utanför handlingsplanen", outside.activity_id, None, None, Kronor(outside.outcome_ore)])
    for line_id, ore in outcome.unplanned_lines.items():
        rows.append(["Utanför handlingsplanen", line_id, None, None, Kronor(ore)])
    rows.append(["TOTALT", None, None, Kronor(outcome.budget_ore), Kronor(outcome.outcome_ore)])
    return rows


def outcome_csv(outcome: YearOutcome) -> bytes:
    return table_csv(OUTCOME_HEADER, outcome_rows(outcome))
