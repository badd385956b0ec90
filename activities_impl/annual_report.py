"""The annual report's facts from the store (`domain.annual_report` assembles the report from them).

For a year: every activity whose current plan starts in it, and those postponed from it to another year (a plan
version of theirs started in it and their log has a postponement); for each its decisions (audit log), the
confirmed people per organisation (team members counted), attendance per session, survey invitations and answers,
and the sums of the scale answers, all counted by the database; these counts survive anonymisation. Then the
year's action plan, costs (`domain.year_outcome`), the municipalities' contributions (`domain.contributions`) and
the same summary for every earlier year the store has (an action plan or activities).

No Temporal: the phase is read from the decisions the workflow recorded in the store.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import col, select

from activities_impl.store import Store
from domain.action_plan import DEFAULT_RATE, ActionPlan
from domain.annual_report import (
    ActivityFacts,
    AnnualReport,
    DecisionFact,
    EarlierYear,
    Organisation,
    Outcome,
    SessionFact,
    SurveyFact,
    activity_outcome,
    annual_report,
    participants_by_what,
    year_summary,
)
from domain.contributions import PopulationData, YearMeans, default_population, year_means
from domain.lifecycle import SeatStatus
from domain.plan import ActivityPlan, plan_year
from domain.reference import default_reference
from domain.tables import Activity, ActivityPlanVersion, Attendance, Participant, Registration, SurveyInvitation
from domain.texts import STOCKHOLM
from domain.year_outcome import YearOutcome, year_outcome

DECISION_KINDS = {"awaiting_coordinator", "confirm", "cancel", "postpone", "extend", "decision:cancel"}


@dataclass(frozen=True)
class _Planned:
    """An activity started at least once: its current plan and the first session of each version before it."""

    activity_id: str
    plan: ActivityPlan
    earlier_starts: list[datetime]  # first session of each earlier version, oldest first


def _started_activities(store: Store) -> list[_Planned]:
    with store.session() as s:
        activities = {a.id: a.current_version for a in s.exec(select(Activity)) if a.current_version > 0}
        versions: dict[str, dict[int, ActivityPlan]] = defaultdict(dict)
        for row in s.exec(select(ActivityPlanVersion).where(col(ActivityPlanVersion.activity_id).in_(activities))):
            if row.version <= activities[row.activity_id]:
                versions[row.activity_id][row.version] = ActivityPlan.model_validate_json(row.plan_json)
    out = []
    for activity_id, current in activities.items():
        plans = versions.get(activity_id, {})
        if current not in plans:
            continue
        earlier = [plans[v].sessions[0].start for v in sorted(plans) if v < current]
        out.append(_Planned(activity_id, plans[current], earlier))
    return out


def _decisions(store: Store, activity_id: str) -> list[DecisionFact]:
    facts = []
    for entry in store.audit_log(activity_id):
        if entry.kind not in DECISION_KINDS:
            continue
        details = json.loads(entry.details_json or "{}")
        facts.append(
            DecisionFact(
                at=entry.at,
                kind=entry.kind,
                reason=entry.reason,
                confirmed=details.get("confirmed") if isinstance(details.get("confirmed"), int) else None,
                min_participants=(
                    details.get("min_participants") if isinstance(details.get("min_participants"), int) else None
                ),
            )
        )
    return facts


def _counts(store: Store, activity_id: str) -> tuple[dict[str, int], dict[int, int], list[SurveyFact]]:
    with store.session() as s:
        people = {
            organisation: int(n)
            for organisation, n in s.exec(
                select(Participant.organisation_id, func.sum(Registration.team_size))
                .join(Participant, col(Participant.id) == col(Registration.participant_id))
                .where(Registration.activity_id == activity_id, Registration.status == SeatStatus.CONFIRMED.value)
                .group_by(col(Participant.organisation_id))
            )
        }
        attendance = {
            int(no): int(n)
            for no, n in s.exec(
                select(Attendance.session_no, func.count())
                .where(Attendance.activity_id == activity_id, Attendance.present)
                .group_by(col(Attendance.session_no))
            )
        }
        invitations = list(
            s.exec(
                select(SurveyInvitation.survey, func.count(), func.count(col(SurveyInvitation.answered_at)))
                .where(SurveyInvitation.activity_id == activity_id)
                .group_by(col(SurveyInvitation.survey))
            )
        )
    scales: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    if invitations:
        for tally in store.answer_tallies(activity_id):
            if tally.kind == "integer" and tally.key is not None:
                scales[tally.survey][tally.key] = (tally.n, tally.total)
    surveys = [
        SurveyFact(survey=survey, invited=int(invited), answered=int(answered), scales=scales.get(survey, {}))
        for survey, invited, answered in invitations
    ]
    surveys.sort(key=lambda f: _survey_order(f.survey))
    return people, attendance, surveys


def _survey_order(survey: str) -> tuple[int, int, str]:
    if survey.startswith("s") and survey[1:].isdigit():
        return (0, int(survey[1:]), survey)
    return ({"final": 1, "follow-up": 2}.get(survey, 3), 0, survey)


def _facts(store: Store, planned: _Planned, year: int, as_of: datetime) -> ActivityFacts:
    plan = planned.plan
    decisions = _decisions(store, planned.activity_id)
    outcome, reason, registered = activity_outcome(decisions, plan.sessions[0].start, plan.sessions[-1].end, as_of)
    postponed = any(d.kind == "postpone" for d in decisions)
    if postponed and plan_year(plan) != year and outcome is not Outcome.CANCELLED:
        outcome = Outcome.POSTPONED  # moved from this year to another
    moved_from = next((start for start in reversed(planned.earlier_starts) if start != plan.sessions[0].start), None)
    people, attendance, surveys = _counts(store, planned.activity_id)
    return ActivityFacts(
        activity_id=planned.activity_id,
        title=plan.title,
        format=plan.format.value,
        line_id=plan.action_plan_line,
        sessions=[SessionFact(start=s.start, location=s.location.value) for s in plan.sessions],
        places=plan.places,
        min_participants=plan.min_participants,
        outcome=outcome,
        cancel_reason=reason,
        registered_at_decision=registered,
        postponed_from=moved_from.date() if postponed and moved_from is not None else None,
        participants=people,
        attendance=attendance,
        surveys=surveys,
    )


def _of_year(store: Store, started: list[_Planned], year: int, as_of: datetime) -> list[ActivityFacts]:
    """The activities of `year`: whose current plan starts in it, or postponed from it (see the module)."""
    chosen = []
    for planned in started:
        current = plan_year(planned.plan)
        from_here = current != year and any(_local_year(start) == year for start in planned.earlier_starts)
        if current == year:
            chosen.append(_facts(store, planned, year, as_of))
        elif from_here:
            facts = _facts(store, planned, year, as_of)
            if facts.outcome is Outcome.POSTPONED:
                chosen.append(facts)
    return chosen


def _local_year(at: datetime) -> int:
    return at.astimezone(STOCKHOLM).year


def organisations(store: Store) -> list[Organisation]:
    """Every organisation of the store, municipalities in the reference data's order (by county), then the rest."""
    order = {o.id: i for i, o in enumerate(default_reference().organisations)}
    rows = store.organisations()
    rows.sort(key=lambda o: (order.get(o.id, len(order)), o.name.casefold()))
    return [Organisation(id=o.id, name=o.short_name, kind=o.kind, region=o.region) for o in rows]


