"""Uploaded contact lists: CSV and Excel read alike, every bad row named in Swedish, hostile files refused cheaply."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from domain.contacts_import import (
    MAX_BLANK_ROWS,
    MAX_FILE_BYTES,
    MAX_ROWS,
    ContactsImport,
    ImportedContact,
    organisation_names,
    parse_contacts,
)
from domain.reference import default_reference

REFERENCE = default_reference()
ORGANISATIONS = organisation_names(REFERENCE.organisations)
GROUPS = REFERENCE.target_groups
HEADER = ["Organisation", "Målgrupp", "Namn", "E-post"]


def csv_bytes(rows: list[list[str]], delimiter: str = ";", bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows(rows)
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode("utf-8")


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def parse(data: bytes) -> ContactsImport:
    return parse_contacts(data, ORGANISATIONS, GROUPS)


def the_error(result: ContactsImport) -> str:
    assert result.contacts == [] and len(result.errors) == 1, result
    return result.errors[0]


GOOD = [
    ["Sundsvall", "", "Anna Andersson", "anna@sundsvall.example.se"],
    ["Sundsvalls kommun", "Lärare", "Bo Berg", " BO@Sundsvall.Example.se "],
    ["are", "rektor", "Cilla Ceder", "cilla@are.example.se"],
]
EXPECTED = [
    ImportedContact(
        row=2, organisation_id="sundsvall", target_group=None, name="Anna Andersson", email="anna@sundsvall.example.se"
    ),
    ImportedContact(
        row=3, organisation_id="sundsvall", target_group="lärare", name="Bo Berg", email="bo@sundsvall.example.se"
    ),
    ImportedContact(
        row=4, organisation_id="are", target_group="rektor", name="Cilla Ceder", email="cilla@are.example.se"
    ),
]


@pytest.mark.parametrize(
    "data",
    [
        csv_bytes([HEADER, *GOOD]),
        csv_bytes([HEADER, *GOOD], delimiter=","),
        csv_bytes([HEADER, *GOOD], bom=True),
        csv_bytes([HEADER, *GOOD], delimiter=",", bom=True),
        csv_bytes([HEADER, *GOOD]).replace(b"\r\n", b"\n"),
        xlsx_bytes([HEADER, *GOOD]),
    ],
    ids=["semicolon", "comma", "semicolon-bom", "comma-bom", "lf", "xlsx"],
)
def test_the_same_list_in_every_form(data: bytes) -> None:
    result = parse(data)
    assert result.errors == []
    assert result.contacts == EXPECTED and result.rows == 3 and result.ok


def test_english_headers_in_any_order_and_case_and_no_target_group_column() -> None:
    rows = [["E-MAIL", "name", "Organization", "Comment"], ["anna@berg.example.se", "Anna", "Bergs kommun", "ignored"]]
    result = parse(csv_bytes(rows, delimiter=","))
    assert result.contacts == [
        ImportedContact(row=2, organisation_id="berg", target_group=None, name="Anna", email="anna@berg.example.se")
    ]
    assert parse(csv_bytes([["Target group", *rows[0]], ["Lärare", *rows[1]]])).contacts[0].target_group == "lärare"


def test_the_header_is_the_first_row_with_cells_and_rows_keep_their_numbers() -> None:
    result = parse(xlsx_bytes([[], [None, None], HEADER, [], GOOD[0], [None], ["okänd", "", "X", "x@berg.example.se"]]))
    assert [c.row for c in result.contacts] == [5]
    assert result.errors == ["Rad 7: organisationen ”okänd” finns inte i listan över organisationer."]
    assert result.rows == 2


def test_one_error_per_bad_row_naming_each_problem() -> None:
    rows = [
        HEADER,
        GOOD[0],
        ["Nowhere", "rektorer", "", "inte-en-adress"],
        ["", "", "Bo", ""],
        ["Berg", "", "Bo", "bo@@berg.example.se"],
    ]
    result = parse(csv_bytes(rows))
    assert [c.row for c in result.contacts] == [2]
    assert result.errors == [
        "Rad 3: organisationen ”Nowhere” finns inte i listan över organisationer; målgruppen ”rektorer” finns inte "
        "(lämna tomt för alla målgrupper); namn saknas; ”inte-en-adress” är inte en giltig e-postadress.",
        "Rad 4: organisation saknas; e-postadress saknas.",
        "Rad 5: ”bo@@berg.example.se” är inte en giltig e-postadress.",
    ]
    assert not result.ok


def test_duplicates_within_the_file_are_reported_and_kept_once() -> None:
    same = ["Sundsvall", "", "Anna A.", "ANNA@sundsvall.example.se"]
    other_group = ["Sundsvall", "lärare", "Anna", "anna@sundsvall.example.se"]
    result = parse(csv_bytes([HEADER, *GOOD, same, other_group]))
    assert [c.row for c in result.contacts] == [2, 3, 4, 6]
    assert result.errors == ["Rad 5: samma kontakt som på rad 2 (organisation, målgrupp och e-post)."]


def test_cells_at_their_limits() -> None:
    local = "a" * 64
    email = f"{local}@{'b' * 63}.{'c' * 63}.{'d' * 58}.se"
    assert len(email) == 254
    ok = ["Berg", "", "N" * 200, email]
    long_name = ["Berg", "", "N" * 201, "x@berg.example.se"]
    long_email = ["Berg", "", "Bo", "a" + email]
    long_org = ["B" * 201, "", "Bo", "y@berg.example.se"]
    result = parse(csv_bytes([HEADER, ok, long_name, long_email, long_org]))
    assert [c.row for c in result.contacts] == [2]
    assert result.errors == [
        "Rad 3: namnet är för långt (högst 200 tecken).",
        "Rad 4: e-postadressen är för lång (högst 254 tecken).",
        "Rad 5: organisationen är för lång (högst 200 tecken).",
    ]


XML_ILLEGAL = "\x07\x1b"  # openpyxl cannot write them into a workbook


@pytest.mark.parametrize("char", ["\x07", "\x1b", "\x7f", "\x85", "\u2028", "\n", "\r", "\t"])
def test_control_characters_are_refused(char: str) -> None:
    rows = [HEADER, ["Berg", "", f"Anna{char}Berg", "anna@berg.example.se"]]
    for data in (csv_bytes(rows), xlsx_bytes(rows)) if char not in XML_ILLEGAL else (csv_bytes(rows),):
        result = parse(data)
        assert result.contacts == []
        assert result.errors == ["Rad 2: namnet innehåller ett otillåtet tecken (till exempel ett styrtecken)."]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Filen är tom."),
        (b" \r\n \n", "Filen är tom."),
        (b";;;\r\n", "Filen är tom."),
        (b"Organisation;Namn;E-post\n", "Filen innehåller inga kontakter, bara rubrikraden."),
        (b"Organisation;Namn\nBerg;Bo\n", "Kolumnen e-post saknas."),
        (b"Namn,Adress\nBo,x\n", "Kolumnerna organisation och e-post saknas."),
        (b"Organisation;Namn;E-post;Namn\n", "Kolumnen namn finns två gånger på rubrikraden."),
        (
            "Organisation;Namn;E-post\nÅre;Åsa;a@are.example.se\n".encode("cp1252"),
            "CSV-filen är inte sparad som UTF-8.",
        ),
        ("Organisation;Namn;E-post\n".encode("utf-16"), "CSV-filen är inte sparad som UTF-8."),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "Filen är i det gamla Excel-formatet (.xls)."),
        (b"PK\x03\x04" + bytes(100), "Excel-filen går inte att läsa."),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\x00", "Filen går inte att läsa som en kontaktlista."),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "Filen går inte att läsa som en kontaktlista."),
        (b"Organisation;Namn;E-post\nBerg;Bo;\x00\n", "Filen går inte att läsa som en kontaktlista."),
    ],
)
def test_files_that_are_not_contact_lists_get_one_clear_error(data: bytes, message: str) -> None:
    assert the_error(parse(data)).startswith(message)


def _zip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as package:
        for name, content in parts.items():
            package.writestr(name, content)
    return out.getvalue()


def test_other_zip_files_and_broken_workbooks() -> None:
    assert the_error(parse(_zip({"content.xml": b"<office/>"}))).startswith("Filen går inte att läsa som en kontakt")
    broken = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<not a workbook"})
    assert the_error(parse(broken)).startswith("Excel-filen går inte att läsa.")
    truncated = xlsx_bytes([HEADER, *GOOD])[:-200]
    assert the_error(parse(truncated)).startswith("Excel-filen går inte att läsa.")


def test_a_zip_bomb_is_refused_before_it_is_unpacked() -> None:
    bomb = _zip({"xl/workbook.xml": b"<workbook/>", "xl/sharedStrings.xml": b" " * (20 * 1024 * 1024)})
    assert len(bomb) < MAX_FILE_BYTES
    assert the_error(parse(bomb)).startswith("Excel-filen går inte att läsa.")


@pytest.mark.parametrize("delimiter", [b";", b","])
def test_a_field_longer_than_the_csv_module_takes(delimiter: bytes) -> None:
    data = b"Organisation;Namn;E-post\nBerg;Bo;" + b"x" * 200_000 + b"\n"
    assert the_error(parse(data.replace(b";", delimiter))).startswith("CSV-filen går inte att läsa.")
    assert the_error(parse(b"y" * 200_000 + b"\nBerg;Bo;bo@berg.example.se\n")).startswith("CSV-filen går inte")


def test_a_file_above_one_mebibyte_is_refused_unread() -> None:
    big = csv_bytes([HEADER]) + b"x" * MAX_FILE_BYTES
    assert the_error(parse(big)) == "Filen är för stor: högst 1 MB. Dela upp den i flera filer."


@pytest.mark.parametrize("form", ["csv", "xlsx"])
def test_at_most_5000_contacts(form: str) -> None:
    rows = [HEADER] + [["Berg", "", f"P{i}", f"p{i}@berg.example.se"] for i in range(MAX_ROWS)]
    make = csv_bytes if form == "csv" else xlsx_bytes
    full = parse(make(rows))
    assert full.errors == [] and len(full.contacts) == MAX_ROWS
    assert the_error(parse(make([*rows, ["Berg", "", "Extra", "extra@berg.example.se"]]))).startswith(
        "Filen har fler än 5\u00a0000 kontakter."
    )


def test_blank_rows_between_are_skipped_but_not_without_end() -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append(GOOD[0])
    sheet.cell(row=MAX_BLANK_ROWS, column=1, value="Berg")
    sheet.cell(row=MAX_BLANK_ROWS, column=3, value="Bo")
    sheet.cell(row=MAX_BLANK_ROWS, column=4, value="bo@berg.example.se")
    out = io.BytesIO()
    workbook.save(out)
    assert [c.row for c in parse(out.getvalue()).contacts] == [2, MAX_BLANK_ROWS]
    # A row numbered far beyond any sheet: openpyxl would fill the gap with empty rows for ever.
    far = _rewrite_sheet(
        out.getvalue(), lambda xml: re.sub(rb'r="(\D*)%d"' % MAX_BLANK_ROWS, rb'r="\g<1>99999999999"', xml)
    )
    assert the_error(parse(far)).startswith("Filen har fler än 10\u00a0000 tomma rader.")


def _rewrite_sheet(xlsx: bytes, change: Any) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as package:
        for info in source.infolist():
            content = source.read(info)
            package.writestr(info.filename, change(content) if info.filename == "xl/worksheets/sheet1.xml" else content)
    return out.getvalue()


def test_excel_values_that_are_not_text() -> None:
    result = parse(xlsx_bytes([["Namn", "E-post", "Organisation"], [12345, "nr@berg.example.se", "berg"]]))
    assert result.contacts[0].name == "12345"


def test_organisation_names_ids_win_over_names() -> None:
    names = organisation_names(REFERENCE.organisations)
    assert names["sundsvall"] == "sundsvall" and names["sundsvalls kommun"] == "sundsvall"
    assert names["mittuniversitetet"] == "miun"

    class Org:
        def __init__(self, id: str, name: str, short_name: str) -> None:
            self.id, self.name, self.short_name = id, name, short_name

    names = organisation_names([Org("a", "B", "Gemensam"), Org("b", "A", "gemensam")])
    assert names == {"a": "a", "b": "b", "gemensam": "a"}  # an id is never taken by another's name


# -- any input -------------------------------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_give_a_result_never_an_exception(data: bytes) -> None:
    result = parse(data)
    assert result.contacts or result.errors
    assert all(re.fullmatch(r"Rad \d+: .+\.", e) for e in result.errors) or len(result.errors) == 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000).map(lambda tail: xlsx_bytes([HEADER, *GOOD])[:1000] + tail))
def test_any_damaged_workbook_gives_a_result(data: bytes) -> None:
    assert parse(data).errors


cell_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
organisation = st.sampled_from(["Berg", "bergs kommun", "  Åre ", "MIUN", "Nowhere", ""]) | cell_text
target_group = st.sampled_from(["", "lärare", "Rektor", "rektorer"]) | cell_text
name = st.sampled_from(["Anna", " Bo Berg ", ""]) | cell_text
email = st.sampled_from(["anna@berg.example.se", "ANNA@berg.example.se", "bo@x", ""]) | cell_text


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(organisation, target_group, name, email), max_size=12),
    st.sampled_from([";", ","]),
    st.booleans(),
)
def test_any_rows_each_a_contact_or_one_error(rows: list[tuple[str, str, str, str]], delimiter: str, bom: bool) -> None:
    result = parse(csv_bytes([HEADER, *[list(r) for r in rows]], delimiter=delimiter, bom=bom))
    if len(result.errors) == 1 and not result.errors[0].startswith("Rad "):
        assert result.contacts == []  # the file's one error: no contacts, or a NUL
        return
    named = [int(e.split(":")[0].removeprefix("Rad ")) for e in result.errors]
    assert len(named) == len(set(named)), "one error per row"
    assert named == sorted(named)
    assert not {c.row for c in result.contacts} & set(named)
    assert len(result.contacts) + len(named) <= result.rows <= len(rows)
    keys = [(c.organisation_id, c.target_group, c.email) for c in result.contacts]
    assert len(keys) == len(set(keys)), "no duplicates"
    for contact in result.contacts:
        assert contact.organisation_id in ORGANISATIONS.values()
        assert contact.target_group is None or contact.target_group in GROUPS
        assert contact.name == contact.name.strip() and 0 < len(contact.name) <= 200
        assert contact.email == contact.email.lower().strip()
