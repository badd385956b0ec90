"""Calendar files: parsed back with icalendar, checked against the plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar

from activities_impl.calendar import build_calendar, location_text
from domain.plan import ActivityPlan, Location, SessionPlan, load_plan, shift_plan
from domain.reference import default_reference

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lasa-skriva.yaml"
STAMP = datetime(2027, 8, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def plan() -> ActivityPlan:
    return load_plan(str(EXAMPLE), default_reference())


def events(data: bytes) -> tuple[Calendar, list]:
    calendar = Calendar.from_ical(data)
    return calendar, list(calendar.walk("VEVENT"))


def test_calendar_header_and_one_event_per_session(plan):
    calendar, evs = events(build_calendar(plan, 1, stamp=STAMP))
    assert str(calendar["PRODID"]) == "-//RUN//runflow//SV"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert len(evs) == len(plan.sessions) == 3
    assert [str(e["UID"]) for e in evs] == [f"lasa-skriva-ht27-session-{no}@runflow" for no in (1, 2, 3)]
    assert [str(e["SUMMARY"]) for e in evs] == [f"{plan.title} – träff {no}" for no in (1, 2, 3)]
    for event in evs:
        assert plan.description.strip() in str(event["DESCRIPTION"])
        assert event.decoded("DTSTAMP") == STAMP


def test_times_are_the_plans_in_utc(plan):
    _, evs = events(build_calendar(plan, 1, stamp=STAMP))
    for event, session in zip(evs, plan.sessions, strict=False):
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert start == session.start and end == session.end
        assert start.utcoffset() == timedelta(0) and end.utcoffset() == timedelta(0)
    assert b"DTSTART:20270923T070000Z" in build_calendar(plan, 1, stamp=STAMP)


def test_uids_stable_and_sequence_follows_plan_version(plan):
    moved = shift_plan(plan, timedelta(days=28))
    _, first = events(build_calendar(plan, 1, stamp=STAMP))
    _, postponed = events(build_calendar(moved, 2, stamp=STAMP))
    assert [str(e["UID"]) for e in first] == [str(e["UID"]) for e in postponed]
    assert {int(e["SEQUENCE"]) for e in first} == {0}
    assert {int(e["SEQUENCE"]) for e in postponed} == {1}
    assert postponed[0].decoded("DTSTART") == plan.sessions[0].start + timedelta(days=28)


def test_cancel_has_status_cancelled_and_next_sequence(plan):
    calendar, evs = events(build_calendar(plan, 2, method="CANCEL", stamp=STAMP))
    assert str(calendar["METHOD"]) == "CANCEL"
    assert len(evs) == 3
    assert {str(e["STATUS"]) for e in evs} == {"CANCELLED"}
    assert {int(e["SEQUENCE"]) for e in evs} == {2}
    _, published = events(build_calendar(plan, 2, stamp=STAMP))
    assert {str(e["STATUS"]) for e in published} == {"CONFIRMED"}
    assert {int(e["SEQUENCE"]) for e in published} == {1}


def test_digital_session_has_location_and_url(plan):
    _, evs = events(build_calendar(plan, 1, stamp=STAMP))
    digital = evs[2]
    link = "https://miun.example.se/zoom/lasa-skriva"
    assert str(digital["URL"]) == link
    assert str(digital["LOCATION"]) == f"Digitalt, {link}"
    assert "URL" not in evs[0]
    assert str(evs[0]["LOCATION"]) == "Campus Sundsvall, sal O111"


def test_only_requested_sessions(plan):
    _, evs = events(build_calendar(plan, 1, session_nos=[2], stamp=STAMP))
    assert [str(e["UID"]) for e in evs] == ["lasa-skriva-ht27-session-2@runflow"]
    _, evs = events(build_calendar(plan, 1, session_nos=[3, 1], stamp=STAMP))
    assert [str(e["UID"]) for e in evs] == [f"lasa-skriva-ht27-session-{no}@runflow" for no in (3, 1)]


def test_deterministic_given_stamp(plan):
    assert build_calendar(plan, 3, stamp=STAMP) == build_calendar(plan, 3, stamp=STAMP)


def test_session_title_replaces_summary(plan):
    data = plan.model_dump()
    data["sessions"][0]["title"] = "Uppstart"
    _, evs = events(build_calendar(ActivityPlan.model_validate(data), 1, stamp=STAMP))
    assert str(evs[0]["SUMMARY"]) == "Uppstart"


def test_bad_arguments(plan):
    with pytest.raises(ValueError):
        build_calendar(plan, 1, session_nos=[4])
    with pytest.raises(ValueError):
        build_calendar(plan, 1, method="REFRESH")
    with pytest.raises(ValueError):
        build_calendar(plan, 0)


@pytest.mark.parametrize(
    ("location", "room", "link", "expected"),
    [
        (Location.SUNDSVALL, None, None, "Campus Sundsvall"),
        (Location.OSTERSUND, "sal F234", None, "Campus Östersund, sal F234"),
        (Location.OSTERSUND, "Campus Östersund, sal F234", None, "Campus Östersund, sal F234"),
        (Location.BOTH, "O111 / F234", None, "Campus Sundsvall och Campus Östersund (länkade), O111 / F234"),
        (Location.DIGITAL, None, "https://x.example.se/m", "Digitalt, https://x.example.se/m"),
        (
            Location.BOTH,
            "O111",
            "https://x.example.se/m",
            "Campus Sundsvall och Campus Östersund (länkade), O111, https://x.example.se/m",
        ),
    ],
)
def test_location_text(location, room, link, expected):
    start = datetime(2027, 9, 23, 7, tzinfo=UTC)
    session = SessionPlan(start=start, end=start + timedelta(hours=2), location=location, room=room, link=link)
    assert location_text(session) == expected
