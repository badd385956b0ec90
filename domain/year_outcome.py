"""The year in figures, as the annual report and the back-office show them. Pure: plan, costs and counts in.

`year_outcome`: budget against outcome (budgeterat, utfall) per focus area, per line and in total, as the table
"Handlingsplan <year> med ekonomisk redovisning". A cost booked on a line counts there; one booked on an activity
counts on the line the activity names (`ActivityPlan.action_plan_line`). Activities that name no line of the plan
(or a line it does not have) are outside the plan, listed as such with what they cost.

`invoice_basis`: the fakturaunderlag for the lines with a participant fee: per organisation and activity, the
participants (confirmed or attended: the caller counts them and says which), the fee and the sum.

All money is whole öre (budgets in the plan are kronor: × 100).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from domain.action_plan import ActionPlan
from domain.costs import Cost, CostCategory

ORE = 100


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class LineOutcome(_Frozen):
    line_id: str
    what: str
    how: str
    budget_ore: int
    outcome_ore: int
    fee: int | None  # kronor per participant
    activities: list[str]  # the activities that name this line
    by_category: dict[CostCategory, int]

    @property
    def difference_ore(self) -> int:
        """Budget less outcome: what is left (negative: overspent)."""
        return self.budget_ore - self.outcome_ore


class AreaOutcome(_Frozen):
    name: str
    budget_ore: int  # the area's budget: its own, or its lines'
    outcome_ore: int
    lines: list[LineOutcome]

    @property
    def difference_ore(self) -> int:
        return self.budget_ore - self.outcome_ore


class OutsideActivity(_Frozen):
    """An activity of the year that is not in the action plan, and what it cost."""

    activity_id: str
    line_id: str | None  # the line it names that the plan does not have; None: it names none
    outcome_ore: int
    by_category: dict[CostCategory, int]


class YearOutcome(_Frozen):
    year: int
    has_plan: bool
    areas: list[AreaOutcome]
    outside: list[OutsideActivity]
    unplanned_lines: dict[str, int]  # costs booked on a line id the plan does not have (öre by id)
    budget_ore: int
    plan_outcome_ore: int  # what the plan's lines cost
    outside_ore: int  # what the rest cost
    by_category: dict[CostCategory, int]
    means_ore: int | None  # contributions and carried over surplus, when given

    @property
    def outcome_ore(self) -> int:
        """Everything the year cost."""
        return self.plan_outcome_ore + self.outside_ore

    @property
    def difference_ore(self) -> int:
        """The plan's budget less its outcome."""
        return self.budget_ore - self.plan_outcome_ore

    @property
    def balance_ore(self) -> int | None:
        """The year's means less everything it cost: the surplus to carry over (negative: a deficit)."""
        return None if self.means_ore is None else self.means_ore - self.outcome_ore


def _categories(costs: Sequence[Cost]) -> dict[CostCategory, int]:
    totals: dict[CostCategory, int] = defaultdict(int)
    for cost in costs:
        totals[cost.category] += cost.amount_ore
    return {category: totals[category] for category in CostCategory if category in totals}


