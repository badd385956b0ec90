"""Durations as coordinators write them: ISO-8601 (``PT45S``, ``P14D``) or short (``45s``, ``10m``, ``2h``, ``14d``)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, TypeAdapter, ValidationError

from domain.plan_source import shown

_SHORT = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_MAX_TEXT = 40  # longer than any duration written by hand: refused before the patterns run
_FORMS = "use ISO-8601 (PT45S, P14D) or a number with s, m, h, d or w (45s, 10m, 2h, 14d)"
_ISO = TypeAdapter(timedelta)  # pydantic parses ISO-8601 durations (P14D, PT45S, P1DT2H)


def parse_duration(value: Any) -> timedelta:
    """Parse a duration; raise ValueError naming the accepted forms."""
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, bool):
        raise ValueError(f"bad duration {shown(value)}: {_FORMS}")
    elif isinstance(value, (int, float)):
        try:
            result = timedelta(seconds=value)
        except (OverflowError, ValueError):  # inf, nan, too large: a ValueError so pydantic reports it
            raise ValueError(f"bad duration {shown(value)}: out of range") from None
    elif isinstance(value, str):
        if len(value) > _MAX_TEXT:
            raise ValueError(f"bad duration {shown(value)}: at most {_MAX_TEXT} characters; {_FORMS}")
        try:
            result = _parse_text(value)
        except OverflowError:
            raise ValueError(f"bad duration {shown(value)}: out of range") from None
    else:
        raise ValueError(f"bad duration {shown(value)}: {_FORMS}")
    if result < timedelta(0):
        raise ValueError(f"duration must not be negative: {shown(value)}")
    return result


def _parse_text(text: str) -> timedelta:
    short = _SHORT.match(text)
    if short:
        return timedelta(**{_UNITS[short.group(2)]: int(short.group(1))})
    iso = text.strip().upper()
    date_part = iso.partition("T")[0]
    # Years and months have no fixed length: a plan says what it means in weeks or days.
    if iso.startswith("P") and "Y" not in date_part and "M" not in date_part:
        try:
            return _ISO.validate_python(iso)
        except ValidationError:
            pass
    raise ValueError(f"bad duration {shown(text)}: {_FORMS}")


def format_duration(value: timedelta) -> str:
    """Shortest exact short form (``90s`` -> ``90s``, ``3600s`` -> ``1h``); ISO-8601 with fractional seconds
    otherwise."""
    if value.microseconds:  # the short form takes whole numbers only; keep it exact and parseable
        days = f"{value.days}D" if value.days else ""
        return f"P{days}T{value.seconds}.{value.microseconds:06d}S"
    seconds = int(value.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
