"""The year's action plan (handlingsplan): its focus areas (insatsområden) and their lines, with budgets and fees.

Every February the RUN-riksdag adopts the plan for the year: for each focus area the lines, what (an activity or a
network) and how (its format, in the office's words), the budget in kronor and a participant fee when there is one.
The municipalities finance it at `rate` kronor per inhabitant; a surplus from the year before is `carried_over`.

A plan comes from YAML (`parse_action_plan_yaml`, through `domain.plan_source`'s limits) or from a spreadsheet
(`parse_action_plan_table`, CSV or XLSX through `domain.spreadsheet`). Either way every problem is named by its row
and field, in Swedish and English (`ImportProblem`), and `ActionPlanError` carries them all.

Lines have stable ids, so that an activity plan can name its line (`ActivityPlan.action_plan_line`) and costs can
be booked on it: written in the file, or made from the focus area and what the line is ("Likvärdighet" + "Att
organisera en likvärdig skola" -> `likvardighet-organisera-likvardig-skola`), with how it is done added when the
same what appears twice in a focus area. The same text gives the same id next year.

Budgets may be given per line, or per focus area (the 2019 plan gave only each area's sum): a focus area's budget
is its own when it has one (its lines may then be 0 and must not add up to more), else the sum of its lines.

The spreadsheet layout is the office's table: a header row with the columns `insatsområde` (may be left out),
`vad`, `hur`, `budget` (or `budgeterat`), `deltagaravgift` and `id` (both optional), other columns ignored (e.g.
`utfall`). Above the header, rows of a label and a value: `År`, `Period`, `Kr per invånare`, `Överfört överskott`.
Below it one row per line; a blank focus area is the one above; a blank `vad` with a `hur` continues the line
above ("Kulturanalys": "Handledarutbildning", then "Erfarenhetsseminarium"). Without an `insatsområde` column a row
with only `vad` filled starts a focus area, as a heading row does in the office's table. A row labelled `Summa`
gives the focus area's budget, `Totalt` (or `Total summa`) the plan's total, which is checked.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from domain.control_characters import control_character
from domain.import_problems import ImportProblem, problem
from domain.money import AmountError, kronor, parse_kronor, parse_ore
from domain.plan_source import MAX_PLAN_BYTES, SourceError, clip, load_yaml, shown
from domain.spreadsheet import Row, TableError, find_columns, header_key, is_excel, read_table

LINE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$")
PERIOD = re.compile(r"^\s*(\d{4})\s*[-–—]\s*(\d{4})?\s*$")
MAX_BUDGET = 100_000_000  # kronor: a line's, a focus area's or a plan's budget
MAX_FEE = 100_000  # kronor per participant
MAX_CARRIED_OVER = 100_000_000
MAX_RATE_ORE = 100_00  # 100 kr per inhabitant
MAX_AREAS = 30
MAX_LINES = 300
MAX_TABLE_ROWS = 1000
MAX_AREA_NAME = 100
MAX_WHAT = 200
MAX_HOW = 300
DEFAULT_RATE = Decimal(2)

# Words left out of an id made from a text (Swedish function words), unless nothing else is left.
_STOP_WORDS = frozenset({"att", "en", "ett", "och", "i", "for", "av", "med", "om", "pa", "till", "den", "det", "de"})


def _one_line(value: str) -> str:
    if control_character(value):
        raise ValueError("must be one line without control characters")
    return value


def _line_id(value: str) -> str:
    if not LINE_ID.match(value):
        raise ValueError("must be 2-64 lowercase letters (a-z), digits or dashes")
    return value


def _period(value: str) -> str:
    found = PERIOD.match(value)
    if found is None or (found.group(2) is not None and found.group(2) < found.group(1)):
        raise ValueError("must be a plan period such as 2020–2022 (or 2023– when it is open)")
    return f"{found.group(1)}–{found.group(2) or ''}"


LineId = Annotated[str, StringConstraints(min_length=2, max_length=64), AfterValidator(_line_id)]
AreaName = Annotated[
    str, StringConstraints(min_length=2, max_length=MAX_AREA_NAME, strip_whitespace=True), AfterValidator(_one_line)
]
What = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_WHAT, strip_whitespace=True), AfterValidator(_one_line)
]
How = Annotated[str, StringConstraints(max_length=MAX_HOW, strip_whitespace=True), AfterValidator(_one_line)]
Budget = Annotated[int, Field(ge=0, le=MAX_BUDGET)]
Fee = Annotated[int, Field(ge=0, le=MAX_FEE)]
Period = Annotated[str, StringConstraints(max_length=20), AfterValidator(_period)]
Rate = Annotated[Decimal, Field(ge=0, le=Decimal(MAX_RATE_ORE) / 100, decimal_places=2)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ActionPlanLine(_Strict):
    """A line of the plan: what (an activity or a network), how (its format), its budget and participant fee."""

    id: LineId
    what: What
    how: How = ""
    budget: Budget = 0  # kronor
    fee: Fee | None = None  # kronor per participant; None: no fee


class ActionArea(_Strict):
    """A focus area (insatsområde) of the plan with its lines; `budget` when the plan budgets the area as a whole."""

    name: AreaName
    budget: Budget | None = None
    lines: Annotated[list[ActionPlanLine], Field(min_length=1, max_length=MAX_LINES)]

    @property
    def lines_budget(self) -> int:
        return sum(line.budget for line in self.lines)

    @property
    def total_budget(self) -> int:
        """The area's budget in kronor: its own when it has one, else the sum of its lines."""
        return self.budget if self.budget is not None else self.lines_budget