def year_outcome(
    year: int,
    plan: ActionPlan | None,
    costs: Sequence[Cost],
    activity_lines: Mapping[str, str | None],
    means_ore: int | None = None,
) -> YearOutcome:
    """Budget against outcome for `year`. `plan`: the year's action plan (None: there is none, everything is
    outside it); `costs`: the year's costs (others are left out); `activity_lines`: every activity of the year and
    the line it names (or None); `means_ore`: the year's means, for the balance."""
    costs = [cost for cost in costs if cost.year == year]
    line_ids = set(plan.line_ids) if plan is not None else set()
    on_line: dict[str, list[Cost]] = defaultdict(list)
    on_activity: dict[str, list[Cost]] = defaultdict(list)
    unplanned: dict[str, int] = defaultdict(int)
    for cost in costs:
        if cost.line_id is not None:
            if cost.line_id in line_ids:
                on_line[cost.line_id].append(cost)
            else:
                unplanned[cost.line_id] += cost.amount_ore
        elif cost.activity_id is not None:
            on_activity[cost.activity_id].append(cost)
    activities_of: dict[str, list[str]] = defaultdict(list)
    outside: list[OutsideActivity] = []
    for activity_id in sorted(set(activity_lines) | set(on_activity)):
        line = activity_lines.get(activity_id)
        spent = on_activity.get(activity_id, [])
        if line is not None and line in line_ids:
            activities_of[line].append(activity_id)
            on_line[line].extend(spent)
        else:
            outside.append(
                OutsideActivity(
                    activity_id=activity_id,
                    line_id=line,
                    outcome_ore=sum(c.amount_ore for c in spent),
                    by_category=_categories(spent),
                )
            )
    areas: list[AreaOutcome] = []
    for area in plan.areas if plan is not None else []:
        lines = [
            LineOutcome(
                line_id=line.id,
                what=line.what,
                how=line.how,
                budget_ore=line.budget * ORE,
                outcome_ore=sum(c.amount_ore for c in on_line[line.id]),
                fee=line.fee,
                activities=activities_of[line.id],
                by_category=_categories(on_line[line.id]),
            )
            for line in area.lines
        ]
        areas.append(
            AreaOutcome(
                name=area.name,
                budget_ore=area.total_budget * ORE,
                outcome_ore=sum(line.outcome_ore for line in lines),
                lines=lines,
            )
        )
    plan_outcome = sum(area.outcome_ore for area in areas)
    return YearOutcome(
        year=year,
        has_plan=plan is not None,
        areas=areas,
        outside=outside,
        unplanned_lines=dict(sorted(unplanned.items())),
        budget_ore=sum(area.budget_ore for area in areas),
        plan_outcome_ore=plan_outcome,
        outside_ore=sum(o.outcome_ore for o in outside) + sum(unplanned.values()),
        by_category=_categories(costs),
        means_ore=means_ore,
    )


# -- invoice basis ---------------------------------------------------------------------------------------------------
class FeeActivity(_Frozen):
    """An activity and its participants per organisation (confirmed or attended: the caller's count)."""

    activity_id: str
    title: str
    line_id: str | None
    participants: dict[str, int]  # organisation id -> participants
    fee: int | None = None  # kronor per participant, instead of the line's


class InvoiceRow(_Frozen):
    organisation_id: str
    organisation: str  # its name
    activity_id: str
    activity: str  # its title
    participants: int
    fee: int  # kronor per participant
    sum_ore: int


class OrganisationSum(_Frozen):
    organisation_id: str
    organisation: str
    participants: int
    sum_ore: int


class InvoiceBasis(_Frozen):
    year: int
    counted: str  # what `participants` counts, e.g. "confirmed" or "attended"
    rows: list[InvoiceRow]  # by organisation, then activity
    organisations: list[OrganisationSum]

    @property
    def total_ore(self) -> int:
        return sum(row.sum_ore for row in self.rows)


def invoice_basis(
    year: int,
    plan: ActionPlan | None,
    activities: Sequence[FeeActivity],
    organisation_names: Mapping[str, str],
    counted: str = "confirmed",
) -> InvoiceBasis:
    """The fakturaunderlag: one row per organisation and activity with a fee (the activity's own, else its line's),
    participants × fee; activities without a fee and organisations without participants are left out."""
    rows: list[InvoiceRow] = []
    for activity in activities:
        fee = activity.fee
        if fee is None and plan is not None and activity.line_id is not None:
            line = plan.line(activity.line_id)
            fee = line.fee if line is not None else None
        if not fee:
            continue
        for organisation_id, count in activity.participants.items():
            if count <= 0:
                continue
            rows.append(
                InvoiceRow(
                    organisation_id=organisation_id,
                    organisation=organisation_names.get(organisation_id, organisation_id),
                    activity_id=activity.activity_id,
                    activity=activity.title,
                    participants=count,
                    fee=fee,
                    sum_ore=count * fee * ORE,
                )
            )
    rows.sort(key=lambda r: (r.organisation.casefold(), r.organisation_id, r.activity.casefold(), r.activity_id))
    sums: dict[str, OrganisationSum] = {}
    for row in rows:
        before = sums.get(row.organisation_id)
        sums[row.organisation_id] = OrganisationSum(
            organisation_id=row.organisation_id,
            organisation=row.organisation,
            participants=row.participants + (before.participants if before else 0),
            sum_ore=row.sum_ore + (before.sum_ore if before else 0),
        )
    return InvoiceBasis(year=year, counted=counted, rows=rows, organisations=list(sums.values()))
