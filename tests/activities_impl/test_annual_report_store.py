"""The annual report from a store (SQLite and PostgreSQL): the facts gathered, the DOCX read back with python-docx
against what was registered, the CSVs, the budget table's sums, and the same counts after anonymisation."""

from __future__ import annotations

import csv
import io
import zipfile

import docx

from activities_impl.annual_report import build_annual_report
from activities_impl.annual_report_docx import csv_tables, docx_name, render_docx, write_report, zip_bundle
from domain.annual_report import Outcome
from tests.support.annual_year import AS_OF, YEAR_2020, build_year, expected_participants

NBSP = "\u00a0"


def _kr(text: str) -> int:
    return int(text.replace(NBSP, "").replace(" ", "") or 0)


def _rows(table) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for row in table.rows]


def _tables_after(document, heading: str) -> list[list[list[str]]]:
    """The tables between the heading named `heading` and the next heading of the same or a higher level."""
    body = document.element.body
    found, level, out = False, None, []
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = docx.text.paragraph.Paragraph(child, document)
            style = paragraph.style.name if paragraph.style is not None else ""
            if style.startswith("Heading "):
                this = int(style.split()[-1])
                if found and level is not None and this <= level:
                    break
                if paragraph.text == heading:
                    found, level = True, this
        elif tag == "tbl" and found:
            out.append(_rows(docx.table.Table(child, document)))
    return out


def test_the_year_as_the_store_has_it(store):
    build_year(store)
    report = build_annual_report(store, 2020, AS_OF)
    by_id = {a.activity_id: a for a in report.activities}
    assert set(by_id) == {spec.id for spec in YEAR_2020}
    assert by_id["mentor-20"].participants == 27 and by_id["mentor-20"].outcome is Outcome.RAN
    assert by_id["kulturanalys-20"].outcome_text == "Inställd: för få anmälda (3 anmälda, minst 8 behövdes)."
    assert by_id["fritidshem-20"].outcome_text == "Flyttad till ht-21 (första tillfället 2021-09-22)."
    webinars = [a for a in report.areas[0].activities if a.line_id == "likvardighet-run-webbinarium"]
    assert [a.outcome for a in webinars] == [Outcome.RAN, Outcome.CANCELLED, Outcome.RAN]
    assert [a.activity_id for a in report.outside] == ["skolbibliotek-20"]
    assert by_id["organisera-likvardig-skola-20"].evaluation_text.startswith("Utvärderingar: 2 svar av 13 utskick")
    expected = expected_participants()
    assert {m.organisation_id: m.participants for m in report.municipalities if m.participants} == {
        o: n for o, n in expected.items() if o not in ("miun", "jgy")
    }
    assert [m.name for m in report.did_not_take_part] == ["Härjedalen", "Ånge"]
    assert report.summary.participants == sum(expected.values())
    assert report.summary.ran == 7 and report.summary.cancelled == 2 and report.summary.postponed == 1
    assert [(s.year, s.participants) for s in report.earlier] == [(2019, 18)]
    assert report.line_comparison[0].participants == {2019: 18, 2020: 27}
    assert len(report.contributions) == 19 and report.contributions_total_ore == sum(
        c.amount_ore for c in report.contributions
    )


