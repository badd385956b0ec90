"""Recurring rounds (domain.rounds): the round's id, its dates moved from the template's by whole days in Swedish
time, and the recurrence a coordinator types."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from domain.plan import ACTIVITY_ID, ActivityPlan, parse_plan, plan_problems
from domain.reference import default_reference
from domain.rounds import (
    Calendar,
    Range,
    Recurrence,
    RecurrenceError,
    RoundStarterInput,
    calendar_swedish,
    dates_of,
    every_swedish,
    interval_offset,
    local_date,
    on_day,
    parse_calendar,
    parse_every,
    round_days,
    round_id,
    round_plan,
    schedule_id,
    template_of,
)
from domain.texts import STOCKHOLM

T = datetime.fromisoformat
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lasa-skriva.yaml"
EXAMPLE_DATA = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


def example() -> ActivityPlan:
    return parse_plan(copy.deepcopy(EXAMPLE_DATA), default_reference())


def local(at: datetime) -> datetime:
    return at.astimezone(UTC).astimezone(STOCKHOLM)


def wall(at: datetime) -> datetime:
    return local(at).replace(tzinfo=None)


# -- examples --------------------------------------------------------------------------------------------------------
def test_a_round_opens_on_the_nominal_date_and_keeps_every_time_of_day_across_summer_time():
    template = example()  # opens Monday 16 August 2027 08:00 (summer time); the last session in November (winter)
    nominal = T("2028-01-17T07:00:00+00:00")  # Monday 17 January 2028, 08:00 in Sweden
    made = round_plan(template, nominal)
    assert made.id == "lasa-skriva-ht27-20280117"
    assert round_days(template, nominal) == 154
    assert made.registration.opens == T("2028-01-17T08:00:00+01:00")  # 08:00 as in the template, now winter time
    assert made.registration.deadline == T("2028-02-11T23:59:00+01:00")
    assert [(s.start, s.end) for s in made.sessions] == [
        (T("2028-02-24T09:00:00+01:00"), T("2028-02-24T15:00:00+01:00")),
        (T("2028-03-23T09:00:00+01:00"), T("2028-03-23T15:00:00+01:00")),
        (T("2028-04-20T13:00:00+02:00"), T("2028-04-20T16:00:00+02:00")),  # summer time again: still 13.00-16.00
    ]
    # Everything but the id and the dates is the template's.
    same = {k: v for k, v in template.model_dump().items() if k not in ("id", "registration", "sessions")}
    assert {k: v for k, v in made.model_dump().items() if k in same} == same
    assert [s.room for s in made.sessions] == [s.room for s in template.sessions]
    assert made.registration.reminders_before_deadline == template.registration.reminders_before_deadline
    assert plan_problems(made, default_reference()) == []


def test_a_template_with_an_action_plan_line_passes_it_to_its_rounds():
    """Another change adds an optional `action_plan_line` to the plan; whatever the plan holds, the round holds."""
    if "action_plan_line" not in ActivityPlan.model_fields:
        pytest.skip("ActivityPlan has no action_plan_line yet")
    template = None
    for line in ("2027-likvardighet-1", 1, {"id": "2027-1"}):  # its type is not settled yet: the first it takes
        try:
            template = parse_plan({**copy.deepcopy(EXAMPLE_DATA), "action_plan_line": line}, default_reference())
            break
        except ValueError:
            continue
    assert template is not None and template.action_plan_line is not None  # type: ignore[attr-defined]
    made = round_plan(template, T("2028-01-17T07:00:00+00:00"))
    assert made.action_plan_line == template.action_plan_line  # type: ignore[attr-defined]


def test_the_round_id_is_the_template_and_the_swedish_date_of_the_nominal_time():
    assert round_id("natverk-it", T("2027-08-15T22:30:00+00:00")) == "natverk-it-20270816"  # 00:30 in Sweden
    assert round_id("natverk-it", T("2027-08-16T21:59:00+00:00")) == "natverk-it-20270816"
    long = "a" * 60 + "-bcd"
    made = round_id(long, T("2027-08-16T08:00:00+02:00"))
    assert len(made) == 64 and made.endswith("-20270816") and ACTIVITY_ID.match(made)
    assert round_id("a" * 54 + "-" + "b" * 9, T("2027-08-16T08:00:00+02:00")) == "a" * 54 + "-20270816"  # no "--"


def test_schedule_ids_name_their_template():
    assert schedule_id("natverk-it") == "rounds-natverk-it"
    assert template_of("rounds-natverk-it") == "natverk-it"
    assert template_of("natverk-it") is None and template_of("rounds-X!") is None


def test_the_starter_input_takes_an_activity_id_only():
    assert RoundStarterInput(template_id="natverk-it").nominal_time is None
    with pytest.raises(ValueError):
        RoundStarterInput(template_id="someone@example.se")


def test_a_time_skipped_by_summer_time_becomes_the_moment_the_clocks_jump():
    # 28 March 2027: 02:00 -> 03:00. 02:30 does not exist that night; 03:10 does.
    assert on_day(T("2027-03-21T02:30:00+01:00"), 7) == T("2027-03-28T03:00:00+02:00")
    assert on_day(T("2027-03-21T03:10:00+01:00"), 7) == T("2027-03-28T03:10:00+02:00")
    assert on_day(T("2027-03-21T01:59:00+01:00"), 7) == T("2027-03-28T01:59:00+01:00")


def test_the_repeated_hour_keeps_its_order():
    # 31 October 2027: 03:00 -> 02:00. 02:40 (summer time) comes before 02:10 (winter time) that night.
    first, second = T("2027-10-31T02:40:00+02:00"), T("2027-10-31T02:10:00+01:00")
    assert first < second
    assert on_day(first, 7) == T("2027-11-07T02:40:00+01:00")
    assert on_day(second, 7) == T("2027-11-07T03:00:00+01:00")  # the end of the repeated hour, after 02:40
    # To another night with a repeated hour, each keeps its pass.
    assert on_day(first, 364) == T("2028-10-29T02:40:00+02:00")
    assert on_day(second, 364) == T("2028-10-29T02:10:00+01:00")
    # An ordinary time moved into the repeated hour takes its first pass.
    assert on_day(T("2027-10-24T02:30:00+02:00"), 7) == T("2027-10-31T02:30:00+02:00")


# -- properties ------------------------------------------------------------------------------------------------------
def transitions() -> list[datetime]:
    """Every change to or from summer time in Sweden, 2020-2040 (01:00 UTC on the last Sundays of March, October)."""
    found = []
    for year in range(2020, 2041):
        for month in (3, 10):
            day = max(d for d in range(25, 32) if date(year, month, d).weekday() == 6)
            found.append(datetime(year, month, day, 1, tzinfo=UTC))
    return found


LOW, HIGH = datetime(2020, 1, 1, tzinfo=UTC), datetime(2040, 1, 1, tzinfo=UTC)
anywhere = st.integers(0, int((HIGH - LOW).total_seconds() // 60)).map(lambda m: LOW + timedelta(minutes=m))
near_a_change = st.tuples(st.sampled_from(transitions()), st.integers(-180, 180)).map(
    lambda t: t[0] + timedelta(minutes=t[1])
)
instants = st.one_of(anywhere, near_a_change)
gaps = st.one_of(
    st.integers(1, 60 * 24 * 40),  # minutes, up to 40 days
    st.integers(1, 180),  # a few hours: several dates in one night
)


@st.composite
def templates(draw: st.DrawFn) -> ActivityPlan:
    """A valid plan whose dates are anywhere, often in the nights the clocks change."""
    opens = draw(instants)
    steps = draw(st.lists(gaps, min_size=3, max_size=9).filter(lambda g: len(g) % 2 == 1))
    moments = [opens]
    for step in steps:
        moments.append(moments[-1] + timedelta(minutes=step))
    data = copy.deepcopy(EXAMPLE_DATA)
    data["registration"] = {"opens": moments[0], "deadline": moments[1], "reminders_before_deadline": []}
    data["sessions"] = [
        {"start": moments[i], "end": moments[i + 1], "location": "sundsvall"} for i in range(2, len(moments), 2)
    ]
    return parse_plan(data)


def kept_wall_clock(before: datetime, after: datetime, days: int) -> bool:
    return wall(after) == wall(before) + timedelta(days=days)


def night_of_change(at: datetime) -> bool:
    """In the hours of a night the clocks change (where a time of day may not exist or exist twice)."""
    return any(abs(at - t) < timedelta(hours=2) for t in transitions())


@settings(max_examples=400, deadline=None)
@given(template=templates(), nominal=instants)
def test_a_round_keeps_the_order_the_lengths_and_the_times_of_day_of_its_template(template, nominal):
    made = round_plan(template, nominal)
    days = round_days(template, nominal)
    before, after = dates_of(template), dates_of(made)
    assert len(before) == len(after)
    # Registration opens on the nominal time's date in Sweden.
    assert local_date(made.registration.opens) == local_date(nominal)
    # The order of all dates is kept (the plan's dates come in time order): never reversed.
    assert all(a <= b for a, b in zip(after, after[1:], strict=False))
    kept = [kept_wall_clock(b, a, days) for b, a in zip(before, after, strict=True)]
    for b, a, k in zip(before, after, kept, strict=True):
        # Each time keeps its time of day, except in the nights the clocks change.
        assert k or night_of_change(b) or night_of_change(a), (b, a)
    for i in range(len(before) - 1):
        b0, b1, a0, a1 = before[i], before[i + 1], after[i], after[i + 1]
        if kept[i] and kept[i + 1]:
            assert a0 < a1  # strictly, as in the template
            assert wall(a1) - wall(a0) == wall(b1) - wall(b0)  # lengths on the clock on the wall
            if local(b0).utcoffset() == local(b1).utcoffset() and local(a0).utcoffset() == local(a1).utcoffset():
                assert a1 - a0 == b1 - b0  # and in hours, when summer time does not begin or end in between
    if all(kept):
        assert plan_problems(made) == []


@settings(max_examples=200, deadline=None)
@given(template=templates(), nominal=instants, later=st.integers(0, 24 * 60 - 1))
def test_firings_on_the_same_day_make_the_same_round_and_other_days_other_rounds(template, nominal, later):
    again = nominal + timedelta(minutes=later)
    same_day = local_date(again) == local_date(nominal)
    assert (round_id(template.id, again) == round_id(template.id, nominal)) is same_day
    if same_day:
        assert round_plan(template, again) == round_plan(template, nominal)
    made = round_plan(template, nominal)
    assert ACTIVITY_ID.match(made.id) and made.id != template.id


@settings(max_examples=300, deadline=None)
@given(at=instants, days=st.integers(-4000, 4000))
def test_moving_by_days_and_back_returns_the_same_time_away_from_the_change_nights(at, days):
    moved = on_day(at, days)
    assume(not night_of_change(at) and not night_of_change(moved))
    assert on_day(moved, -days) == at
    assert (local_date(moved) - local_date(at)).days == days


# -- recurrence ------------------------------------------------------------------------------------------------------
def test_every_takes_a_day_to_ten_years():
    assert parse_every("26w") == timedelta(weeks=26)
    assert parse_every("P1D") == timedelta(days=1)
    for bad, why in [
        ("12h", "shorter than a day"),
        ("0d", "shorter than a day"),
        ("521w", "longer than ten years"),
        ("soon", "bad duration"),
        ("9" * 100, "at most 40 characters"),
    ]:
        with pytest.raises(RecurrenceError, match=why):
            parse_every(bad)


def test_every_in_swedish():
    assert every_swedish(timedelta(weeks=26)) == "var 26:e vecka"
    assert every_swedish(timedelta(weeks=1)) == "varje vecka"
    assert every_swedish(timedelta(weeks=2)) == "var 2:a vecka"
    assert every_swedish(timedelta(days=10)) == "var 10:e dag"
    assert every_swedish(timedelta(days=1, hours=1)) == "med 25h mellanrum"


def test_a_recurrence_in_swedish_names_its_first_day():
    every = Recurrence(every=timedelta(weeks=26), first=T("2027-01-14T23:30:00+00:00"))
    assert every.swedish() == "var 26:e vecka från fredag 15 januari 2027"  # the day in Sweden
    assert Recurrence(every=timedelta(weeks=4)).swedish() == "var 4:e vecka"
    calendar = Recurrence(calendar=parse_calendar("month=8 day_of_month=15 hour=8"))
    assert calendar.swedish() == "den 15 augusti kl. 08.00"
    assert calendar.text() == "calendar month=8 day_of_month=15 hour=8 (Europe/Stockholm)"
    assert every.text() == "every 26w from 2027-01-14T23:30:00+00:00"


def test_the_interval_offset_makes_the_first_firing_fall_on_the_given_time():
    first, every = T("2027-08-16T06:00:00+00:00"), timedelta(weeks=26)
    offset = interval_offset(first, every)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert timedelta(0) <= offset < every
    assert (first - epoch - offset) % every == timedelta(0)


def test_a_calendar_spec_is_read_field_by_field():
    calendar = parse_calendar("month=1,8 day_of_month=15 hour=8")
    assert calendar.month == [Range(start=1, end=1), Range(start=8, end=8)]
    assert calendar.day_of_month == [Range(start=15, end=15)]
    assert (calendar.hour, calendar.minute, calendar.second) == (8, 0, 0)
    assert calendar.day_of_week == [Range(start=0, end=6)] and calendar.year == []
    assert calendar.text() == "month=1,8 day_of_month=15 hour=8"
    assert parse_calendar(calendar.text()) == calendar
    first_tuesdays = parse_calendar("day_of_week=2 day_of_month=1-7 hour=9 minute=30")
    assert first_tuesdays.day_of_month == [Range(start=1, end=7)]
    assert parse_calendar("month=1-12/3 year=2027-2030") == Calendar(
        month=[Range(start=1, end=12, step=3)], year=[Range(start=2027, end=2030)]
    )


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "name=values"),
        ("   ", "name=values"),
        ("hour", "not name=values"),
        ("hour=8 hour=9", "given twice"),
        ("hour=8,14", "one value"),
        ("hour=8-10", "one value"),
        ("minute=0-59/15", "one value"),
        ("weekday=1", "unknown field"),
        ("month=13", "outside 1-12"),
        ("day_of_month=0", "outside 1-31"),
        ("month=8-1", "upwards"),
        ("month=1-12/0", "upwards"),
        ("month=1,,2", "separated by commas"),
        ("month=jan", "not a number"),
        ("month=-1", "not a number"),
        ("month=１", "name=values"),  # a full-width digit
        ("hour=8\nmonth=1", "name=values"),
        ("hour=8 month=" + ",".join(["1"] * 40), "commas"),
        ("month=1 " * 40, "more than 200 characters"),
        ("HOUR=8", "not name=values"),
    ],
)
def test_bad_calendar_specs_are_refused_with_one_line(text, why):
    with pytest.raises(RecurrenceError, match=why) as info:
        parse_calendar(text)
    assert "\n" not in str(info.value)


def test_calendar_in_swedish():
    assert (
        calendar_swedish(parse_calendar("month=1,8 day_of_month=15 hour=8")) == "den 15 januari och augusti kl. 08.00"
    )
    assert calendar_swedish(parse_calendar("day_of_week=2 day_of_month=1-7 hour=9 minute=30")) == (
        "tisdagar den 1–7 varje månad kl. 09.30"
    )
    assert calendar_swedish(parse_calendar("month=9 hour=7")) == "i september kl. 07.00"
    assert calendar_swedish(parse_calendar("day_of_week=0,6 hour=10")) == "lördagar–söndagar kl. 10.00"
    assert calendar_swedish(parse_calendar("hour=6 year=2028")) == "varje dag år 2028 kl. 06.00"
