"""Budget against outcome per focus area, line and in total, activities outside the plan, and the invoice basis:
every cost counted once, the sums exact."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.action_plan import load_action_plan
from domain.costs import Cost, CostCategory
from domain.year_outcome import FeeActivity, invoice_basis, year_outcome

PLAN = load_action_plan(str(Path(__file__).resolve().parents[2] / "examples" / "handlingsplan-2020.yaml"))
LEDA = "likvardighet-leda-likvardig-skola"
MENTOR = "kompetensforsorjning-mentor-forskola-skola"
BIENNALEN = "likvardighet-fritidshemsbiennalen"


def cost(amount_ore: int, *, line: str | None = None, activity: str | None = None, year: int = 2020, **more) -> Cost:
    return Cost(
        year=year,
        line_id=line,
        activity_id=activity,
        amount_ore=amount_ore,
        date=date(year, 5, 1),
        category=more.get("category", CostCategory.FOOD),
    )


def test_costs_count_on_their_line_or_their_activity_s_line():
    costs = [
        cost(10_000_00, line=LEDA, category=CostCategory.SPEAKER),
        cost(2_500_50, activity="leda-vt21", category=CostCategory.VENUE),
        cost(4_000_00, activity="mentor-ht20"),
        cost(1_000_00, activity="krishantering-ht20"),  # an activity outside the plan
        cost(500_00, line="en-rad-som-inte-finns"),
        cost(99_00, line=LEDA, year=2021),  # another year's
    ]
    lines = {"leda-vt21": LEDA, "mentor-ht20": MENTOR, "krishantering-ht20": None, "gammal": "borttagen-rad"}
    outcome = year_outcome(2020, PLAN, costs, lines, means_ore=935_262_00)
    likvardighet = outcome.areas[0]
    leda = likvardighet.lines[1]
    assert (leda.line_id, leda.budget_ore, leda.outcome_ore) == (LEDA, 70_000_00, 12_500_50)
    assert leda.activities == ["leda-vt21"] and leda.difference_ore == 70_000_00 - 12_500_50
    assert leda.by_category == {CostCategory.VENUE: 2_500_50, CostCategory.SPEAKER: 10_000_00}
    assert likvardighet.budget_ore == 285_000_00 and likvardighet.outcome_ore == 12_500_50
    assert outcome.areas[2].lines[0].outcome_ore == 4_000_00
    assert [(o.activity_id, o.line_id, o.outcome_ore) for o in outcome.outside] == [
        ("gammal", "borttagen-rad", 0),
        ("krishantering-ht20", None, 1_000_00),
    ]
    assert outcome.unplanned_lines == {"en-rad-som-inte-finns": 500_00}
    assert outcome.budget_ore == 925_000_00
    assert outcome.plan_outcome_ore == 16_500_50 and outcome.outside_ore == 1_500_00
    assert outcome.outcome_ore == 18_000_50
    assert outcome.balance_ore == 935_262_00 - 18_000_50
    assert outcome.by_category[CostCategory.FOOD] == 5_500_00


def test_a_year_without_a_plan_has_everything_outside():
    outcome = year_outcome(2021, None, [cost(100, activity="a-b-c", year=2021)], {"a-b-c": LEDA})
    assert not outcome.has_plan and outcome.areas == [] and outcome.budget_ore == 0
    assert outcome.outcome_ore == 100 and outcome.balance_ore is None


LINE_IDS = PLAN.line_ids + ["okand-rad"]
ACTIVITY_IDS = ["akt-a", "akt-b", "akt-c", "akt-d"]
costs_strategy = st.lists(
    st.builds(
        lambda amount, line, activity, use_line, year: cost(
            amount, line=line if use_line else None, activity=None if use_line else activity, year=year
        ),
        st.integers(1, 10**9),
        st.sampled_from(LINE_IDS),
        st.sampled_from(ACTIVITY_IDS),
        st.booleans(),
        st.sampled_from([2020, 2020, 2020, 2021]),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(costs_strategy, st.dictionaries(st.sampled_from(ACTIVITY_IDS), st.none() | st.sampled_from(LINE_IDS)))
def test_every_cost_of_the_year_counts_once(costs, activity_lines):
    outcome = year_outcome(2020, PLAN, costs, activity_lines)
    of_year = sum(c.amount_ore for c in costs if c.year == 2020)
    assert outcome.outcome_ore == of_year == sum(outcome.by_category.values())
    assert outcome.plan_outcome_ore == sum(a.outcome_ore for a in outcome.areas)
    for area in outcome.areas:
        assert area.outcome_ore == sum(line.outcome_ore for line in area.lines)
        assert all(line.outcome_ore == sum(line.by_category.values()) for line in area.lines)
    assert outcome.budget_ore == PLAN.budget * 100
    named = [a for line in (x for area in outcome.areas for x in area.lines) for a in line.activities]
    assert sorted(named + [o.activity_id for o in outcome.outside]) == sorted(
        set(activity_lines) | {c.activity_id for c in costs if c.activity_id and c.year == 2020}
    )


def test_the_invoice_basis_per_organisation_and_activity():
    activities = [
        FeeActivity(
            activity_id="biennalen-21", title="Fritidshemsbiennalen", line_id=BIENNALEN, participants={"sundsvall": 3}
        ),
        FeeActivity(
            activity_id="riksdag-21",
            title="RUN-riksdag",
            line_id="organisation-natverk-run-riksdag",
            participants={"sundsvall": 2, "berg": 1, "are": 0},
        ),
        FeeActivity(
            activity_id="leda-vt21", title="Att leda en likvärdig skola", line_id=LEDA, participants={"berg": 9}
        ),
        FeeActivity(activity_id="extra", title="Extra", line_id=None, participants={"are": 2}, fee=300),
    ]
    names = {"sundsvall": "Sundsvalls kommun", "berg": "Bergs kommun", "are": "Åre kommun"}
    basis = invoice_basis(2021, PLAN, activities, names, counted="attended")
    assert [(r.organisation, r.activity, r.participants, r.fee, r.sum_ore) for r in basis.rows] == [
        ("Bergs kommun", "RUN-riksdag", 1, 1200, 1_200_00),
        ("Sundsvalls kommun", "Fritidshemsbiennalen", 3, 1500, 4_500_00),
        ("Sundsvalls kommun", "RUN-riksdag", 2, 1200, 2_400_00),
        ("Åre kommun", "Extra", 2, 300, 600_00),
    ]
    assert [(o.organisation_id, o.participants, o.sum_ore) for o in basis.organisations] == [
        ("berg", 1, 1_200_00),
        ("sundsvall", 5, 6_900_00),
        ("are", 2, 600_00),
    ]
    assert basis.total_ore == 8_700_00 and basis.counted == "attended"


@given(
    st.lists(
        st.dictionaries(st.sampled_from(["berg", "bracke", "are", "ange"]), st.integers(0, 500), max_size=4),
        max_size=6,
    ),
    st.lists(st.integers(0, 5000), min_size=6, max_size=6),
)
def test_invoice_sums_are_exact(counts, fees):
    activities = [
        FeeActivity(activity_id=f"a{i}", title=f"A{i}", line_id=None, participants=c, fee=fees[i])
        for i, c in enumerate(counts)
    ]
    basis = invoice_basis(2020, None, activities, {})
    expected = sum(n * fees[i] * 100 for i, c in enumerate(counts) for n in c.values())
    assert basis.total_ore == expected == sum(o.sum_ore for o in basis.organisations)
    assert all(r.participants > 0 and r.fee > 0 for r in basis.rows)
