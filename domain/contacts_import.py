"""An uploaded list of invitation contacts (CSV or Excel), read and checked row by row. Pure: bytes in, a result out.

Columns, by their header in the first non-blank row (case-insensitive; spaces, hyphens and underscores ignored; the
order free, other columns ignored):

- organisation (also: kommun, huvudman, organization): an organisation's id, name or short name;
- målgrupp (also: target group), optional: blank is every target group;
- namn (also: name, kontaktperson);
- e-post (also: e-postadress, mejl, email, e-mail).

Hostile input costs nothing: the file's size is checked before it is read, an Excel file's unpacked size before
openpyxl sees it, every cell's length before it is looked at, and reading stops past `MAX_ROWS` contacts. Whatever
the bytes, the result is a `ContactsImport`, never an exception: a file that cannot be read gives one error.
"""

from __future__ import annotations

import contextlib
import csv
import io
import zipfile
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from domain.control_characters import control_character
from domain.email_address import MAX_EMAIL_LENGTH, InvalidEmail, parse_email

MAX_FILE_BYTES = 1024 * 1024  # 1 MiB: thousands of contacts
MAX_ROWS = 5000  # contacts (non-blank rows after the header)
MAX_BLANK_ROWS = 10_000  # blank rows tolerated on the way (Excel keeps formatted empty rows); more is refused
MAX_COLUMNS = 50  # columns looked at; the rest of a row is ignored
MAX_CELL = 200  # characters in a cell (an e-mail address: MAX_EMAIL_LENGTH)
MAX_UNPACKED_BYTES = 16 * 1024 * 1024  # an Excel file's parts, unpacked: a zip bomb is refused before it is opened
MAX_PARTS = 500  # parts in an Excel file
SHOWN = 40  # characters of a cell quoted back in an error

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary Office formats (.xls)
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
DELIMITERS = (";", ",")  # Swedish Excel saves CSV with semicolons; others use commas


class Column(StrEnum):
    ORGANISATION = "organisation"
    TARGET_GROUP = "målgrupp"
    NAME = "namn"
    EMAIL = "e-post"


REQUIRED = (Column.ORGANISATION, Column.NAME, Column.EMAIL)
# Header names as `_header_key` reduces them.
HEADERS: dict[str, Column] = {
    **dict.fromkeys(["organisation", "organization", "kommun", "huvudman"], Column.ORGANISATION),
    **dict.fromkeys(["målgrupp", "malgrupp", "targetgroup"], Column.TARGET_GROUP),
    **dict.fromkeys(["namn", "name", "kontaktperson"], Column.NAME),
    **dict.fromkeys(
        ["epost", "epostadress", "mejl", "mejladress", "mail", "email", "emailaddress"],
        Column.EMAIL,
    ),
}
LIMITS = {Column.EMAIL: MAX_EMAIL_LENGTH}  # every other column: MAX_CELL


def _number(n: int) -> str:
    """'5 000', as Swedish writes thousands (with a no-break space)."""
    return f"{n:,}".replace(",", "\u00a0")


# What people read, in Swedish.
NOT_A_LIST = "Filen går inte att läsa som en kontaktlista. Ladda upp en CSV-fil (UTF-8) eller en Excel-fil (.xlsx)."
OLD_EXCEL = (
    "Filen är i det gamla Excel-formatet (.xls). Spara den som Excel-arbetsbok (.xlsx) eller som CSV UTF-8 "
    "och ladda upp den igen."
)
NOT_UTF8 = (
    "CSV-filen är inte sparad som UTF-8. Spara den i Excel som ”CSV UTF-8 (kommaavgränsad)” och ladda upp den igen."
)
BAD_EXCEL = "Excel-filen går inte att läsa. Spara den igen som Excel-arbetsbok (.xlsx) eller som CSV UTF-8."
BAD_CSV = "CSV-filen går inte att läsa. Kontrollera att varje rad har sina kolumner åtskilda med semikolon eller komma."
EMPTY = "Filen är tom."
NO_CONTACTS = "Filen innehåller inga kontakter, bara rubrikraden."
TOO_LARGE = f"Filen är för stor: högst {MAX_FILE_BYTES // 1024 // 1024} MB. Dela upp den i flera filer."
TOO_MANY_ROWS = f"Filen har fler än {_number(MAX_ROWS)} kontakter. Dela upp den i flera filer."
TOO_MANY_BLANK = f"Filen har fler än {_number(MAX_BLANK_ROWS)} tomma rader. Ta bort dem och försök igen."
HEADER_HELP = "Första raden ska ha rubrikerna organisation, målgrupp (kan utelämnas), namn och e-post."


class ImportedContact(BaseModel):
    """A valid row: an invitation contact for one organisation and one target group (None: every target group)."""

    model_config = ConfigDict(frozen=True)

    row: int
    organisation_id: str
    target_group: str | None
    name: str
    email: str


class ContactsImport(BaseModel):
    """The valid rows, and one Swedish error per row that is not ("Rad 7: ..."), in row order; for a file that cannot
    be read, no contacts and one error."""

    contacts: list[ImportedContact] = []
    errors: list[str] = []
    rows: int = 0  # non-blank rows read after the header

    @property
    def ok(self) -> bool:
        return not self.errors


