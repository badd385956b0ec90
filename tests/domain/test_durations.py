from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.durations import format_duration, parse_duration

MAX_SECONDS = timedelta.max.days * 86400 + timedelta.max.seconds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", timedelta(seconds=45)),
        ("10m", timedelta(minutes=10)),
        ("2h", timedelta(hours=2)),
        ("14d", timedelta(days=14)),
        ("1w", timedelta(weeks=1)),
        (" 3 d ", timedelta(days=3)),
        ("0s", timedelta(0)),
        ("PT45S", timedelta(seconds=45)),
        ("P14D", timedelta(days=14)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("P2W", timedelta(weeks=2)),
        ("pt1.5s", timedelta(seconds=1.5)),
    ],
)
def test_parses_short_and_iso_forms(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(("value", "expected"), [(90, timedelta(seconds=90)), (1.5, timedelta(seconds=1.5))])
def test_numbers_are_seconds(value, expected):
    assert parse_duration(value) == expected


def test_timedelta_passes_through():
    assert parse_duration(timedelta(hours=3)) == timedelta(hours=3)


@pytest.mark.parametrize(
    "bad", ["soon", "", "P", "PT", "14", "d", "1.5d", "2y", "P1M", "14 days", "1h30m", None, True, [1]]
)
def test_bad_input_names_the_accepted_forms(bad):
    with pytest.raises(ValueError) as info:
        parse_duration(bad)
    message = str(info.value)
    assert "bad duration" in message
    assert "ISO-8601" in message and "PT45S" in message and "45s" in message


@pytest.mark.parametrize("bad", [-1, -0.5, timedelta(seconds=-1)])
def test_negative_is_rejected(bad):
    with pytest.raises(ValueError, match="negative"):
        parse_duration(bad)


@pytest.mark.parametrize("bad", ["-5s", "-PT5S"])
def test_negative_text_is_rejected(bad):
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(bad)


@pytest.mark.parametrize("huge", [float("inf"), float("nan"), 10**17, "99999999999w", "P99999999999D"])
def test_out_of_range_is_a_value_error(huge):
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(huge)


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=90), "90s"),
        (timedelta(minutes=10), "10m"),
        (timedelta(hours=1), "1h"),
        (timedelta(days=14), "2w"),
        (timedelta(days=3), "3d"),
        (timedelta(days=1, seconds=1), "86401s"),
        (timedelta(seconds=1.5), "PT1.500000S"),
    ],
)
def test_format_is_shortest_exact_form(td, text):
    assert format_duration(td) == text


@given(st.integers(min_value=0, max_value=MAX_SECONDS))
def test_round_trip_whole_seconds(seconds):
    td = timedelta(seconds=seconds)
    assert parse_duration(format_duration(td)) == td


@given(st.timedeltas(min_value=timedelta(0)))
def test_round_trip_any_non_negative_timedelta(td):
    assert parse_duration(format_duration(td)) == td
