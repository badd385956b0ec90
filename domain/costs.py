"""Costs (utfall): what the year's lines and activities cost, and their import from a spreadsheet.

A cost belongs to a year's action plan and is booked either on one of its lines or on an activity (whose line, if
it names one, is where it counts: `domain.year_outcome`). Amounts are whole öre; the date is when it was paid or
invoiced (it may fall in the year after, for a late invoice); the category is one of the office's: lokal,
föreläsare, resor, mat, material, övrigt; a note of at most 200 characters says what it was.

`parse_costs` reads a CSV or Excel file (through `domain.spreadsheet`'s limits) with the columns (header names
matched without regard to case and spacing, the order free, other columns ignored):

- `år` (optional: the date's year), `rad` (a line's id, or its `vad` when that is unique in the year's plan) or
  `aktivitet` (an activity's id): one of the two;
- `belopp` ("1 234,50", "1234.5", "950 kr"), `datum` (2020-03-05), `kategori`, `anteckning` (optional).

Like `domain.contacts_import`, whatever the bytes the result is a `CostsImport`, never an exception: the valid rows
and every problem, by row and column, in Swedish and English.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from domain.action_plan import LINE_ID
from domain.control_characters import control_character
from domain.import_problems import ImportProblem, problem
from domain.money import AmountError, kronor, parse_ore
from domain.plan_source import shown
from domain.spreadsheet import Row, TableError, find_columns, read_table

MAX_COST_ORE = 10_000_000 * 100  # 10 million kronor: one cost
MAX_NOTE = 200
MAX_COST_ROWS = 5000
ACTIVITY_ID_LENGTH = 64


class CostCategory(StrEnum):
    VENUE = "lokal"
    SPEAKER = "föreläsare"
    TRAVEL = "resor"
    FOOD = "mat"
    MATERIAL = "material"
    OTHER = "övrigt"

    @property
    def label(self) -> str:
        """As a table heads it: "Lokal", "Föreläsare"..."""
        return self.value[:1].upper() + self.value[1:]


# What a spreadsheet may say for a category (casefolded, spaces removed).
CATEGORY_NAMES: dict[str, CostCategory] = {
    **dict.fromkeys(["lokal", "lokaler", "lokalhyra", "venue", "rum"], CostCategory.VENUE),
    **dict.fromkeys(
        ["föreläsare", "forelasare", "föreläsararvode", "arvode", "talare", "speaker", "föreläsning"],
        CostCategory.SPEAKER,
    ),
    **dict.fromkeys(["resor", "resa", "resekostnad", "resekostnader", "travel", "logi"], CostCategory.TRAVEL),
    **dict.fromkeys(["mat", "fika", "lunch", "måltid", "måltider", "food", "förtäring"], CostCategory.FOOD),
    **dict.fromkeys(["material", "tryck", "trycksaker", "materials"], CostCategory.MATERIAL),
    **dict.fromkeys(["övrigt", "ovrigt", "annat", "other", "övriga"], CostCategory.OTHER),
}


def _one_line(value: str) -> str:
    if control_character(value):
        raise ValueError("must be one line without control characters")
    return value


def _line(value: str) -> str:
    if not LINE_ID.match(value):
        raise ValueError("must be an action plan line id")
    return value


def _activity_id(value: str) -> str:
    if not (3 <= len(value) <= ACTIVITY_ID_LENGTH and LINE_ID.match(value)):
        raise ValueError("must be an activity id: 3-64 lowercase letters, digits or dashes")
    return value


Note = Annotated[str, StringConstraints(max_length=MAX_NOTE), AfterValidator(_one_line)]


class Cost(BaseModel):
    """One cost, booked on a line of the year's action plan or on an activity (exactly one of the two)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    year: Annotated[int, Field(ge=2000, le=2100)]
    line_id: Annotated[str, StringConstraints(max_length=64), AfterValidator(_line)] | None = None
    activity_id: Annotated[str, AfterValidator(_activity_id)] | None = None
    amount_ore: Annotated[int, Field(ge=1, le=MAX_COST_ORE)]
    date: date
    category: CostCategory
    note: Note = ""

    @model_validator(mode="after")
    def _one_target(self) -> Cost:
        if (self.line_id is None) == (self.activity_id is None):
            raise ValueError("a cost is booked on a line or on an activity: exactly one of line_id and activity_id")
        if not self.year - 1 <= self.date.year <= self.year + 1:
            raise ValueError(f"the date {self.date} is too far from the year {self.year}")
        return self


class RecordedCost(Cost):
    """A cost as the store keeps it: its id, and the import it came with (None: added by hand)."""

    id: int
    batch: str | None = None