class ActionPlan(_Strict):
    year: Annotated[int, Field(ge=2000, le=2100)]
    period: Period
    rate: Rate = DEFAULT_RATE  # kronor per inhabitant
    carried_over: Annotated[int, Field(ge=-MAX_CARRIED_OVER, le=MAX_CARRIED_OVER)] = 0  # kronor; a deficit < 0
    areas: Annotated[list[ActionArea], Field(min_length=1, max_length=MAX_AREAS)]

    @model_validator(mode="after")
    def _consistent(self) -> ActionPlan:
        ids = [line.id for line in self.lines]
        if len(set(ids)) != len(ids):
            raise ValueError("line ids must be unique in the plan")
        names = [area.name.casefold() for area in self.areas]
        if len(set(names)) != len(names):
            raise ValueError("focus area names must be unique in the plan")
        if len(ids) > MAX_LINES:
            raise ValueError(f"a plan has at most {MAX_LINES} lines")
        for area in self.areas:
            if area.budget is not None and area.lines_budget > area.budget:
                raise ValueError(f"the lines of {area.name!r} add up to more than its budget")
        first, last = period_years(self.period)
        if self.year < first or (last is not None and self.year > last):
            raise ValueError(f"the year {self.year} is outside the period {self.period}")
        return self

    @property
    def lines(self) -> list[ActionPlanLine]:
        return [line for area in self.areas for line in area.lines]

    @property
    def line_ids(self) -> list[str]:
        return [line.id for line in self.lines]

    def line(self, line_id: str) -> ActionPlanLine | None:
        return next((line for line in self.lines if line.id == line_id), None)

    def area_of(self, line_id: str) -> ActionArea | None:
        return next((area for area in self.areas if any(line.id == line_id for line in area.lines)), None)

    @property
    def budget(self) -> int:
        """The plan's budget in kronor: the sum of its focus areas' budgets."""
        return sum(area.total_budget for area in self.areas)

    @property
    def rate_ore(self) -> int:
        return int(self.rate * 100)


def period_years(period: str) -> tuple[int, int | None]:
    """(2020, 2022) for "2020–2022", (2023, None) for "2023–"."""
    found = PERIOD.match(period)
    if found is None:
        raise ValueError(f"not a plan period: {period!r}")
    return int(found.group(1)), int(found.group(2)) if found.group(2) else None


def slug(text: str) -> str:
    """Lowercase ASCII words joined by dashes, Swedish function words left out: "Att leda en likvärdig skola" ->
    "leda-likvardig-skola". Empty when the text has no letters or digits."""
    plain = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    words = [w for w in re.split(r"[^a-z0-9]+", plain) if w]
    kept = [w for w in words if w not in _STOP_WORDS]
    return "-".join(kept or words)


def line_id_for(area: str, what: str, how: str = "") -> str:
    """The id a line gets when the plan gives none: its focus area and what it is (and how, when given), at most 64
    characters, cut between words."""
    parts = [p for p in (slug(area), slug(what), slug(how)) if p]
    text = "-".join(parts) or "rad"
    if len(text) > 64:
        text = text[:64]
        text = text[: text.rfind("-")] if "-" in text[20:] else text
    text = text.strip("-")
    return text if len(text) >= 2 else f"{text}-rad".strip("-")


