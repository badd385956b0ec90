"""The participant list as a file: CSV (UTF-8 with BOM and semicolons, as Excel in Sweden opens it) and XLSX.

A cell that a spreadsheet would take for a formula (it starts with = + - @ or a tab) is written as text: a name
typed as `=HYPERLINK(...)` on the public form must not run in a coordinator's spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import TYPE_STRING
from openpyxl.styles import Font

from domain.texts import STOCKHOLM

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
COLUMNS: list[tuple[str, str]] = [
    ("name", "Namn"),
    ("email", "E-post"),
    ("organisation", "Organisation"),
    ("role", "Roll"),
    ("school", "Skola/enhet"),
    ("team_members", "Lagmedlemmar"),
    ("status", "Status"),
    ("waitlist_position", "Plats på reservlistan"),
    ("registered_at", "Anmäld"),
    ("registration_id", "Anmälnings-id"),
]
STATUS_LABELS = {
    "confirmed": "Bekräftad",
    "waitlisted": "Reservlista",
    "withdrawn": "Avanmäld",
    "cancelled": "Inställd",
}


def cell_value(key: str, value: Any) -> str | int | None:
    if value is None:
        return None
    if key == "team_members":
        return ", ".join(value) or None
    if key == "status":
        return STATUS_LABELS.get(str(value), str(value))
    if isinstance(value, datetime):
        return value.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")
    return value if isinstance(value, int) else str(value)


def table(rows: Sequence[dict[str, Any]]) -> list[list[str | int | None]]:
    header: list[str | int | None] = [label for _, label in COLUMNS]
    return [header] + [[cell_value(key, row.get(key)) for key, _ in COLUMNS] for row in rows]


def as_csv(rows: Sequence[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for line in table(rows):
        writer.writerow(["'" + v if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v for v in line])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def as_xlsx(rows: Sequence[dict[str, Any]], title: str) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = "Deltagare"
    for line in table(rows):
        sheet.append([None if v is None else v for v in line])
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = TYPE_STRING  # never a formula, whatever it starts with
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    book.properties.title = title[:200]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
