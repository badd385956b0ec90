"""An uploaded table (CSV or Excel .xlsx) as rows of text, read within limits. Pure: bytes in, rows out.

The year's imports (the action plan, costs) read their files through here; `domain.contacts_import` follows the same
rules. Hostile input costs nothing: the file's size is checked before it is read, an Excel file's unpacked size
before openpyxl sees it, and reading stops past the row limits. A file that cannot be read raises `TableError` with
one reason in Swedish and English and a code; it never raises anything else.

Rows are numbered as a spreadsheet shows them (1: the first); blank rows are skipped (but counted toward
`MAX_BLANK_ROWS`). Cells are text: numbers written by Excel become "925000" or "1234.5", dates "2020-03-05T00:00:00".
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

MAX_FILE_BYTES = 1024 * 1024  # 1 MiB
MAX_BLANK_ROWS = 10_000
MAX_COLUMNS = 50
MAX_UNPACKED_BYTES = 16 * 1024 * 1024
MAX_PARTS = 500

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary Office formats (.xls)
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
DELIMITERS = (";", ",", "\t")


class TableError(Exception):
    """The file cannot be read as a table: `code`, `message` (English), `text` (Swedish)."""

    def __init__(self, code: str, message: str, text: str):
        super().__init__(message)
        self.code, self.message, self.text = code, message, text


def too_large() -> TableError:
    return TableError(
        "too_large",
        f"the file is larger than {MAX_FILE_BYTES // 1024 // 1024} MiB",
        f"Filen är för stor: högst {MAX_FILE_BYTES // 1024 // 1024} MB.",
    )


def empty() -> TableError:
    return TableError("empty", "the file is empty", "Filen är tom.")


def _old_excel() -> TableError:
    return TableError(
        "old_excel",
        "the file is in the old Excel format (.xls): save it as .xlsx or CSV UTF-8",
        "Filen är i det gamla Excel-formatet (.xls). Spara den som Excel-arbetsbok (.xlsx) eller som CSV UTF-8.",
    )


def _not_utf8() -> TableError:
    return TableError(
        "not_utf8",
        "the CSV file is not UTF-8",
        "CSV-filen är inte sparad som UTF-8. Spara den i Excel som ”CSV UTF-8 (kommaavgränsad)”.",
    )


def _bad_excel() -> TableError:
    return TableError(
        "bad_excel",
        "the Excel file cannot be read",
        "Excel-filen går inte att läsa. Spara den igen som Excel-arbetsbok (.xlsx) eller som CSV UTF-8.",
    )


def _bad_csv() -> TableError:
    return TableError(
        "bad_csv",
        "the CSV file cannot be read",
        "CSV-filen går inte att läsa. Kontrollera att kolumnerna är åtskilda med semikolon eller komma.",
    )


def _not_a_table() -> TableError:
    return TableError(
        "not_a_table",
        "the file is neither CSV (UTF-8) nor Excel (.xlsx)",
        "Filen går inte att läsa som en tabell. Använd en CSV-fil (UTF-8) eller en Excel-fil (.xlsx).",
    )


def too_many_rows(limit: int) -> TableError:
    return TableError(
        "too_many_rows",
        f"the file has more than {limit} rows",
        f"Filen har fler än {limit} rader. Dela upp den i flera filer.",
    )


def _too_many_blank() -> TableError:
    return TableError(
        "too_many_blank_rows",
        f"the file has more than {MAX_BLANK_ROWS} blank rows",
        f"Filen har fler än {MAX_BLANK_ROWS} tomma rader. Ta bort dem och försök igen.",
    )


@dataclass(frozen=True)
class Row:
    number: int  # as a spreadsheet shows it
    cells: tuple[str, ...]

    def cell(self, index: int | None) -> str:
        """The cell at `index`, stripped ("" past the row's end or for None)."""
        if index is None or index >= len(self.cells):
            return ""
        return self.cells[index].strip()


def is_excel(data: bytes) -> bool:
    return data.startswith(ZIP_MAGIC)


def read_table(data: bytes, max_rows: int) -> list[Row]:
    """The non-blank rows of a CSV (UTF-8, with or without BOM; semicolons, commas or tabs) or Excel file (its
    active sheet), or TableError. At most `max_rows` non-blank rows are read; more is refused."""
    if len(data) > MAX_FILE_BYTES:
        raise too_large()
    if not data.strip():
        raise empty()
    if data.startswith(OLE_MAGIC):
        raise _old_excel()
    rows: list[Row] = []
    blank = 0
    source = _xlsx_rows(data) if is_excel(data) else _csv_rows(data)
    try:
        for number, cells in source:
            if not any(cell.strip() for cell in cells):
                blank += 1
                if blank > MAX_BLANK_ROWS:
                    raise _too_many_blank()
                continue
            if len(rows) >= max_rows:
                raise too_many_rows(max_rows)
            rows.append(Row(number, tuple(cells)))
    finally:
        source.close()  # the workbook too, when reading stops early
    if not rows:
        raise empty()
    return rows


def _csv_rows(data: bytes) -> Generator[tuple[int, list[str]], None, None]:
    if data.startswith(UTF16_BOMS):
        raise _not_utf8()
    if b"\x00" in data:  # not text at all
        raise _not_a_table()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _not_utf8() from None
    first = next((line for line in text.splitlines() if line.strip(" \t;,")), "")
    delimiter = max(DELIMITERS, key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return _csv_records(reader)


def _csv_records(reader: Iterator[list[str]]) -> Generator[tuple[int, list[str]], None, None]:
    number = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error:  # e.g. a field longer than the csv module's limit
            raise _bad_csv() from None
        number += 1
        yield number, record[:MAX_COLUMNS]


def _xlsx_rows(data: bytes) -> Generator[tuple[int, list[str]], None, None]:
    # openpyxl is imported here: only an Excel file needs it.
    from openpyxl import load_workbook

    _check_package(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # whatever a broken or hostile file makes openpyxl raise: one clear error
        raise _bad_excel() from None
    try:
        rows = _sheet_rows(workbook)
        number = 0
        while True:
            try:
                values = next(rows)
            except StopIteration:
                return
            except TableError:
                raise
            except Exception:  # the sheet's XML broken half-way
                raise _bad_excel() from None
            number += 1
            yield number, [cell_text(value) for value in values]
    finally:
        workbook.close()


def _sheet_rows(workbook: Any) -> Iterator[tuple[object, ...]]:
    sheet = workbook.active if workbook.active is not None else next(iter(workbook.worksheets), None)
    if sheet is None or not hasattr(sheet, "reset_dimensions"):  # none, or a chart sheet
        raise _bad_excel()
    sheet.reset_dimensions()  # the file's own idea of its size is not trusted
    rows: Iterator[tuple[object, ...]] = sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
    yield from rows


def _check_package(data: bytes) -> None:
    """Refuse an .xlsx that unpacks to more than we would read, or a zip that is not a workbook."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            parts = package.infolist()
            if len(parts) > MAX_PARTS or sum(p.file_size for p in parts) > MAX_UNPACKED_BYTES:
                raise _bad_excel()
            names = {p.filename for p in parts}
    except TableError:
        raise
    except Exception:
        raise _bad_excel() from None
    if "xl/workbook.xml" not in names:
        raise _not_a_table()


def cell_text(value: object) -> str:
    """A cell's value as text: integral numbers without ".0", dates in ISO format."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "SANT" if value else "FALSKT"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def header_key(cell: str) -> str:
    """A header cell reduced for matching: case, spaces, hyphens, underscores, colons and full stops ignored."""
    return "".join(ch for ch in cell.casefold() if not ch.isspace() and ch not in "-_:.()/")


def find_columns(cells: Sequence[str], headers: dict[str, str], max_cell: int = 200) -> dict[str, int]:
    """Which column each known header is in (the first occurrence), by `headers`: reduced header -> column name."""
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        if len(cell) > max_cell:
            continue
        column = headers.get(header_key(cell))
        if column is not None and column not in columns:
            columns[column] = index
    return columns