class NamedOrganisation(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def short_name(self) -> str: ...


def organisation_names(organisations: Iterable[NamedOrganisation]) -> dict[str, str]:
    """The mapping `parse_contacts` takes: each organisation's id, name and short name to its id (an id wins over a
    name, a name over a short name, when two organisations share a spelling)."""
    orgs = list(organisations)
    names: dict[str, str] = {}
    for spelling in ("id", "name", "short_name"):
        for org in orgs:
            names.setdefault(_name_key(getattr(org, spelling)), org.id)
    return names


def parse_contacts(data: bytes, organisations: Mapping[str, str], target_groups: Iterable[str]) -> ContactsImport:
    """Read an uploaded contact list: CSV (UTF-8, with or without BOM, semicolons or commas) or Excel (.xlsx).

    `organisations` maps what a row may say (an id, a name, a short name; matched without regard to case and
    spacing) to an organisation id, e.g. `organisation_names(reference.organisations)`; `target_groups` are those a
    contact may have.
    """
    if len(data) > MAX_FILE_BYTES:
        return _refused(TOO_LARGE)
    if not data.strip():
        return _refused(EMPTY)
    if data.startswith(OLE_MAGIC):
        return _refused(OLD_EXCEL)
    names = {_name_key(k): v for k, v in organisations.items()}
    try:
        with contextlib.closing(_xlsx_rows(data) if data.startswith(ZIP_MAGIC) else _csv_rows(data)) as rows:
            return _read(rows, names, list(target_groups))  # closing: the workbook too, when reading stops early
    except _Unreadable as exc:
        return _refused(exc.text)


class _Unreadable(Exception):
    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


Row = tuple[int, Sequence[str]]  # the row's number as a spreadsheet shows it (1: the first), its cells
Rows = Generator[Row, None, None]


# -- reading CSV and Excel into rows of text -------------------------------------------------------------------------
def _csv_rows(data: bytes) -> Rows:
    if data.startswith(UTF16_BOMS):  # Excel's "Unicode text"
        raise _Unreadable(NOT_UTF8)
    if b"\x00" in data:  # not text at all (an image, a PDF, a document)
        raise _Unreadable(NOT_A_LIST)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _Unreadable(NOT_UTF8) from None
    header = next((line for line in text.splitlines() if line.strip(" \t;,")), "")  # the first line with a cell
    delimiter = max(DELIMITERS, key=lambda d: _recognised(_csv_line(header, d)))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return _csv_records(reader)


def _csv_line(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:  # a field longer than the csv module takes: reading the file will say so
        return []


def _csv_records(reader: Iterator[list[str]]) -> Rows:
    number = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error:  # e.g. a field longer than the csv module's limit
            raise _Unreadable(BAD_CSV) from None
        number += 1
        yield number, record[:MAX_COLUMNS]


def _xlsx_rows(data: bytes) -> Rows:
    # openpyxl is imported here: only an uploaded Excel file needs it.
    from openpyxl import load_workbook

    _check_package(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # whatever a broken or hostile file makes openpyxl raise: one clear error
        raise _Unreadable(BAD_EXCEL) from None
    try:
        rows = _sheet_rows(workbook)
        number = 0
        while True:
            try:
                values = next(rows)
            except StopIteration:
                return
            except _Unreadable:
                raise
            except Exception:  # the sheet's XML broken half-way
                raise _Unreadable(BAD_EXCEL) from None
            number += 1
            yield number, [_cell_text(value) for value in values]
    finally:
        workbook.close()


def _sheet_rows(workbook: Any) -> Iterator[tuple[object, ...]]:
    """The rows of the sheet shown when the workbook is opened (or its first), as values."""
    sheet = workbook.active if workbook.active is not None else next(iter(workbook.worksheets), None)
    if sheet is None or not hasattr(sheet, "reset_dimensions"):  # none, or a chart sheet: no rows
        raise _Unreadable(BAD_EXCEL)
    sheet.reset_dimensions()  # the file's own idea of its size is not trusted: read to its end (or our limits)
    rows: Iterator[tuple[object, ...]] = sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
    yield from rows


def _check_package(data: bytes) -> None:
    """An .xlsx is a zip of XML parts: refuse one that unpacks to more than we would read (sizes are as declared:
    zipfile stops at the declared size and refuses a part that is longer), or that is not a workbook."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            parts = package.infolist()
            if len(parts) > MAX_PARTS or sum(p.file_size for p in parts) > MAX_UNPACKED_BYTES:
                raise _Unreadable(BAD_EXCEL)
            names = {p.filename for p in parts}
    except _Unreadable:
        raise
    except Exception:  # a broken zip (a workbook cut short, or not a zip after all)
        raise _Unreadable(BAD_EXCEL) from None
    if "xl/workbook.xml" not in names:  # another zip: an OpenDocument sheet, a Word file, an archive
        raise _Unreadable(NOT_A_LIST)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "SANT" if value else "FALSKT"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


# -- the rows, checked ---------------------------------------------------------------------------------------------
def _read(rows: Rows, organisations: Mapping[str, str], target_groups: list[str]) -> ContactsImport:
    groups = {_name_key(g): g for g in target_groups}
    blank = 0
    columns: dict[Column, int] | None = None
    result = ContactsImport()
    seen: dict[tuple[str, str, str | None], int] = {}
    for number, cells in rows:
        if not any(cell.strip() for cell in cells):
            blank += 1
            if blank > MAX_BLANK_ROWS:
                return _refused(TOO_MANY_BLANK)
            continue
        if columns is None:
            columns = _columns(cells)
            continue
        result.rows += 1
        if result.rows > MAX_ROWS:
            return _refused(TOO_MANY_ROWS)
        contact, problems = _contact(number, cells, columns, organisations, groups)
        if contact is not None:
            key = (contact.organisation_id, contact.email, contact.target_group)
            if key in seen:
                problems.append(f"samma kontakt som på rad {seen[key]} (organisation, målgrupp och e-post)")
            else:
                seen[key] = number
                result.contacts.append(contact)
        if problems:
            result.errors.append(f"Rad {number}: {'; '.join(problems)}.")
    if columns is None:
        return _refused(EMPTY)
    if result.rows == 0:
        return _refused(NO_CONTACTS)
    return result


def _columns(header: Sequence[str]) -> dict[Column, int]:
    columns: dict[Column, int] = {}
    for index, cell in enumerate(header):
        column = _column(cell)
        if column is None:
            continue
        if column in columns:
            raise _Unreadable(f"Kolumnen {column.value} finns två gånger på rubrikraden. {HEADER_HELP}")
        columns[column] = index
    missing = [c.value for c in REQUIRED if c not in columns]
    if missing:
        if len(missing) == 1:
            raise _Unreadable(f"Kolumnen {missing[0]} saknas. {HEADER_HELP}")
        raise _Unreadable(f"Kolumnerna {', '.join(missing[:-1])} och {missing[-1]} saknas. {HEADER_HELP}")
    return columns


def _recognised(header: Sequence[str]) -> int:
    return len({c for c in map(_column, header[:MAX_COLUMNS]) if c is not None})


def _column(cell: str) -> Column | None:
    if len(cell) > MAX_CELL:
        return None
    return HEADERS.get(_header_key(cell))


def _header_key(cell: str) -> str:
    return "".join(ch for ch in cell.casefold() if not ch.isspace() and ch not in "-_:.")


def _name_key(text: str) -> str:
    return " ".join(text.casefold().split())


def _contact(
    number: int,
    cells: Sequence[str],
    columns: Mapping[Column, int],
    organisations: Mapping[str, str],
    groups: Mapping[str, str],
) -> tuple[ImportedContact | None, list[str]]:
    values: dict[Column, str] = {}
    problems: list[str] = []
    for column, index in columns.items():
        raw = cells[index] if index < len(cells) else ""
        value = raw.strip()
        limit = LIMITS.get(column, MAX_CELL)
        if len(value) > limit:  # before anything else is done with it
            long = "långt" if column is Column.NAME else "lång"
            problems.append(f"{_what(column)} är för {long} (högst {limit} tecken)")
        elif control_character(value):
            problems.append(f"{_what(column)} innehåller ett otillåtet tecken (till exempel ett styrtecken)")
        else:
            values[column] = value
    organisation_id = target_group = email = None
    name = values.get(Column.NAME)
    if Column.ORGANISATION in values:
        text = values[Column.ORGANISATION]
        organisation_id = organisations.get(_name_key(text)) if text else None
        if not text:
            problems.append("organisation saknas")
        elif organisation_id is None:
            problems.append(f"organisationen {_shown(text)} finns inte i listan över organisationer")
    if values.get(Column.TARGET_GROUP):
        text = values[Column.TARGET_GROUP]
        target_group = groups.get(_name_key(text))
        if target_group is None:
            problems.append(f"målgruppen {_shown(text)} finns inte (lämna tomt för alla målgrupper)")
    if name == "":
        problems.append("namn saknas")
    if Column.EMAIL in values:
        text = values[Column.EMAIL]
        if not text:
            problems.append("e-postadress saknas")
        else:
            try:
                email = parse_email(text)
            except InvalidEmail:
                problems.append(f"{_shown(text)} är inte en giltig e-postadress")
    if problems or organisation_id is None or name is None or email is None:
        return None, problems
    return (
        ImportedContact(row=number, organisation_id=organisation_id, target_group=target_group, name=name, email=email),
        problems,
    )


def _what(column: Column) -> str:
    return {
        Column.ORGANISATION: "organisationen",
        Column.TARGET_GROUP: "målgruppen",
        Column.NAME: "namnet",
        Column.EMAIL: "e-postadressen",
    }[column]


def _shown(text: str) -> str:
    return f"”{text if len(text) <= SHOWN else text[: SHOWN - 1] + '…'}”"


def _refused(text: str) -> ContactsImport:
    return ContactsImport(errors=[text])
