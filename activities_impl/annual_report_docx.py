"""The annual report as files: `verksamhetsrapport-<year>.docx` (python-docx) that the office edits further, and one
CSV per table (`year_files.table_csv`: UTF-8 with BOM, semicolons, amounts in kronor with a decimal comma).

The document follows the office's own report (the 2019 "Verksamhetsrapport"): a title page, "RUNs verksamhet inom
handlingsplanens insatsområden" with a heading per focus area and per activity (a paragraph on format, sessions
and places, the outcome, participants per municipality or organisation as a table and a bar chart, the evaluations
in short), the activities outside the plan, then "Ekonomi" with the table "Handlingsplan <year> med ekonomisk
redovisning" and the contributions, participation per municipality, and the comparison with earlier years. Real
Word headings (Heading 1-3, so a table of contents can be added in Word) and real Word tables.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from activities_impl.year_files import Cell, Kronor, table_csv
from domain.annual_report import OUTSIDE_PLAN, ActivityEntry, AnnualReport, BudgetRow
from domain.money import grouped, kronor

if TYPE_CHECKING:
    from docx.document import Document as DocumentObject

ORE = 100
TABLE_STYLE = "Table Grid"


@dataclass(frozen=True)
class CsvTable:
    name: str  # the file's name
    header: list[str]
    rows: Sequence[Sequence[Cell]]

    def data(self) -> bytes:
        return table_csv(self.header, self.rows)


def docx_name(year: int) -> str:
    return f"verksamhetsrapport-{year}.docx"


def _kr(ore: int | None) -> str:
    """'925 000' (whole kronor as the office's tables write them), '1 234,50' with öre, '' for none."""
    return "" if ore is None else kronor(ore, unit=False)


def _kr_cell(ore: int | None) -> Cell:
    return None if ore is None else Kronor(ore)


# -- the CSVs --------------------------------------------------------------------------------------------------------
def csv_tables(report: AnnualReport) -> list[CsvTable]:
    """One CSV per table of the report."""
    year = report.year
    area_of = {a.activity_id: area.name for area in report.areas for a in area.activities}
    activities = [
        [
            area_of.get(a.activity_id, OUTSIDE_PLAN),
            a.line_what,
            a.title,
            a.activity_id,
            a.format,
            a.sessions,
            a.sessions_text,
            a.places,
            a.outcome.value,
            a.outcome_text,
            a.participants,
            sum(s.invited for s in a.surveys),
            sum(s.answered for s in a.surveys),
            a.evaluation_text,
        ]
        for a in report.activities
    ]
    per_org: list[list[Cell]] = [
        [a.title, a.activity_id, c.name, c.organisation_id, c.participants]
        for a in report.activities
        for c in a.by_organisation
    ]
    budget: list[list[Cell]] = [
        [r.area, r.what, r.how, _kr_cell(r.budget_ore), _kr_cell(r.outcome_ore)] for r in report.budget_rows
    ]
    participation = [
        [r.name, r.organisation_id, r.region, "ja" if r.participants else "nej", r.activities, r.participants]
        for r in report.municipalities
    ] + [[r.name, r.organisation_id, r.region, "ja", r.activities, r.participants] for r in report.other_organisations]
    contributions: list[list[Cell]] = [
        [c.name, c.organisation_id, c.population, Kronor(c.amount_ore)] for c in report.contributions
    ]
    if report.contributions_total_ore is not None:
        contributions.append(["Summa", None, None, Kronor(report.contributions_total_ore)])
        contributions.append(["Överfört överskott", None, None, Kronor(report.carried_over_ore)])
        contributions.append(["Totalt", None, None, _kr_cell(report.means_ore)])
    comparison = [
        [
            s.year,
            s.activities,
            s.ran,
            s.cancelled,
            s.postponed,
            s.participants,
            s.municipalities,
            _kr_cell(s.budget_ore),
            Kronor(s.outcome_ore),
        ]
        for s in [*report.earlier, report.summary]
    ]
    years = sorted({y for line in report.line_comparison for y in line.participants})
    per_line = [[line.what, *(line.participants.get(y) for y in years)] for line in report.line_comparison]
    return [
        CsvTable(
            f"verksamhetsrapport-{year}-aktiviteter.csv",
            [
                "Insatsområde",
                "Rad i handlingsplanen",
                "Aktivitet",
                "Aktivitets-id",
                "Format",
                "Tillfällen",
                "Tillfällen och platser",
                "Platser",
                "Utfall",
                "Utfall (text)",
                "Deltagare",
                "Enkätutskick",
                "Enkätsvar",
                "Utvärderingar",
            ],
            activities,
        ),
        CsvTable(
            f"verksamhetsrapport-{year}-deltagare-per-aktivitet.csv",
            ["Aktivitet", "Aktivitets-id", "Kommun/organisation", "Organisations-id", "Deltagare"],
            per_org,
        ),
        CsvTable(
            f"verksamhetsrapport-{year}-handlingsplan-ekonomi.csv",
            ["Insatsområde", "Vad", "Hur", "Budgeterat (kr)", "Utfall (kr)"],
            budget,
        ),
        CsvTable(
            f"verksamhetsrapport-{year}-deltagande-per-kommun.csv",
            ["Kommun/organisation", "Organisations-id", "Län/region", "Deltog", "Aktiviteter", "Deltagare"],
            participation,
        ),
        CsvTable(
            f"verksamhetsrapport-{year}-kommunernas-bidrag.csv",
            ["Kommun", "Organisations-id", "Invånare", "Bidrag (kr)"],
            contributions,
        ),
        CsvTable(
            f"verksamhetsrapport-{year}-jamforelse.csv",
            [
                "År",
                "Aktiviteter",
                "Genomförda",
                "Inställda",
                "Flyttade",
                "Deltagare",
                "Kommuner som deltog",
                "Budgeterat (kr)",
                "Utfall (kr)",
            ],
            comparison,
        ),
        CsvTable(
            f"verksamhetsrapport-{year}-jamforelse-per-aktivitet.csv",
            ["Vad", *(str(y) for y in years)],
            per_line,
        ),
    ]


# -- the DOCX --------------------------------------------------------------------------------------------------------
def _table(
    document: DocumentObject, header: list[str], rows: list[list[str]], bold_rows: Collection[int] = frozenset()
) -> None:
    table = document.add_table(rows=1, cols=len(header))
    table.style = TABLE_STYLE
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(text).bold = True
    for index, values in enumerate(rows):
        cells = table.add_row().cells
        for cell, text in zip(cells, values, strict=True):
            cell.text = ""
            run = cell.paragraphs[0].add_run(text)
            run.bold = index in bold_rows


def _chart(entry: ActivityEntry) -> bytes:
    """The bar chart of the activity's participants per municipality/organisation, as the activity's own report
    draws it (`activities_impl.report.render_chart`)."""
    from activities_impl.report import ReportData, render_chart

    data = ReportData(
        activity_id=entry.activity_id,
        title=entry.title,
        focus_area="",
        format="",
        places=entry.places,
        min_participants=0,
        sessions=[],
        registrations_by_org={c.name: c.participants for c in entry.by_organisation},
        registrations_by_role={},
        attendance_by_session={},
        surveys=[],
        answer_summary={},
    )
    return render_chart(data)


def _activity(document: DocumentObject, entry: ActivityEntry, charts: bool) -> None:
    from docx.shared import Cm

    document.add_heading(entry.title, level=3)
    line = f" Rad i handlingsplanen: {entry.line_what}." if entry.line_what and entry.line_what != entry.title else ""
    document.add_paragraph(f"{entry.format.capitalize()}, {entry.sessions_text}. {entry.places} platser.{line}")
    document.add_paragraph(entry.outcome_text)
    if entry.by_organisation:
        rows = [[c.name, str(c.participants)] for c in entry.by_organisation]
        rows.append(["Totalt", str(entry.participants)])
        _table(document, ["Kommun/organisation", "Deltagare"], rows, {len(rows) - 1})
        if charts:
            document.add_picture(io.BytesIO(_chart(entry)), width=Cm(15))
            document.add_paragraph(f"Figur: deltagare per kommun/organisation, {entry.title}.", style="Caption")
    if entry.evaluation_text:
        document.add_paragraph(entry.evaluation_text)


def _budget_row(row: BudgetRow) -> list[str]:
    if row.kind == "area":
        return [row.what, "", "", ""]
    return [row.what, row.how, _kr(row.budget_ore), _kr(row.outcome_ore)]


def render_docx(report: AnnualReport, charts: bool = True) -> bytes:
    """The report as a Word document (`charts=False`: without the figures, e.g. for quick tests)."""
    from docx import Document

    year = report.year
    document = Document()
    document.core_properties.title = f"Verksamhetsrapport {year}"
    document.core_properties.language = "sv-SE"
    document.add_heading(f"Verksamhetsrapport {year}", level=0)
    document.add_paragraph("Regionalt utvecklingsnätverk, RUN")
    document.add_paragraph(f"{report.as_of:%Y-%m-%d}")

    document.add_heading("RUNs verksamhet inom handlingsplanens insatsområden", level=1)
    period = f" för verksamhetsperioden {report.period}" if report.period else ""
    if report.areas:
        document.add_paragraph(
            f"Handlingsplanen för {year}{period} har {len(report.areas)} insatsområden: "
            + ", ".join(a.name for a in report.areas)
            + ". Nedan redovisas årets aktiviteter inom respektive insatsområde."
        )
    else:
        document.add_paragraph(f"Det finns ingen handlingsplan för {year} i runflow.")
    for area in report.areas:
        document.add_heading(area.name, level=2)
        if not area.activities:
            document.add_paragraph("Inga aktiviteter inom insatsområdet har registrerats i runflow under året.")
        for entry in area.activities:
            _activity(document, entry, charts)
        if area.lines_without_activity:
            document.add_paragraph(
                "Övrigt i handlingsplanen inom insatsområdet (redovisas utan aktivitet i runflow): "
                + "; ".join(area.lines_without_activity)
                + "."
            )
    if report.outside:
        document.add_heading(OUTSIDE_PLAN, level=2)
        document.add_paragraph("Följande aktiviteter ingår inte i handlingsplanen för året.")
        for entry in report.outside:
            _activity(document, entry, charts)

    document.add_heading("Deltagande per kommun", level=1)
    took, missing = report.took_part, report.did_not_take_part
    document.add_paragraph(
        f"Under {year} deltog personal från {len(took)} av {len(report.municipalities)} kommuner i RUNs aktiviteter, "
        f"totalt {report.summary.participants} deltagare."
        + (f" Kommuner utan deltagare: {', '.join(r.name for r in missing)}." if missing else "")
    )
    rows = [[r.name, r.region or "", str(r.activities), str(r.participants)] for r in report.municipalities]
    rows += [[r.name, "", str(r.activities), str(r.participants)] for r in report.other_organisations]
    _table(document, ["Kommun/organisation", "Län/region", "Aktiviteter", "Deltagare"], rows)

    document.add_heading("Ekonomi", level=1)
    if report.contributions_total_ore is not None and report.rate_ore is not None:
        carried = (
            f", inräknat överskott från {year - 1} på {kronor(report.carried_over_ore)}"
            if report.carried_over_ore > 0
            else (
                f", inräknat underskott från {year - 1} på {kronor(-report.carried_over_ore)}"
                if report.carried_over_ore < 0
                else ""
            )
        )
        document.add_paragraph(
            f"Kommunerna bidrog gemensamt med {kronor(report.contributions_total_ore).replace(' kr', ' kronor')} "
            f"({kronor(report.rate_ore)} per invånare) till verksamheten {year}. "
            f"Budgeten för {year} års handlingsplan summerades till {kronor(report.budget_ore)}{carried}. "
            f"Utfallet blev {kronor(report.outcome_ore)}."
        )
    document.add_heading(f"Handlingsplan {year} med ekonomisk redovisning", level=2)
    document.add_paragraph(
        f"I tabellen nedan visas de insatser som finansierats av kommunernas avsatta resurser för verksamheten under "
        f"{year} samt förbrukningen av dessa."
    )
    budget = [_budget_row(row) for row in report.budget_rows]
    bold = {i for i, row in enumerate(report.budget_rows) if row.kind in ("area", "sum", "total")}
    _table(document, ["Vad", "Hur", "Budgeterat", "Utfall"], budget, bold)

    if report.contributions:
        document.add_heading("Kommunernas bidrag", level=2)
        as_of = f" (folkmängd {report.population_as_of:%Y-%m-%d})" if report.population_as_of else ""
        document.add_paragraph(f"Bidrag per kommun, {kronor(report.rate_ore or 0)} per invånare{as_of}.")
        rows = [
            [c.name, grouped(c.population) if c.population is not None else "–", _kr(c.amount_ore)]
            for c in report.contributions
        ]
        rows.append(["Summa", "", _kr(report.contributions_total_ore)])
        rows.append([f"Överfört från {year - 1}", "", _kr(report.carried_over_ore)])
        rows.append(["Totalt", "", _kr(report.means_ore)])
        _table(document, ["Kommun", "Invånare", "Bidrag (kr)"], rows, {len(rows) - 3, len(rows) - 1})

    document.add_heading("Jämförelse med tidigare år", level=1)
    if not report.earlier:
        document.add_paragraph("runflow har inga uppgifter om tidigare år att jämföra med.")
    summaries = [*report.earlier, report.summary]
    _table(
        document,
        ["År", "Aktiviteter", "Genomförda", "Inställda", "Flyttade", "Deltagare", "Kommuner", "Budgeterat", "Utfall"],
        [
            [
                str(s.year),
                str(s.activities),
                str(s.ran),
                str(s.cancelled),
                str(s.postponed),
                str(s.participants),
                str(s.municipalities),
                _kr(s.budget_ore) or "–",
                _kr(s.outcome_ore),
            ]
            for s in summaries
        ],
    )
    if report.line_comparison:
        years = sorted({y for line in report.line_comparison for y in line.participants})
        document.add_paragraph("Deltagare i aktiviteter som genomförts flera år:")
        _table(
            document,
            ["Vad", *(str(y) for y in years)],
            [
                [line.what, *(str(line.participants[y]) if y in line.participants else "–" for y in years)]
                for line in report.line_comparison
            ],
        )
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def write_report(report: AnnualReport, directory: str, charts: bool = True) -> list[str]:
    """Write the DOCX and the CSVs into `directory` (created if need be); the files' names, the DOCX first."""
    from pathlib import Path

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    names = [docx_name(report.year)]
    (out / names[0]).write_bytes(render_docx(report, charts))
    for table in csv_tables(report):
        (out / table.name).write_bytes(table.data())
        names.append(table.name)
    return names


def zip_bundle(report: AnnualReport, charts: bool = True) -> bytes:
    """The DOCX and every CSV in one ZIP file, for the back-office's download."""
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr(docx_name(report.year), render_docx(report, charts))
        for table in csv_tables(report):
            bundle.writestr(table.name, table.data())
    return buffer.getvalue()
