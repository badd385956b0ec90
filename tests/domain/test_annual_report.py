"""The annual report's assembly (`domain.annual_report`): outcomes from decisions, the texts, the sections, the budget
table, participation per municipality and the comparison with earlier years. Pure: no store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from domain.action_plan import ActionArea, ActionPlan, ActionPlanLine
from domain.annual_report import (
    OUTSIDE_PLAN,
    ActivityFacts,
    DecisionFact,
    EarlierYear,
    Organisation,
    Outcome,
    SessionFact,
    SurveyFact,
    activity_outcome,
    annual_report,
    evaluation_text,
    sessions_text,
    term,
    year_summary,
)
from domain.contributions import PopulationYear, year_means
from domain.costs import Cost, CostCategory
from domain.year_outcome import year_outcome

T = datetime(2020, 3, 2, 8, tzinfo=UTC)
AS_OF = datetime(2021, 1, 10, tzinfo=UTC)
ORGS = [
    Organisation(id="sundsvall", name="Sundsvall", kind="municipality", region="Västernorrland"),
    Organisation(id="ostersund", name="Östersund", kind="municipality", region="Jämtland"),
    Organisation(id="berg", name="Berg", kind="municipality", region="Jämtland"),
    Organisation(id="miun", name="Mittuniversitetet", kind="university"),
]
PLAN = ActionPlan(
    year=2020,
    period="2020–2022",
    carried_over=5000,
    areas=[
        ActionArea(
            name="Likvärdighet",
            lines=[
                ActionPlanLine(id="likv-a", what="Att leda en likvärdig skola", how="Nätverk", budget=70000),
                ActionPlanLine(id="likv-b", what="RUN-webbinarium", how="Tre webbinarier", budget=15000),
            ],
        ),
        ActionArea(
            name="Kompetensförsörjning",
            budget=50000,
            lines=[ActionPlanLine(id="komp-a", what="Mentor i förskola och skola", budget=0)],
        ),
    ],
)


def decision(kind: str, minutes: int = 0, reason: str = "", confirmed: int | None = None) -> DecisionFact:
    return DecisionFact(
        at=T + timedelta(minutes=minutes), kind=kind, reason=reason, confirmed=confirmed, min_participants=5
    )


def facts(activity_id: str, line: str | None, outcome: Outcome, **kw: object) -> ActivityFacts:
    data: dict[str, object] = {
        "activity_id": activity_id,
        "title": activity_id.replace("-", " ").capitalize(),
        "format": "course",
        "line_id": line,
        "sessions": [
            SessionFact(start=T, location="sundsvall"),
            SessionFact(start=T + timedelta(days=7), location="digital"),
        ],
        "places": 30,
        "min_participants": 5,
        "outcome": outcome,
    }
    data.update(kw)
    return ActivityFacts.model_validate(data)


def test_outcomes_from_decisions():
    end = T + timedelta(days=7)
    assert activity_outcome([], T, end, AS_OF)[0] is Outcome.PLANNED
    assert activity_outcome([decision("confirm")], T, end, AS_OF)[0] is Outcome.RAN
    assert activity_outcome([decision("confirm")], T, end, T)[0] is Outcome.RUNNING
    # Cancelled by the workflow for low enrolment, with how many had registered.
    cancelled = [
        decision("awaiting_coordinator", 0, "3 registered, minimum 5", confirmed=3),
        decision("cancel", 1, "below the minimum and no decision within the grace period", confirmed=0),
    ]
    assert activity_outcome(cancelled, T, end, AS_OF) == (Outcome.CANCELLED, "för få anmälda", 3)
    # Since the workflow's patch `cancel-counts-seats-first` the cancellation counts its own seats: one withdrew
    # during the grace period.
    counted = [cancelled[0], decision("cancel", 1, "below the minimum and no decision within the grace period", 2)]
    assert activity_outcome(counted, T, end, AS_OF) == (Outcome.CANCELLED, "för få anmälda", 2)
    # Cancelled by the coordinator while registration was open: how many it cancelled.
    while_open = [decision("cancel", 1, "cancelled by the coordinator", confirmed=4)]
    assert activity_outcome(while_open, T, end, AS_OF) == (Outcome.CANCELLED, "inställd av samordnaren", 4)
    # The coordinator cancels while deciding: too few all the same.
    deciding = [cancelled[0], decision("cancel", 1, "cancelled by the coordinator", confirmed=0)]
    assert activity_outcome(deciding, T, end, AS_OF) == (Outcome.CANCELLED, "för få anmälda", 3)
    # The coordinator's own reason (back-office) wins.
    by_hand = [
        decision("decision:cancel", 0, "Föreläsaren blev sjuk"),
        decision("cancel", 1, "cancelled by the coordinator", confirmed=0),
    ]
    assert activity_outcome(by_hand, T, end, AS_OF) == (Outcome.CANCELLED, "Föreläsaren blev sjuk", None)
    no_reason = [
        decision("decision:cancel", 0, "(ingen motivering)"),
        decision("cancel", 1, "cancelled by the coordinator", confirmed=9),
    ]
    assert activity_outcome(no_reason, T, end, AS_OF)[1] == "inställd av samordnaren"
    # A postponement reopens registration; the later confirmation counts.
    assert activity_outcome([decision("postpone"), decision("confirm", 5)], T, end, AS_OF)[0] is Outcome.RAN
    assert activity_outcome([decision("confirm"), decision("postpone", 5)], T, end, AS_OF)[0] is Outcome.PLANNED


def test_texts():
    assert term(datetime(2021, 9, 1, tzinfo=UTC)) == "ht-21"
    assert term(datetime(2021, 6, 30, 21, 59, tzinfo=UTC)) == "vt-21"
    assert sessions_text([SessionFact(start=T, location="digital")]) == "1 tillfälle: digitalt"
    assert (
        sessions_text(
            [
                SessionFact(start=T, location="sundsvall"),
                SessionFact(start=T, location="sundsvall"),
                SessionFact(start=T, location="digital"),
            ]
        )
        == "3 tillfällen: campus Sundsvall (2), digitalt (1)"
    )
    surveys = [
        SurveyFact(survey="s1", invited=10, answered=6, scales={"behov": (6, 24)}),
        SurveyFact(survey="final", invited=10, answered=4, scales={"behov": (4, 20), "ny_kunskap": (4, 18)}),
        SurveyFact(survey="follow-up", invited=10, answered=3, scales={"anvant": (3, 10)}),
    ]
    assert evaluation_text(surveys) == (
        "Utvärderingar: 10 svar av 20 utskick (50 %); medelvärde (1–5) för innehållet mot behoven 4,4, ny kunskap 4,5. "
        "Uppföljning: 3 svar av 10 utskick (30 %); medelvärde (1–5) för användning i det egna arbetet 3,3."
    )
    assert evaluation_text([]) == ""


def _report(activities: list[ActivityFacts], costs: list[Cost] | None = None, earlier: list[EarlierYear] | None = None):
    lines = {a.activity_id: a.line_id for a in activities if a.outcome is not Outcome.POSTPONED}
    outcome = year_outcome(2020, PLAN, costs or [], lines)
    figures = PopulationYear(
        year=2020, as_of=date(2019, 12, 31), source="SCB", population={"sundsvall": 100, "ostersund": 50, "berg": 7}
    )
    means = year_means(2020, PLAN.rate_ore, PLAN.carried_over * 100, figures, ["sundsvall", "ostersund", "berg"])
    return annual_report(2020, PLAN, activities, outcome, ORGS, means, earlier or [], AS_OF.date())


def test_sections_participation_and_outside_activities():
    ran = facts("leda", "likv-a", Outcome.RAN, participants={"sundsvall": 4, "miun": 1})
    webinar = facts("webb-1", "likv-b", Outcome.RAN, participants={"sundsvall": 10, "ostersund": 5}, format="webinar")
    cancelled = facts("webb-2", "likv-b", Outcome.CANCELLED, cancel_reason="för få anmälda", registered_at_decision=2)
    moved = facts(
        "mentor",
        "komp-a",
        Outcome.POSTPONED,
        sessions=[SessionFact(start=datetime(2021, 9, 1, 8, tzinfo=UTC), location="ostersund")],
    )
    outside = facts("extra", None, Outcome.RAN, participants={"ostersund": 3})
    astray = facts("astray", "no-such-line", Outcome.RAN, participants={"okand": 2})
    report = _report([ran, webinar, cancelled, moved, outside, astray])

    likv, komp = report.areas
    assert [a.activity_id for a in likv.activities] == ["leda", "webb-1", "webb-2"]
    assert likv.lines_without_activity == []
    assert [a.activity_id for a in komp.activities] == ["mentor"]
    assert komp.activities[0].outcome_text == "Flyttad till ht-21 (första tillfället 2021-09-01)."
    assert {a.activity_id for a in report.outside} == {"extra", "astray"}
    webb2 = likv.activities[2]
    assert webb2.outcome_text == "Inställd: för få anmälda (2 anmälda, minst 5 behövdes)." and webb2.participants == 0
    assert likv.activities[1].format == "webbinarium"
    assert [(c.name, c.participants) for c in likv.activities[1].by_organisation] == [
        ("Sundsvall", 10),
        ("Östersund", 5),
    ]

    assert [(m.name, m.activities, m.participants) for m in report.municipalities] == [
        ("Sundsvall", 2, 14),
        ("Östersund", 2, 8),
        ("Berg", 0, 0),
    ]
    assert [m.name for m in report.did_not_take_part] == ["Berg"]
    assert [(o.name, o.participants) for o in report.other_organisations] == [("Mittuniversitetet", 1), ("okand", 2)]
    assert report.summary.model_dump() == {
        "year": 2020,
        "activities": 6,
        "ran": 4,
        "cancelled": 1,
        "postponed": 1,
        "participants": 25,
        "municipalities": 2,
        "budget_ore": 135_000_00,
        "outcome_ore": 0,
    }
    assert report.contributions_total_ore == 157 * 200 and report.means_ore == 157 * 200 + 5000_00


def test_budget_table_sums():
    activities = [facts("leda", "likv-a", Outcome.RAN), facts("extra", None, Outcome.RAN)]
    costs = [
        Cost(year=2020, line_id="likv-a", amount_ore=40_000_00, date=date(2020, 5, 1), category=CostCategory.VENUE),
        Cost(year=2020, activity_id="leda", amount_ore=12_345_50, date=date(2020, 5, 1), category=CostCategory.FOOD),
        Cost(year=2020, line_id="komp-a", amount_ore=20_000_00, date=date(2020, 5, 1), category=CostCategory.SPEAKER),
        Cost(year=2020, activity_id="extra", amount_ore=1_000_00, date=date(2020, 5, 1), category=CostCategory.OTHER),
    ]
    report = _report(activities, costs)
    rows = report.budget_rows
    assert [r.kind for r in rows] == [
        "area",
        "line",
        "line",
        "sum",
        "area",
        "line",
        "sum",
        "area",
        "outside",
        "sum",
        "total",
    ]
    lines = [r for r in rows if r.kind == "line"]
    sums = [r for r in rows if r.kind == "sum"]
    total = rows[-1]
    assert lines[0].outcome_ore == 52_345_50 and lines[0].budget_ore == 70_000_00
    assert sums[0].budget_ore == 85_000_00 and sums[0].outcome_ore == 52_345_50
    assert sums[1].budget_ore == 50_000_00 and sums[1].outcome_ore == 20_000_00  # the area's own budget
    assert rows[8].what == "Extra" and rows[8].area == OUTSIDE_PLAN and rows[8].outcome_ore == 1_000_00
    assert total.budget_ore == sum(s.budget_ore or 0 for s in sums) == PLAN.budget * 100
    assert total.outcome_ore == sum(s.outcome_ore or 0 for s in sums) == sum(c.amount_ore for c in costs)


def test_comparison_with_earlier_years():
    mentor_2019 = facts("mentor-19", None, Outcome.RAN, title="Mentor i förskola och skola", participants={"berg": 6})
    summary_2019 = year_summary(2019, [mentor_2019], year_outcome(2019, None, [], {"mentor-19": None}), {"berg"})
    earlier = [EarlierYear(summary=summary_2019, participants={"Mentor i förskola och skola": 6})]
    report = _report([facts("mentor", "komp-a", Outcome.RAN, participants={"sundsvall": 27})], earlier=earlier)
    assert [s.year for s in report.earlier] == [2019]
    assert report.earlier[0].participants == 6 and report.earlier[0].budget_ore is None
    assert [(c.what, c.participants) for c in report.line_comparison] == [
        ("Mentor i förskola och skola", {2019: 6, 2020: 27})
    ]