class ActionPlanError(ValueError):
    """The plan is refused: every problem, by row and field (`ImportProblem`), in the file's order."""

    def __init__(self, problems: list[ImportProblem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


# -- reading a plan, whatever the source, as a draft of located values ---------------------------------------------
@dataclass
class _Value:
    raw: object  # None when absent
    row: int | None
    field: str  # as the problem names it: a YAML path or a column's Swedish header
    missing_text: str = "saknas"


@dataclass
class _DraftLine:
    row: int | None
    what: _Value
    how: _Value
    budget: _Value
    fee: _Value
    id: _Value


@dataclass
class _DraftArea:
    row: int | None
    name: _Value
    budget: _Value
    lines: list[_DraftLine] = field(default_factory=list)


@dataclass
class _Draft:
    year: _Value
    period: _Value
    rate: _Value
    carried_over: _Value
    areas: list[_DraftArea] = field(default_factory=list)
    total: _Value | None = None
    problems: list[ImportProblem] = field(default_factory=list)


@dataclass(frozen=True)
class _Issue:
    code: str
    message: str
    text: str
    details: dict[str, Any] = field(default_factory=dict)


def _absent(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: object, limit: int) -> str | _Issue:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return _Issue("invalid_type", "must be text", "ska vara text")
    text = " ".join(str(value).split())  # line breaks typed in a cell (Alt+Enter) and runs of spaces: one space
    if len(text) > limit:
        return _Issue(
            "too_long", f"is longer than {limit} characters", f"är för lång (högst {limit} tecken)", {"limit": limit}
        )
    if control_character(text):
        return _Issue(
            "control_character",
            "must be one line without control characters",
            "innehåller ett otillåtet tecken (till exempel ett styrtecken eller en radbrytning)",
        )
    return text


_AMOUNT_TEXTS = {
    "not_a_number": (
        "must be an amount in whole kronor, e.g. 75000",
        "ska vara ett belopp i hela kronor, t.ex. 75 000",
    ),
    "too_precise": ("must be whole kronor (no öre)", "ska vara hela kronor (utan ören)"),
    "negative": ("must not be negative", "får inte vara negativt"),
}


def _amount(value: object, maximum: int, allow_negative: bool = False) -> int | _Issue:
    try:
        return parse_kronor(value, allow_negative=allow_negative, maximum=maximum)
    except AmountError as exc:
        if exc.code == "too_large":
            message, text = f"must be at most {maximum} kronor", f"får vara högst {kronor(maximum * 100)}"
        else:
            message, text = _AMOUNT_TEXTS[exc.code]
        return _Issue("invalid_amount", f"{message} (got {shown(value)})", text, {"reason": exc.code})


def _year(value: object) -> int | _Issue:
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) == 4:
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 2000 <= value <= 2100:
        return _Issue(
            "invalid_year", f"must be a year such as 2020 (got {shown(value)})", "ska vara ett årtal, t.ex. 2020"
        )
    return value


def _period_value(value: object) -> str | _Issue:
    if isinstance(value, str):
        try:
            return _period(value)
        except ValueError:
            pass
    return _Issue(
        "invalid_period",
        f"must be a plan period such as 2020–2022 (got {shown(value)})",
        "ska vara en verksamhetsperiod, t.ex. 2020–2022",
    )


def _rate(value: object) -> Decimal | _Issue:
    try:
        ore = parse_ore(value, maximum_ore=MAX_RATE_ORE)
    except AmountError:
        return _Issue(
            "invalid_rate",
            f"must be kronor per inhabitant, 0-100 with at most two decimals (got {shown(value)})",
            "ska vara kronor per invånare, 0–100 med högst två decimaler, t.ex. 2",
        )
    return Decimal(ore).scaleb(-2).normalize() if ore % 100 else Decimal(ore // 100)


def _id(value: object) -> str | _Issue:
    if isinstance(value, str) and LINE_ID.match(value.strip()):
        return value.strip()
    return _Issue(
        "invalid_id",
        f"must be 2-64 lowercase letters (a-z), digits or dashes (got {shown(value)})",
        "ska vara 2–64 gemena bokstäver (a–z), siffror eller bindestreck, t.ex. likvardighet-leda-likvardig-skola",
    )


def _budget(areas: list[dict[str, Any]] | None) -> int | None:
    """The checked areas' budget in kronor; None when a line of them has a problem."""
    if areas is None or any(line is None for area in areas for line in area["lines"]):
        return None
    return sum(
        area["budget"] if area["budget"] is not None else sum(line["budget"] for line in area["lines"])
        for area in areas
    )


class _Assembler:
    """Checks a draft value by value, collecting every problem; builds the plan when there are none."""

    def __init__(self, draft: _Draft):
        self.draft = draft
        self.problems = list(draft.problems)

    def add(self, value: _Value, issue: _Issue) -> None:
        self.problems.append(problem(value.row, value.field, issue.code, issue.message, issue.text, **issue.details))

    def check(self, value: _Value, checker: Callable[[object], Any], required: bool, default: Any = None) -> Any:
        if _absent(value.raw):
            if required:
                self.add(value, _Issue("missing", "is missing", value.missing_text))
            return default
        result = checker(value.raw)
        if isinstance(result, _Issue):
            self.add(value, result)
            return None
        return result

    def build(self) -> ActionPlan:
        d = self.draft
        year = self.check(d.year, _year, required=True)
        period = self.check(d.period, _period_value, required=True)
        rate = self.check(d.rate, _rate, required=False, default=DEFAULT_RATE)
        carried = self.check(
            d.carried_over, lambda v: _amount(v, MAX_CARRIED_OVER, allow_negative=True), required=False, default=0
        )
        if year is not None and period is not None:
            first, last = period_years(period)
            if year < first or (last is not None and year > last):
                self.add(
                    d.year,
                    _Issue(
                        "year_outside_period",
                        f"{year} is outside the period {period}",
                        f"{year} ligger utanför verksamhetsperioden {period}",
                        {"period": period},
                    ),
                )
        areas = self._areas()
        if d.total is not None:
            total = self.check(d.total, lambda v: _amount(v, MAX_BUDGET), required=False)
            budget = _budget(areas)
            if total is not None and budget is not None and total != budget:
                self.add(
                    d.total,
                    _Issue(
                        "total_mismatch",
                        f"the total is {total} kr but the focus areas add up to {budget} kr",
                        f"totalen är {kronor(total * 100)} men insatsområdena summerar till {kronor(budget * 100)}",
                        {"total": total, "sum": budget},
                    ),
                )
        if self.problems:
            raise ActionPlanError(self.problems)
        data = {"year": year, "period": period, "rate": rate, "carried_over": carried, "areas": areas}
        try:
            return ActionPlan.model_validate(data)
        except ValidationError as exc:  # the checks above should have said it: a problem for each, not a crash
            raise ActionPlanError(
                [
                    problem(None, "plan", "invalid", e["msg"].removeprefix("Value error, "), e["msg"])
                    for e in exc.errors()
                ]
            ) from None

    def _areas(self) -> list[dict[str, Any]] | None:
        d = self.draft
        if not d.areas:
            if any(p.code == "no_header" for p in self.problems):
                return None  # said already
            self.problems.append(
                problem(
                    None, "insatsområden", "no_areas", "the plan has no focus areas", "planen har inga insatsområden"
                )
            )
            return None
        if len(d.areas) > MAX_AREAS or sum(len(a.lines) for a in d.areas) > MAX_LINES:
            self.problems.append(
                problem(
                    None,
                    "insatsområden",
                    "too_many",
                    f"a plan has at most {MAX_AREAS} focus areas and {MAX_LINES} lines",
                    f"en handlingsplan har högst {MAX_AREAS} insatsområden och {MAX_LINES} rader",
                )
            )
            return None
        names: dict[str, int | None] = {}
        areas: list[dict[str, Any]] = []
        checked: list[tuple[str, _DraftArea, list[dict[str, Any] | None]]] = []
        for area in d.areas:
            name = self.check(area.name, lambda v: _text(v, MAX_AREA_NAME), required=True)
            if isinstance(name, str) and len(name) < 2:
                self.add(area.name, _Issue("too_short", "is too short", "är för kort (minst 2 tecken)"))
                name = None
            if name is not None:
                key = name.casefold()
                if key in names:
                    where = f" on row {names[key]}" if names[key] is not None else ""
                    self.add(
                        area.name,
                        _Issue(
                            "duplicate_area",
                            f"the focus area {shown(name)} is already in the plan{where}",
                            f"insatsområdet ”{name}” finns redan"
                            + (f" på rad {names[key]}" if names[key] is not None else ""),
                        ),
                    )
                names.setdefault(key, area.row)
            budget = self.check(area.budget, lambda v: _amount(v, MAX_BUDGET), required=False)
            if not area.lines:
                self.add(area.name, _Issue("area_without_lines", "has no lines", "har inga rader"))
            lines = [self._line(line, area_budgeted=not _absent(area.budget.raw)) for line in area.lines]
            checked.append((name or "", area, lines))
            if budget is not None and all(line is not None for line in lines):
                total = sum(line["budget"] for line in lines if line is not None)
                if total > budget:
                    self.add(
                        area.budget,
                        _Issue(
                            "lines_above_area_budget",
                            f"is {budget} kr but the lines add up to {total} kr",
                            f"är {kronor(budget * 100)} men raderna summerar till {kronor(total * 100)}",
                            {"budget": budget, "lines": total},
                        ),
                    )
            areas.append({"name": name, "budget": budget, "lines": lines})
        self._ids(checked)
        return areas

    def _line(self, line: _DraftLine, area_budgeted: bool) -> dict[str, Any] | None:
        """The line's checked values, or None when one of them has a problem (said already)."""
        before = len(self.problems)
        what = self.check(line.what, lambda v: _text(v, MAX_WHAT), required=True)
        how = self.check(line.how, lambda v: _text(v, MAX_HOW), required=False, default="")
        budget = self.check(line.budget, lambda v: _amount(v, MAX_BUDGET), required=not area_budgeted, default=0)
        fee = self.check(line.fee, lambda v: _amount(v, MAX_FEE), required=False)
        line_id = self.check(line.id, _id, required=False)
        if len(self.problems) > before:
            return None
        return {"id": line_id, "what": what, "how": how, "budget": budget, "fee": fee}

    def _ids(self, areas: list[tuple[str, _DraftArea, list[dict[str, Any] | None]]]) -> None:
        """Give each line without an id its made one; name every id used twice."""
        seen: dict[str, int | None] = {}
        for name, area, lines in areas:
            whats = [slug(line["what"]) for line in lines if line is not None]
            for draft, line in zip(area.lines, lines, strict=True):
                if line is None:
                    continue
                given = line["id"] is not None
                if not given:
                    twice = whats.count(slug(line["what"])) > 1
                    line["id"] = line_id_for(name, line["what"], line["how"] if twice else "")
                if line["id"] in seen:
                    other = seen[line["id"]]
                    on = f" on row {other}" if other is not None else ""
                    på = f" på rad {other}" if other is not None else ""
                    if given:
                        issue = _Issue(
                            "duplicate_line",
                            f"the id {line['id']!r} is already used{on}",
                            f"id:t {line['id']} används redan{på}",
                            {"id": line["id"]},
                        )
                    else:
                        issue = _Issue(
                            "duplicate_line",
                            f"the same line as{on or ' another'} (focus area, what and how); give one of them an id",
                            f"samma rad som{på or ' en annan'} (insatsområde, vad och hur); ge en av dem ett eget id",
                            {"id": line["id"]},
                        )
                    self.add(draft.id if given else draft.what, issue)
                seen.setdefault(line["id"], draft.row)


# -- YAML ------------------------------------------------------------------------------------------------------------
TOP_KEYS = ("year", "period", "rate", "carried_over", "areas")
AREA_KEYS = ("name", "budget", "lines")
LINE_KEYS = ("id", "what", "how", "budget", "fee")


def parse_action_plan_yaml(text: str) -> ActionPlan:
    """A plan from YAML (measured before it is parsed: `domain.plan_source`), or ActionPlanError."""
    try:
        data = load_yaml(text)
    except SourceError as exc:
        line = exc.details.get("line")
        raise ActionPlanError(
            [problem(line, "plan", exc.code, str(exc), f"filen går inte att läsa: {_source_text(exc)}")]
        ) from None
    lines = _yaml_lines(text)
    return _Assembler(_yaml_draft(data, lines)).build()


def _source_text(exc: SourceError) -> str:
    return {
        "too_large": f"den är större än {MAX_PLAN_BYTES // 1024} kB",
        "too_deep": "den är nästlad för djupt",
        "too_many_values": "den har för många värden",
        "alias_cycle": "den har ett YAML-alias som pekar på sig självt",
    }.get(exc.code, "det är inte giltig YAML")


def _yaml_lines(text: str) -> dict[tuple[object, ...], int]:
    """The line of each value in the document, by its key path (("areas", 0, "lines", 1, "budget"))."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:  # pragma: no cover - load_yaml parsed it already
        return {}
    lines: dict[tuple[object, ...], int] = {}
    stack: list[tuple[yaml.Node, tuple[object, ...]]] = [(root, ())] if root is not None else []
    while stack:
        node, path = stack.pop()
        if path in lines:  # an alias seen again
            continue
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            stack.extend((v, (*path, k.value)) for k, v in node.value if isinstance(k, yaml.ScalarNode))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, i)) for i, item in enumerate(node.value))
    return lines


def _yaml_draft(data: object, lines: dict[tuple[object, ...], int]) -> _Draft:
    problems: list[ImportProblem] = []

    def line_of(path: tuple[object, ...]) -> int | None:
        while path not in lines and path:
            path = path[:-1]
        return lines.get(path)

    def name(path: tuple[object, ...]) -> str:
        out = ""
        for part in path:
            out += f"[{part}]" if isinstance(part, int) else (f".{clip(str(part))}" if out else clip(str(part)))
        return out or "plan"

    def value(mapping: dict[Any, Any], key: str, path: tuple[object, ...]) -> _Value:
        return _Value(mapping.get(key), line_of((*path, key)), name((*path, key)))

    def mapping(node: object, path: tuple[object, ...], keys: tuple[str, ...], what: str) -> dict[Any, Any]:
        if not isinstance(node, dict):
            problems.append(
                problem(
                    line_of(path), name(path), "invalid_type", f"must be a mapping of {what}", f"ska innehålla {what}"
                )
            )
            return {}
        for key in node:
            if key not in keys:
                problems.append(
                    problem(
                        line_of((*path, key)),
                        name((*path, key)),
                        "unknown_field",
                        f"is not a field here (known: {', '.join(keys)})",
                        f"okänt fält (kända: {', '.join(keys)})",
                    )
                )
        return node

    def sequence(node: object, path: tuple[object, ...]) -> list[Any]:
        if node is None:
            return []
        if not isinstance(node, list):
            problems.append(problem(line_of(path), name(path), "invalid_type", "must be a list", "ska vara en lista"))
            return []
        return node

    top = mapping(data, (), TOP_KEYS, "year, period, rate, carried_over and areas")
    draft = _Draft(
        year=value(top, "year", ()),
        period=value(top, "period", ()),
        rate=value(top, "rate", ()),
        carried_over=value(top, "carried_over", ()),
    )
    for i, area_node in enumerate(sequence(top.get("areas"), ("areas",))):
        path: tuple[object, ...] = ("areas", i)
        area = mapping(area_node, path, AREA_KEYS, "name, budget and lines")
        draft_area = _DraftArea(row=line_of(path), name=value(area, "name", path), budget=value(area, "budget", path))
        for j, line_node in enumerate(sequence(area.get("lines"), (*path, "lines"))):
            line_path: tuple[object, ...] = (*path, "lines", j)
            line = mapping(line_node, line_path, LINE_KEYS, "id, what, how, budget and fee")
            draft_area.lines.append(
                _DraftLine(
                    row=line_of(line_path),
                    what=value(line, "what", line_path),
                    how=value(line, "how", line_path),
                    budget=value(line, "budget", line_path),
                    fee=value(line, "fee", line_path),
                    id=value(line, "id", line_path),
                )
            )
        draft.areas.append(draft_area)
    draft.problems = problems
    return draft


# -- CSV and XLSX ----------------------------------------------------------------------------------------------------
# Header names as `domain.spreadsheet.header_key` reduces them -> the column.
COLUMNS: dict[str, str] = {
    **dict.fromkeys(
        ["insatsområde", "insatsomrade", "område", "samverkansområde", "fokusområde", "area"], "insatsområde"
    ),
    **dict.fromkeys(["vad", "what", "aktivitet", "aktivitetnätverk", "insats", "aktivitetellernätverk"], "vad"),
    **dict.fromkeys(["hur", "how", "form", "format", "upplägg"], "hur"),
    **dict.fromkeys(["budget", "budgeterat", "budgetkr", "budgeteratkr", "kommun", "ekonomi"], "budget"),
    **dict.fromkeys(
        ["deltagaravgift", "avgift", "fee", "deltavg", "deltagaravgiftkr", "deltagaravgiftkrperperson"],
        "deltagaravgift",
    ),
    **dict.fromkeys(["id", "radid", "lineid"], "id"),
}
LABELS: dict[str, str] = {
    **dict.fromkeys(["år", "ar", "year", "handlingsplanför", "verksamhetsår"], "år"),
    **dict.fromkeys(["period", "verksamhetsperiod", "planperiod"], "period"),
    **dict.fromkeys(
        ["krperinvånare", "kronorperinvånare", "avgiftperinvånare", "rate", "krinvånare"], "kr per invånare"
    ),
    **dict.fromkeys(
        [
            "överförtöverskott",
            "överskottfrånföregåendeår",
            "överskott",
            "överförtfrånföregåendeår",
            "carriedover",
            "ingåendeöverskott",
        ],
        "överfört överskott",
    ),
}
HEADER_HELP = "en rad med rubrikerna insatsområde (kan utelämnas), vad, hur, budget och deltagaravgift (kan utelämnas)"


def parse_action_plan_table(data: bytes) -> ActionPlan:
    """A plan from a spreadsheet: CSV (UTF-8) or Excel (.xlsx), laid out as the module describes; or
    ActionPlanError."""
    try:
        rows = read_table(data, MAX_TABLE_ROWS)
    except TableError as exc:
        raise ActionPlanError([problem(None, "fil", exc.code, exc.message, exc.text)]) from None
    return _Assembler(_table_draft(rows)).build()


def parse_action_plan_file(data: bytes, name: str) -> ActionPlan:
    """A plan from an uploaded or named file: Excel by its content, CSV by its name (.csv), YAML otherwise."""
    if is_excel(data) or name.casefold().endswith((".csv", ".xlsx", ".xls", ".txt")):
        return parse_action_plan_table(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ActionPlanError(
            [problem(None, "fil", "not_utf8", "the file is not UTF-8 text", "filen är inte text i UTF-8")]
        ) from None
    return parse_action_plan_yaml(text)


def load_action_plan(path: str) -> ActionPlan:
    """A plan from a file on disk (see `parse_action_plan_file`), or ActionPlanError naming why it cannot be read."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(max(MAX_PLAN_BYTES, 1024 * 1024) + 1)
    except OSError as exc:
        raise ActionPlanError(
            [problem(None, "fil", "unreadable", f"cannot read {path}: {exc.strerror}", "filen går inte att läsa")]
        ) from None
    return parse_action_plan_file(data, path)


def _is_sum(label: str) -> str | None:
    """'total' for a total row, 'sum' for a focus area's sum row, None otherwise."""
    key = header_key(label)
    if key.startswith(("total", "summatotal", "totalsumma")):
        return "total"
    if key.startswith("summa"):
        return "sum"
    return None


def _table_draft(rows: list[Row]) -> _Draft:
    problems: list[ImportProblem] = []
    meta: dict[str, _Value] = {}
    header: Row | None = None
    columns: dict[str, int] = {}
    body: list[Row] = []
    for row in rows:
        if header is not None:
            body.append(row)
            continue
        found = find_columns(row.cells, COLUMNS)
        if "vad" in found and len(found) >= 2:
            header, columns = row, found
            continue
        cells = [cell.strip() for cell in row.cells]
        filled = [i for i, cell in enumerate(cells) if cell]
        label = LABELS.get(header_key(cells[filled[0]])) if filled and len(cells[filled[0]]) <= 100 else None
        if label is not None:
            value = next((cells[i] for i in filled[1:]), None)
            if label in meta:
                problems.append(
                    problem(
                        row.number,
                        label,
                        "duplicate_field",
                        f"is already given on row {meta[label].row}",
                        f"finns redan på rad {meta[label].row}",
                    )
                )
            else:
                meta[label] = _Value(value, row.number, label)
    draft = _Draft(
        year=meta.get("år") or _Value(None, None, "år", "saknas (en rad ”År” med årtalet ovanför rubrikraden)"),
        period=meta.get("period")
        or _Value(None, None, "period", "saknas (en rad ”Period” med t.ex. 2020–2022 ovanför rubrikraden)"),
        rate=meta.get("kr per invånare") or _Value(None, None, "kr per invånare"),
        carried_over=meta.get("överfört överskott") or _Value(None, None, "överfört överskott"),
        problems=problems,
    )
    if header is None:
        problems.append(
            problem(None, "rubrikrad", "no_header", "no header row with the columns vad, hur and budget", HEADER_HELP)
        )
        return draft
    by_name: dict[str, _DraftArea] = {}
    area: _DraftArea | None = None

    def cell(row: Row, column: str) -> _Value:
        return _Value(row.cell(columns.get(column)) or None, row.number, column)

    for row in body:
        labels = [row.cell(columns.get(c)) for c in ("insatsområde", "vad", "hur")]
        kind = next((k for k in map(_is_sum, labels) if k is not None), None)
        if kind == "total":
            draft.total = cell(row, "budget")
            continue
        if kind == "sum":
            if area is None:
                problems.append(
                    problem(
                        row.number,
                        "vad",
                        "sum_without_area",
                        "a sum row before any focus area",
                        "en summarad före det första insatsområdet",
                    )
                )
            elif not _absent(area.budget.raw):
                problems.append(
                    problem(
                        row.number,
                        "budget",
                        "duplicate_field",
                        f"the focus area already has a sum on row {area.budget.row}",
                        f"insatsområdet har redan en summa på rad {area.budget.row}",
                    )
                )
            else:
                area.budget = cell(row, "budget")
            continue
        what = row.cell(columns.get("vad"))
        rest = [row.cell(columns.get(c)) for c in ("hur", "budget", "deltagaravgift", "id")]
        if not what and not any(rest) and not labels[0]:
            continue  # only columns that are not the plan's (e.g. utfall)
        if "insatsområde" in columns:
            named = row.cell(columns["insatsområde"])
            if named:
                area = _area(by_name, draft, named, row)
            elif area is None:
                area = _DraftArea(
                    row.number, _Value(None, row.number, "insatsområde"), _Value(None, row.number, "budget")
                )
                draft.areas.append(area)
        elif what and not any(rest):
            area = _area(by_name, draft, what, row, field="vad")
            continue
        if area is None:
            area = _DraftArea(row.number, _Value(None, row.number, "insatsområde"), _Value(None, row.number, "budget"))
            draft.areas.append(area)
        what_value = cell(row, "vad")
        if not what and rest[0] and area.lines:  # a blank what with a how continues the line above
            what_value = _Value(area.lines[-1].what.raw, row.number, "vad")
        area.lines.append(
            _DraftLine(
                row=row.number,
                what=what_value,
                how=cell(row, "hur"),
                budget=cell(row, "budget"),
                fee=cell(row, "deltagaravgift"),
                id=cell(row, "id"),
            )
        )
    return draft


def _area(
    by_name: dict[str, _DraftArea], draft: _Draft, name: str, row: Row, field: str = "insatsområde"
) -> _DraftArea:
    """The focus area of this name (met before: its lines continue), or a new one."""
    key = " ".join(name.casefold().split())[:200]
    found = by_name.get(key)
    if found is None:
        found = _DraftArea(row.number, _Value(name, row.number, field), _Value(None, row.number, "budget"))
        by_name[key] = found
        draft.areas.append(found)
    return found


# -- writing a plan back --------------------------------------------------------------------------------------------
def action_plan_data(plan: ActionPlan) -> dict[str, Any]:
    """The plan as the YAML file would hold it (ids written out, defaults left out)."""
    areas = []
    for area in plan.areas:
        lines = []
        for line in area.lines:
            entry: dict[str, Any] = {"id": line.id, "what": line.what}
            if line.how:
                entry["how"] = line.how
            entry["budget"] = line.budget
            if line.fee is not None:
                entry["fee"] = line.fee
            lines.append(entry)
        entry_area: dict[str, Any] = {"name": area.name}
        if area.budget is not None:
            entry_area["budget"] = area.budget
        entry_area["lines"] = lines
        areas.append(entry_area)
    rate: int | float = int(plan.rate) if plan.rate == plan.rate.to_integral_value() else float(plan.rate)
    return {"year": plan.year, "period": plan.period, "rate": rate, "carried_over": plan.carried_over, "areas": areas}


def action_plan_yaml(plan: ActionPlan) -> str:
    """The plan as YAML that `parse_action_plan_yaml` reads back to the same plan."""
    return yaml.safe_dump(action_plan_data(plan), allow_unicode=True, sort_keys=False, width=120)