@dataclass(frozen=True)
class YearLines:
    """What a cost file may name for one year: the lines of its action plan, by id, with what each is."""

    year: int
    whats: Mapping[str, str]  # line id -> what


class ImportedCost(BaseModel):
    model_config = ConfigDict(frozen=True)

    row: int
    cost: Cost


class CostsImport(BaseModel):
    """The valid rows, and every problem of the others; for a file that cannot be read, no costs and one problem."""

    costs: list[ImportedCost] = []
    problems: list[ImportProblem] = []
    rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def total_ore(self) -> int:
        return sum(c.cost.amount_ore for c in self.costs)


COLUMNS: dict[str, str] = {
    **dict.fromkeys(["år", "ar", "year", "handlingsplan"], "år"),
    **dict.fromkeys(["rad", "radid", "line", "lineid", "handlingsplansrad", "insats"], "rad"),
    **dict.fromkeys(["aktivitet", "aktivitetsid", "activity", "activityid"], "aktivitet"),
    **dict.fromkeys(["belopp", "amount", "kostnad", "summa", "beloppkr", "kr"], "belopp"),
    **dict.fromkeys(["datum", "date", "fakturadatum", "betaldatum"], "datum"),
    **dict.fromkeys(["kategori", "category", "typ", "slag", "kostnadsslag", "vad"], "kategori"),
    **dict.fromkeys(["anteckning", "not", "notering", "kommentar", "beskrivning", "note", "text"], "anteckning"),
}
REQUIRED = ("belopp", "datum", "kategori")
HEADER_HELP = (
    "Första raden ska ha rubrikerna rad eller aktivitet, belopp, datum och kategori (år och anteckning kan utelämnas)."
)
CATEGORIES_SV = ", ".join(c.value for c in CostCategory)


def parse_costs(data: bytes, lines: Mapping[int, YearLines], activities: Set[str]) -> CostsImport:
    """Read a cost file. `lines`: each year's action plan lines (a line may be named only in a year with a plan);
    `activities`: the ids of the activities in the store."""
    try:
        rows = read_table(data, MAX_COST_ROWS + 1)
    except TableError as exc:
        return CostsImport(problems=[problem(None, "fil", exc.code, exc.message, exc.text)])
    header, body = rows[0], rows[1:]
    columns = find_columns(header.cells, COLUMNS)
    missing = [c for c in REQUIRED if c not in columns]
    if "rad" not in columns and "aktivitet" not in columns:
        missing.insert(0, "rad eller aktivitet")
    if missing:
        return CostsImport(
            problems=[
                problem(
                    header.number,
                    "rubrikrad",
                    "missing_columns",
                    f"the header row lacks the columns {', '.join(missing)}",
                    f"kolumnerna {', '.join(missing)} saknas. {HEADER_HELP}",
                    missing=missing,
                )
            ]
        )
    if not body:
        return CostsImport(
            problems=[
                problem(
                    None,
                    "fil",
                    "no_costs",
                    "the file has no costs, only its header",
                    "Filen har inga kostnader, bara rubrikraden.",
                )
            ]
        )
    result = CostsImport(rows=len(body))
    for row in body:
        cost, problems = _cost(row, columns, lines, activities)
        result.problems.extend(problems)
        if cost is not None:
            result.costs.append(ImportedCost(row=row.number, cost=cost))
    return result


@dataclass
class _RowCheck:
    row: Row
    problems: list[ImportProblem]

    def add(self, column: str, code: str, message: str, text: str, **details: Any) -> None:
        self.problems.append(problem(self.row.number, column, code, message, text, **details))