def test_the_docx_read_back(store, tmp_path):
    build_year(store)
    report = build_annual_report(store, 2020, AS_OF)
    names = write_report(report, str(tmp_path / "ut"))
    assert names[0] == docx_name(2020) == "verksamhetsrapport-2020.docx"
    document = docx.Document(str(tmp_path / "ut" / names[0]))
    headings = [(p.style.name, p.text) for p in document.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    assert ("Title", "Verksamhetsrapport 2020") in headings
    assert ("Heading 2", "Likvärdighet") in headings and ("Heading 3", "Mentor i förskola och skola") in headings
    assert ("Heading 2", "Aktiviteter utanför handlingsplanen") in headings
    assert ("Heading 2", "Handlingsplan 2020 med ekonomisk redovisning") in headings
    # One chart per activity with participants.
    with_people = [a for a in report.activities if a.by_organisation]
    assert len(document.inline_shapes) == len(with_people) == 7

    # Each activity's table: participants per organisation as registered.
    names_of = {o.organisation_id: o.name for o in report.municipalities + report.other_organisations}
    for spec in YEAR_2020:
        tables = _tables_after(document, spec.title)
        if spec.outcome != "ran":
            assert tables == []
            continue
        (table,) = tables
        assert table[0] == ["Kommun/organisation", "Deltagare"]
        assert {row[0]: int(row[1]) for row in table[1:-1]} == {names_of[o]: n for o, n in spec.participants.items()}
        assert table[-1] == ["Totalt", str(sum(spec.participants.values()))]

    # The budget table sums: each area's lines to its sum, the sums to the total; outcome = the costs booked.
    (budget,) = _tables_after(document, "Handlingsplan 2020 med ekonomisk redovisning")
    assert budget[0] == ["Vad", "Hur", "Budgeterat", "Utfall"]
    lines: list[list[str]] = []
    sums_budget = sums_outcome = 0
    for row in budget[1:]:
        if row[0] == "Summa":
            assert _kr(row[2]) == sum(_kr(r[2]) for r in lines) or not lines[0][2]  # an area budgeted as a whole
            assert _kr(row[3]) == sum(_kr(r[3]) for r in lines)
            sums_budget, sums_outcome = sums_budget + _kr(row[2]), sums_outcome + _kr(row[3])
            lines = []
        elif row[0] == "TOTALT":
            assert (_kr(row[2]), _kr(row[3])) == (sums_budget, sums_outcome) == (925_000, 217_250)
        elif row[2] or row[3]:
            lines.append(row)
    assert budget[-1][0] == "TOTALT"
    mentor = next(row for row in budget if row[0] == "Mentor i förskola och skola")
    assert mentor[2:] == [f"40{NBSP}000", f"31{NBSP}250"]  # a cost on the activity counts on its line
    assert ["Skolbibliotek som pedagogisk resurs", "", "", f"7{NBSP}500"] in budget  # outside the plan

    (participation,) = _tables_after(document, "Deltagande per kommun")
    assert len(participation) == 1 + 19 + 2  # the 19 municipalities, Mittuniversitetet, Jämtlands gymnasieförbund
    assert {row[0]: int(row[3]) for row in participation[1:]} == {
        names_of[o]: expected_participants().get(o, 0) for o in names_of
    }
    contributions, comparison = (
        _tables_after(document, "Kommunernas bidrag")[0],
        _tables_after(document, "Jämförelse med tidigare år"),
    )
    assert contributions[-1][0] == "Totalt" and len(contributions) == 1 + 19 + 3
    assert comparison[0][1] == ["2019", "1", "1", "0", "0", "18", "2", "–", "0"]
    assert comparison[0][2][:7] == ["2020", "10", "7", "2", "1", str(report.summary.participants), "17"]
    assert comparison[1][1:] == [["Mentor i förskola och skola", "18", "27"]]


def test_the_csvs(store):
    build_year(store)
    report = build_annual_report(store, 2020, AS_OF)
    tables = {t.name: t for t in csv_tables(report)}
    per_org = tables["verksamhetsrapport-2020-deltagare-per-aktivitet.csv"].data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(per_org), delimiter=";"))
    assert rows[0] == ["Aktivitet", "Aktivitets-id", "Kommun/organisation", "Organisations-id", "Deltagare"]
    assert sum(int(r[4]) for r in rows[1:]) == report.summary.participants
    budget = tables["verksamhetsrapport-2020-handlingsplan-ekonomi.csv"].data().decode("utf-8-sig")
    assert budget.splitlines()[-1] == ";TOTALT;;925000;217250"
    bundle = zipfile.ZipFile(io.BytesIO(zip_bundle(report, charts=False)))
    assert sorted(bundle.namelist()) == sorted([docx_name(2020), *tables])


def test_an_anonymised_year_reports_the_same_counts(store):
    build_year(store)
    before = build_annual_report(store, 2020, AS_OF)
    for spec in YEAR_2020:
        store.anonymise_activity(spec.id)
    after = build_annual_report(store, 2020, AS_OF)
    assert after == before
    assert render_docx(after, charts=False) and [p.name for _, p in store.registrations("mentor-20")] == [None] * 27


def test_a_year_without_plan_or_activities(store):
    report = build_annual_report(store, 2031, AS_OF)
    assert report.areas == [] and report.activities == [] and report.summary.participants == 0
    document = docx.Document(io.BytesIO(render_docx(report)))
    assert "Det finns ingen handlingsplan för 2031 i runflow." in [p.text for p in document.paragraphs]