def _means(
    year: int, plan: ActionPlan | None, municipalities: list[str], population: PopulationData
) -> YearMeans | None:
    figures = population.for_year(year)
    if figures is None:
        return None
    rate_ore = plan.rate_ore if plan is not None else int(DEFAULT_RATE * 100)
    carried_ore = plan.carried_over * 100 if plan is not None else 0
    return year_means(year, rate_ore, carried_ore, figures, municipalities)


def _outcome(
    store: Store, year: int, plan: ActionPlan | None, facts: list[ActivityFacts], means: YearMeans | None
) -> YearOutcome:
    lines = {a.activity_id: a.line_id for a in facts if a.outcome is not Outcome.POSTPONED}
    return year_outcome(year, plan, store.costs(year), lines, means.means_ore if means is not None else None)


def build_annual_report(
    store: Store, year: int, as_of: datetime | None = None, population: PopulationData | None = None
) -> AnnualReport:
    """The annual report of `year` as the store has it at `as_of` (now when None)."""
    as_of = as_of or datetime.now(UTC)
    population = population or default_population()
    orgs = organisations(store)
    municipalities = [o.id for o in orgs if o.kind == "municipality"]
    started = _started_activities(store)
    years = {plan_year(p.plan) for p in started} | set(store.action_plan_years())
    earlier: list[EarlierYear] = []
    for past in sorted(y for y in years if y < year):
        past_plan = store.action_plan(past)
        past_facts = _of_year(store, started, past, as_of)
        past_outcome = _outcome(store, past, past_plan, past_facts, _means(past, past_plan, municipalities, population))
        earlier.append(
            EarlierYear(
                summary=year_summary(past, past_facts, past_outcome, set(municipalities)),
                participants=participants_by_what(past_facts, past_plan),
            )
        )
    plan = store.action_plan(year)
    facts = _of_year(store, started, year, as_of)
    means = _means(year, plan, municipalities, population)
    return annual_report(
        year,
        plan,
        facts,
        _outcome(store, year, plan, facts, means),
        orgs,
        means,
        earlier,
        as_of.astimezone(STOCKHOLM).date(),
    )