def _cost(
    row: Row, columns: Mapping[str, int], lines: Mapping[int, YearLines], activities: Set[str]
) -> tuple[Cost | None, list[ImportProblem]]:
    check = _RowCheck(row, [])
    cells = {column: row.cell(index) for column, index in columns.items()}
    for column, text in cells.items():
        limit = MAX_NOTE if column == "anteckning" else 100
        if len(text) > limit:
            check.add(column, "too_long", f"is longer than {limit} characters", f"är för lång (högst {limit} tecken)")
            cells[column] = ""
        elif control_character(text):
            check.add(
                column,
                "control_character",
                "must be one line without control characters",
                "innehåller ett otillåtet tecken (till exempel ett styrtecken eller en radbrytning)",
            )
            cells[column] = ""
    day = _date(check, cells.get("datum", ""))
    year = _year(check, cells.get("år", ""), day)
    amount = _amount(check, cells.get("belopp", ""))
    category = _category(check, cells.get("kategori", ""))
    line_text, activity = cells.get("rad", ""), cells.get("aktivitet", "")
    line_id = None
    if line_text and activity:
        check.add(
            "aktivitet",
            "line_and_activity",
            "give a line or an activity, not both",
            "ange antingen rad eller aktivitet, inte båda",
        )
    elif not line_text and not activity:
        check.add(
            "rad",
            "missing",
            "give a line of the action plan or an activity",
            "ange en rad i handlingsplanen eller en aktivitet",
        )
    elif activity and activity not in activities:
        check.add(
            "aktivitet", "unknown_activity", f"no activity {shown(activity)}", f"aktiviteten ”{activity}” finns inte"
        )
    elif line_text and year is not None:
        line_id = _line_id(check, line_text, year, lines.get(year))
    if check.problems or day is None or year is None or amount is None or category is None:
        return None, check.problems
    if not year - 1 <= day.year <= year + 1:
        check.add(
            "datum",
            "date_outside_year",
            f"{day} is too far from the year {year}",
            f"{day} ligger för långt från året {year}",
        )
        return None, check.problems
    cost = Cost(
        year=year,
        line_id=line_id,
        activity_id=activity or None,
        amount_ore=amount,
        date=day,
        category=category,
        note=cells.get("anteckning", ""),
    )
    return cost, check.problems


def _date(check: _RowCheck, text: str) -> date | None:
    if not text:
        check.add("datum", "missing", "is missing", "saknas")
        return None
    try:
        if len(text) > 10 and text[10] in "T ":
            moment = datetime.fromisoformat(text)
            if moment.time() == datetime.min.time():
                return moment.date()
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        check.add(
            "datum",
            "invalid_date",
            f"must be a date such as 2020-03-05 (got {shown(text)})",
            "ska vara ett datum, t.ex. 2020-03-05",
        )
        return None


def _year(check: _RowCheck, text: str, day: date | None) -> int | None:
    if not text:
        return day.year if day is not None else None
    if text.isdigit() and len(text) == 4 and 2000 <= int(text) <= 2100:
        return int(text)
    check.add(
        "år", "invalid_year", f"must be a year such as 2020 (got {shown(text)})", "ska vara ett årtal, t.ex. 2020"
    )
    return None


def _amount(check: _RowCheck, text: str) -> int | None:
    if not text:
        check.add("belopp", "missing", "is missing", "saknas")
        return None
    try:
        ore = parse_ore(text, maximum_ore=MAX_COST_ORE)
    except AmountError as exc:
        message, sv = {
            "not_a_number": (
                "must be an amount in kronor, e.g. 1 234,50",
                "ska vara ett belopp i kronor, t.ex. 1 234,50",
            ),
            "too_precise": ("must have at most two decimals (öre)", "får ha högst två decimaler (ören)"),
            "negative": ("must be more than 0", "ska vara större än 0"),
            "too_large": (f"must be at most {kronor(MAX_COST_ORE)}", f"får vara högst {kronor(MAX_COST_ORE)}"),
        }[exc.code]
        check.add("belopp", "invalid_amount", f"{message} (got {shown(text)})", sv, reason=exc.code)
        return None
    if ore == 0:
        check.add("belopp", "invalid_amount", "must be more than 0", "ska vara större än 0", reason="zero")
        return None
    return ore


def _category(check: _RowCheck, text: str) -> CostCategory | None:
    if not text:
        check.add("kategori", "missing", "is missing", f"saknas (en av {CATEGORIES_SV})")
        return None
    found = CATEGORY_NAMES.get("".join(text.casefold().split()))
    if found is None:
        check.add(
            "kategori",
            "unknown_category",
            f"unknown category {shown(text)} (one of {', '.join(c.value for c in CostCategory)})",
            f"kategorin ”{text}” finns inte (en av {CATEGORIES_SV})",
        )
    return found


def _line_id(check: _RowCheck, text: str, year: int, plan: YearLines | None) -> str | None:
    if plan is None:
        check.add(
            "rad", "no_action_plan", f"there is no action plan for {year}", f"det finns ingen handlingsplan för {year}"
        )
        return None
    if text in plan.whats:
        return text
    key = " ".join(text.casefold().split())
    by_what = [line_id for line_id, what in plan.whats.items() if " ".join(what.casefold().split()) == key]
    if len(by_what) == 1:
        return by_what[0]
    if by_what:
        check.add(
            "rad",
            "ambiguous_line",
            f"{shown(text)} is more than one line of the {year} plan: give its id",
            f"”{text}” är flera rader i handlingsplanen för {year}: ange radens id",
            ids=by_what,
        )
    else:
        check.add(
            "rad",
            "unknown_line",
            f"the action plan for {year} has no line {shown(text)}",
            f"handlingsplanen för {year} har ingen rad ”{text}”",
        )
    return None
