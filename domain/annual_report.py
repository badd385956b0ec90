"""The annual report (verksamhetsrapport) as a model: what the office writes by hand every January. Pure: the year's
facts in, the report's sections and tables out (`activities_impl/annual_report.py` gathers the facts from the store,
`activities_impl/annual_report_docx.py` writes the DOCX and the CSVs).

- Per focus area of the action plan, every activity of the year on its lines: format, sessions and places (campus,
  digital), the outcome (ran; cancelled, with the reason; postponed, to when), participants per municipality or
  organisation, survey response counts and a short summary of the evaluations. Activities that name no line of the
  plan are shown as such, in a section of their own; lines without an activity are named under their area.
- The table "Handlingsplan <year> med ekonomisk redovisning": budgeterat and utfall per line, per focus area and in
  total (`domain.year_outcome`).
- Participation across the year per municipality: which of the 19 took part and how many people, which did not;
  other organisations apart.
- The municipalities' contributions (`domain.contributions`).
- A comparison with earlier years the store has (`YearSummary` per year), and per line or activity title the
  participants of each year where it ran more than one year.

Everything here is counts: participants are the confirmed registrations (team members counted), which the store
keeps after an activity is anonymised, so an anonymised year reports the same numbers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from domain.action_plan import ActionPlan
from domain.contributions import YearMeans
from domain.texts import FORMAT_LABELS, STOCKHOLM
from domain.year_outcome import YearOutcome

OUTSIDE_PLAN = "Aktiviteter utanför handlingsplanen"
LOCATION_LABELS = {
    "sundsvall": "campus Sundsvall",
    "ostersund": "campus Östersund",
    "both": "campus Sundsvall och Östersund (länkade)",
    "digital": "digitalt",
}
# The evaluation questions as a summary names them (`domain.surveys`): key -> words after "medelvärde för".
QUESTION_LABELS = {
    "behov": "innehållet mot behoven",
    "balans": "balansen mellan teori, praktik och erfarenhetsutbyte",
    "ny_kunskap": "ny kunskap",
    "anvant": "användning i det egna arbetet",
}
ENGINE_LOW_ENROLMENT = "below the minimum"  # how the workflow's own cancellation reason begins


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Outcome(StrEnum):
    RAN = "ran"  # confirmed and its last session is over
    RUNNING = "running"  # confirmed, sessions still to come
    PLANNED = "planned"  # no decision yet (registration open or not yet opened)
    CANCELLED = "cancelled"
    POSTPONED = "postponed"  # moved to another year


OUTCOME_LABELS = {
    Outcome.RAN: "Genomförd",
    Outcome.RUNNING: "Pågår",
    Outcome.PLANNED: "Planerad",
    Outcome.CANCELLED: "Inställd",
    Outcome.POSTPONED: "Flyttad",
}
TAKES_PART = (Outcome.RAN, Outcome.RUNNING)  # outcomes whose participants count for the year


# -- the facts ------------------------------------------------------------------------------------------------------
class DecisionFact(_Frozen):
    """A decision in the activity's audit log: the workflow's (`confirm`, `cancel`, `postpone`, ...) or a coordinator's
    in the back-office (`decision:cancel` with their reason, in Swedish)."""

    at: datetime
    kind: str
    reason: str = ""
    confirmed: int | None = None  # registered when it was taken
    min_participants: int | None = None


class SessionFact(_Frozen):
    start: datetime
    location: str  # `domain.lifecycle.Location` value


class SurveyFact(_Frozen):
    survey: str  # "s1", "final", "follow-up"
    invited: int
    answered: int
    scales: dict[str, tuple[int, int]] = {}  # question key -> (answers, sum of the values)


class ActivityFacts(_Frozen):
    """One activity as the store has it: its current plan, its decisions and its counts."""

    activity_id: str
    title: str
    format: str  # `ActivityFormat` value
    line_id: str | None
    sessions: list[SessionFact]
    places: int
    min_participants: int
    outcome: Outcome
    cancel_reason: str = ""  # Swedish, when cancelled
    registered_at_decision: int | None = None  # when cancelled: how many had registered
    postponed_from: date | None = None  # the first session before a postponement
    participants: dict[str, int] = {}  # organisation id -> confirmed people
    attendance: dict[int, int] = {}  # session no -> present
    surveys: list[SurveyFact] = []

    @property
    def first_start(self) -> datetime:
        return self.sessions[0].start

    @property
    def total(self) -> int:
        return sum(self.participants.values())


class Organisation(_Frozen):
    id: str
    name: str  # the short name the office writes ("Sundsvall")
    kind: str  # `OrganisationKind` value
    region: str | None = None


def activity_outcome(
    decisions: Sequence[DecisionFact], first_start: datetime, last_end: datetime, as_of: datetime
) -> tuple[Outcome, str, int | None]:
    """(outcome, the cancellation's reason in Swedish, how many had registered when it was cancelled) from the
    activity's decisions, oldest first. The last of confirm/cancel/postpone/extend counts; a postponement or an
    extension reopens registration (planned again). A coordinator's reason written in the back-office wins over
    the workflow's."""
    state: Outcome = Outcome.PLANNED
    reason, registered = "", None
    note = ""  # the coordinator's latest reason for a cancellation, from the back-office
    below: DecisionFact | None = None  # the deadline found it below the minimum (and waited for the coordinator)
    for decision in decisions:
        if decision.kind == "decision:cancel":
            note = decision.reason.strip() if decision.reason.strip() != "(ingen motivering)" else ""
        elif decision.kind == "awaiting_coordinator":
            below = decision
        elif decision.kind == "confirm":
            state, below = Outcome.RUNNING, None
        elif decision.kind in ("postpone", "extend"):
            state, below = Outcome.PLANNED, None
        elif decision.kind == "cancel":
            # A cancellation counts the seats it cancelled; before the workflow's patch `cancel-counts-seats-first`
            # it recorded 0 (counted after cancelling them): then how many had registered is the count when the
            # deadline found too few, if it did.
            state = Outcome.CANCELLED
            registered = decision.confirmed or (below.confirmed if below is not None else None)
            low = decision.reason.startswith(ENGINE_LOW_ENROLMENT) or below is not None
            reason = note or ("för få anmälda" if low else "inställd av samordnaren")
    if state is Outcome.RUNNING and last_end <= as_of:
        state = Outcome.RAN
    return state, reason, registered


# -- the report -----------------------------------------------------------------------------------------------------
class OrganisationCount(_Frozen):
    organisation_id: str
    name: str
    participants: int


class ActivityEntry(_Frozen):
    activity_id: str
    title: str
    format: str  # Swedish: "seminarieserie"
    line_id: str | None
    line_what: str | None  # the plan's line it is on
    sessions: int
    sessions_text: str  # "4 tillfällen: campus Sundsvall (2), digitalt (2)"
    places: int
    outcome: Outcome
    outcome_text: str  # "Genomförd med 27 deltagare från 9 kommuner och organisationer."
    participants: int
    by_organisation: list[OrganisationCount]  # most first
    surveys: list[SurveyFact]
    evaluation_text: str  # "" when nobody was asked


class AreaSection(_Frozen):
    name: str
    activities: list[ActivityEntry]
    lines_without_activity: list[str]  # what those lines are (networks, meetings the office runs outside runflow)


BudgetKind = Literal["area", "line", "sum", "outside", "total"]


class BudgetRow(_Frozen):
    kind: BudgetKind
    area: str
    what: str
    how: str = ""
    budget_ore: int | None = None
    outcome_ore: int | None = None


class ParticipationRow(_Frozen):
    organisation_id: str
    name: str
    region: str | None
    activities: int  # activities it took part in
    participants: int


class ContributionRow(_Frozen):
    organisation_id: str
    name: str
    population: int | None
    amount_ore: int


class YearSummary(_Frozen):
    year: int
    activities: int
    ran: int
    cancelled: int
    postponed: int
    participants: int
    municipalities: int  # municipalities that took part
    budget_ore: int | None  # None: no action plan that year
    outcome_ore: int


class LineComparison(_Frozen):
    what: str  # the line's what, or the activity's title outside the plan
    participants: dict[int, int]  # year -> participants


class AnnualReport(_Frozen):
    year: int
    period: str | None
    as_of: date
    areas: list[AreaSection]
    outside: list[ActivityEntry]
    budget_rows: list[BudgetRow]
    budget_ore: int
    plan_outcome_ore: int
    outcome_ore: int
    carried_over_ore: int
    municipalities: list[ParticipationRow]  # all of them, in the reference order
    other_organisations: list[ParticipationRow]  # those that took part
    contributions: list[ContributionRow]
    contributions_total_ore: int | None
    means_ore: int | None
    rate_ore: int | None
    population_as_of: date | None
    summary: YearSummary
    earlier: list[YearSummary]  # oldest first
    line_comparison: list[LineComparison]

    @property
    def activities(self) -> list[ActivityEntry]:
        return [a for area in self.areas for a in area.activities] + list(self.outside)

    @property
    def took_part(self) -> list[ParticipationRow]:
        return [row for row in self.municipalities if row.participants > 0]

    @property
    def did_not_take_part(self) -> list[ParticipationRow]:
        return [row for row in self.municipalities if row.participants == 0]


def term(at: datetime) -> str:
    """'vt-21' or 'ht-21', as the office names a term."""
    local = at.astimezone(STOCKHOLM)
    return f"{'vt' if local.month <= 6 else 'ht'}-{local.year % 100:02d}"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def sessions_text(sessions: Sequence[SessionFact]) -> str:
    places = Counter(s.location for s in sessions)
    parts = [
        LOCATION_LABELS.get(location, location) + (f" ({n})" if len(places) > 1 else "")
        for location, n in places.items()
    ]
    return f"{_count(len(sessions), 'tillfälle', 'tillfällen')}: {', '.join(parts)}"


def _decimal(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")


def evaluation_text(surveys: Sequence[SurveyFact]) -> str:
    """'Utvärderingar: 34 svar av 52 utskick (65 %). Medelvärde (1–5) för innehållet mot behoven 4,3, ...
    Uppföljning: 12 svar av 27, medelvärde för användning i det egna arbetet 3,8.'"""
    parts = []
    groups = (
        ("Utvärderingar", [s for s in surveys if s.survey != "follow-up"]),
        ("Uppföljning", [s for s in surveys if s.survey == "follow-up"]),
    )
    for label, group in groups:
        invited = sum(s.invited for s in group)
        if not invited:
            continue
        answered = sum(s.answered for s in group)
        text = f"{label}: {answered} svar av {invited} utskick ({round(100 * answered / invited)} %)"
        sums: dict[str, list[int]] = {}
        for survey in group:
            for key, (n, total) in survey.scales.items():
                sums.setdefault(key, [0, 0])
                sums[key][0] += n
                sums[key][1] += total
        means = [
            f"{QUESTION_LABELS.get(key, key)} {_decimal(total / n)}"
            for key, (n, total) in sorted(
                sums.items(), key=lambda kv: list(QUESTION_LABELS).index(kv[0]) if kv[0] in QUESTION_LABELS else 99
            )
            if n
        ]
        if means:
            text += f"; medelvärde (1–5) för {', '.join(means)}"
        parts.append(text + ".")
    return " ".join(parts)


def outcome_text(facts: ActivityFacts, organisations: int) -> str:
    if facts.outcome is Outcome.CANCELLED:
        registered = (
            f" ({_count(facts.registered_at_decision, 'anmäld', 'anmälda')}, minst {facts.min_participants} behövdes)"
            if facts.registered_at_decision is not None and facts.cancel_reason == "för få anmälda"
            else ""
        )
        return f"Inställd: {facts.cancel_reason or 'inställd'}{registered}."
    if facts.outcome is Outcome.POSTPONED:
        first = facts.first_start.astimezone(STOCKHOLM)
        return f"Flyttad till {term(facts.first_start)} (första tillfället {first:%Y-%m-%d})."
    moved = f" Flyttad från {facts.postponed_from:%Y-%m-%d}." if facts.postponed_from is not None else ""
    places = _count(organisations, "kommun eller organisation", "kommuner och organisationer")
    who = f"{_count(facts.total, 'deltagare', 'deltagare')} från {places}"
    if facts.outcome is Outcome.RAN:
        return f"Genomförd med {who}.{moved}"
    if facts.outcome is Outcome.RUNNING:
        return f"Pågår, med {who}.{moved}"
    return f"Planerad, första tillfället {facts.first_start.astimezone(STOCKHOLM):%Y-%m-%d}.{moved}"


def activity_entry(facts: ActivityFacts, plan: ActionPlan | None, names: Mapping[str, str]) -> ActivityEntry:
    line = plan.line(facts.line_id) if plan is not None and facts.line_id is not None else None
    by_org = sorted(
        (
            OrganisationCount(organisation_id=o, name=names.get(o, o), participants=n)
            for o, n in facts.participants.items()
            if n > 0
        ),
        key=lambda c: (-c.participants, c.name.casefold()),
    )
    counted = facts.outcome in TAKES_PART
    return ActivityEntry(
        activity_id=facts.activity_id,
        title=facts.title,
        format=FORMAT_LABELS.get(facts.format, facts.format),
        line_id=line.id if line is not None else None,
        line_what=line.what if line is not None else None,
        sessions=len(facts.sessions),
        sessions_text=sessions_text(facts.sessions),
        places=facts.places,
        outcome=facts.outcome,
        outcome_text=outcome_text(facts, len(by_org)),
        participants=facts.total if counted else 0,
        by_organisation=by_org if counted else [],
        surveys=list(facts.surveys),
        evaluation_text=evaluation_text(facts.surveys),
    )


def budget_rows(outcome: YearOutcome, titles: Mapping[str, str]) -> list[BudgetRow]:
    """The rows of "Handlingsplan <year> med ekonomisk redovisning": per focus area a heading, its lines and its
    sum; then what is outside the plan; then the total of everything."""
    rows: list[BudgetRow] = []
    for area in outcome.areas:
        rows.append(BudgetRow(kind="area", area=area.name, what=area.name))
        for line in area.lines:
            rows.append(
                BudgetRow(
                    kind="line",
                    area=area.name,
                    what=line.what,
                    how=line.how,
                    budget_ore=line.budget_ore,
                    outcome_ore=line.outcome_ore,
                )
            )
        rows.append(
            BudgetRow(
                kind="sum", area=area.name, what="Summa", budget_ore=area.budget_ore, outcome_ore=area.outcome_ore
            )
        )
    outside = [(titles.get(o.activity_id, o.activity_id), o.outcome_ore) for o in outcome.outside if o.outcome_ore]
    outside += list(outcome.unplanned_lines.items())
    if outside:
        rows.append(BudgetRow(kind="area", area=OUTSIDE_PLAN, what=OUTSIDE_PLAN))
        for what, ore in outside:
            rows.append(BudgetRow(kind="outside", area=OUTSIDE_PLAN, what=what, outcome_ore=ore))
        rows.append(
            BudgetRow(kind="sum", area=OUTSIDE_PLAN, what="Summa", budget_ore=0, outcome_ore=outcome.outside_ore)
        )
    rows.append(
        BudgetRow(kind="total", area="", what="TOTALT", budget_ore=outcome.budget_ore, outcome_ore=outcome.outcome_ore)
    )
    return rows


def year_summary(
    year: int, activities: Sequence[ActivityFacts], outcome: YearOutcome, municipalities: set[str]
) -> YearSummary:
    counted = [a for a in activities if a.outcome in TAKES_PART]
    took_part = {o for a in counted for o, n in a.participants.items() if n > 0 and o in municipalities}
    return YearSummary(
        year=year,
        activities=len(activities),
        ran=sum(a.outcome is Outcome.RAN for a in activities),
        cancelled=sum(a.outcome is Outcome.CANCELLED for a in activities),
        postponed=sum(a.outcome is Outcome.POSTPONED for a in activities),
        participants=sum(a.total for a in counted),
        municipalities=len(took_part),
        budget_ore=outcome.budget_ore if outcome.has_plan else None,
        outcome_ore=outcome.outcome_ore,
    )


class EarlierYear(_Frozen):
    """What the comparison needs of an earlier year: its summary and each line's (or title's) participants."""

    summary: YearSummary
    participants: dict[str, int]  # the line's what (or the activity's title) -> participants


def participants_by_what(activities: Sequence[ActivityFacts], plan: ActionPlan | None) -> dict[str, int]:
    out: Counter[str] = Counter()
    for a in activities:
        if a.outcome not in TAKES_PART:
            continue
        line = plan.line(a.line_id) if plan is not None and a.line_id is not None else None
        out[line.what if line is not None else a.title] += a.total
    return dict(out)


def annual_report(
    year: int,
    plan: ActionPlan | None,
    activities: Sequence[ActivityFacts],
    outcome: YearOutcome,
    organisations: Sequence[Organisation],
    means: YearMeans | None,
    earlier: Sequence[EarlierYear],
    as_of: date,
) -> AnnualReport:
    """The report of `year`. `activities`: those of the year (by their first session), including those postponed
    to another year (outcome POSTPONED); `outcome`: `year_outcome` of the year; `organisations`: every organisation,
    municipalities in the order the report lists them; `means`: the contributions (None: no population figures);
    `earlier`: the years before that the store has."""
    names = {o.id: o.name for o in organisations}
    entries = [activity_entry(a, plan, names) for a in sorted(activities, key=lambda a: (a.first_start, a.title))]
    areas: list[AreaSection] = []
    placed: set[str] = set()
    for area in plan.areas if plan is not None else []:
        ids = {line.id for line in area.lines}
        on_area = [e for e in entries if e.line_id in ids]
        placed.update(e.activity_id for e in on_area)
        used = {e.line_id for e in on_area}
        areas.append(
            AreaSection(
                name=area.name,
                activities=on_area,
                lines_without_activity=[line.what for line in area.lines if line.id not in used],
            )
        )
    outside = [e for e in entries if e.activity_id not in placed]

    municipal_ids = {o.id for o in organisations if o.kind == "municipality"}
    people: Counter[str] = Counter()
    taking_part: Counter[str] = Counter()
    for a in activities:
        if a.outcome in TAKES_PART:
            for organisation_id, n in a.participants.items():
                if n > 0:
                    people[organisation_id] += n
                    taking_part[organisation_id] += 1

    def row(o: Organisation) -> ParticipationRow:
        return ParticipationRow(
            organisation_id=o.id,
            name=o.name,
            region=o.region,
            activities=taking_part[o.id],
            participants=people[o.id],
        )

    municipalities = [row(o) for o in organisations if o.kind == "municipality"]
    others = [row(o) for o in organisations if o.kind != "municipality" and people[o.id] > 0]
    known = {o.id for o in organisations}
    others += [
        ParticipationRow(organisation_id=o, name=o, region=None, activities=taking_part[o], participants=n)
        for o, n in sorted(people.items())
        if o not in known
    ]

    summary = year_summary(year, activities, outcome, municipal_ids)
    this_year = participants_by_what(activities, plan)
    comparison: list[LineComparison] = []
    for what in sorted(this_year, key=str.casefold):
        by_year = {e.summary.year: e.participants[what] for e in earlier if what in e.participants}
        if by_year:
            comparison.append(LineComparison(what=what, participants={**by_year, year: this_year[what]}))

    titles = {a.activity_id: a.title for a in activities}
    return AnnualReport(
        year=year,
        period=plan.period if plan is not None else None,
        as_of=as_of,
        areas=areas,
        outside=outside,
        budget_rows=budget_rows(outcome, titles),
        budget_ore=outcome.budget_ore,
        plan_outcome_ore=outcome.plan_outcome_ore,
        outcome_ore=outcome.outcome_ore,
        carried_over_ore=plan.carried_over * 100 if plan is not None else 0,
        municipalities=municipalities,
        other_organisations=others,
        contributions=[
            ContributionRow(
                organisation_id=c.organisation_id,
                name=names.get(c.organisation_id, c.organisation_id),
                population=c.population,
                amount_ore=c.amount_ore,
            )
            for c in (means.contributions if means is not None else [])
        ],
        contributions_total_ore=means.total_ore if means is not None else None,
        means_ore=means.means_ore if means is not None else None,
        rate_ore=means.rate_ore if means is not None else None,
        population_as_of=means.as_of if means is not None else None,
        summary=summary,
        earlier=sorted((e.summary for e in earlier), key=lambda s: s.year),
        line_comparison=comparison,
    )
