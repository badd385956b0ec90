"""Times typed in forms, read as Swedish local time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.local_time import BadLocalTime, local_input_value, parse_local_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-09-10T23:59", datetime(2027, 9, 10, 21, 59, tzinfo=UTC)),  # summer time: UTC+2
        ("2027-01-10T09:00", datetime(2027, 1, 10, 8, 0, tzinfo=UTC)),  # winter time: UTC+1
        ("2027-01-10 09:00:30", datetime(2027, 1, 10, 8, 0, 30, tzinfo=UTC)),
        (" 2027-10-31T02:30 ", datetime(2027, 10, 31, 0, 30, tzinfo=UTC)),  # the repeated hour: the first one
    ],
)
def test_swedish_local_times(text, expected):
    assert parse_local_time(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "Ange datum och tid."),
        ("2027-03-28T02:30", "finns inte i Sverige"),  # skipped when summer time begins
        ("2027-02-30T10:00", "finns inte"),
        ("2027-09-10T25:00", "finns inte"),
        ("10/9 2027 10:00", "ÅÅÅÅ-MM-DD"),
        ("2027-09-10T10:00" + "0" * 1000, "ÅÅÅÅ-MM-DD"),
        ("٢٠٢٧-09-10T10:00", "ÅÅÅÅ-MM-DD"),  # digits, but not ASCII ones
    ],
)
def test_what_is_not_a_time_says_why(text, says):
    with pytest.raises(BadLocalTime, match=says):
        parse_local_time(text)


@given(st.text(max_size=40))
def test_any_text_is_a_time_or_a_reason(text):
    try:
        at = parse_local_time(text)
    except BadLocalTime as exc:
        assert str(exc)
    else:
        assert at.tzinfo is UTC


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_the_input_value_reads_back_to_the_same_minute(at):
    at = at.replace(second=0, microsecond=0)
    try:
        assert parse_local_time(local_input_value(at)) == at or at.month == 10  # October's repeated hour: the first
    except BadLocalTime:
        pytest.fail("a value written for an input must read back")
