"""Times typed in a form (`<input type="datetime-local">`: '2027-09-10T23:59'), read as Swedish local time.

Parsed field by field (no pattern matching), length-checked first. A time that does not exist in Sweden (the hour
skipped when summer time begins) is refused; an ambiguous one (the hour repeated in October) is the first.
"""

from __future__ import annotations

from datetime import UTC, datetime

from domain.texts import STOCKHOLM

MAX_LOCAL_TIME = 19  # 'YYYY-MM-DDTHH:MM:SS'


class BadLocalTime(ValueError):
    """The text is not a date and time; `str(exc)` is a Swedish sentence for the person who typed it."""


def parse_local_time(text: str) -> datetime:
    """An aware UTC datetime from 'YYYY-MM-DDTHH:MM' (seconds allowed, a space for the T) in Swedish time."""
    text = text.strip()
    if not text:
        raise BadLocalTime("Ange datum och tid.")
    if len(text) > MAX_LOCAL_TIME:
        raise BadLocalTime("Ange datum och tid som ÅÅÅÅ-MM-DD TT:MM.")
    date_part, _, time_part = text.replace(" ", "T", 1).partition("T")
    pieces = date_part.split("-") + time_part.split(":")
    if len(pieces) not in (5, 6) or not all(p.isascii() and p.isdigit() for p in pieces):
        raise BadLocalTime("Ange datum och tid som ÅÅÅÅ-MM-DD TT:MM.")
    try:
        year, month, day, hour, minute, *second = (int(p) for p in pieces)
        local = datetime(year, month, day, hour, minute, second[0] if second else 0, tzinfo=STOCKHOLM)
    except ValueError:
        raise BadLocalTime("Datumet eller tiden finns inte. Kontrollera dag, månad och klockslag.") from None
    at = local.astimezone(UTC)
    if at.astimezone(STOCKHOLM).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise BadLocalTime("Den tiden finns inte i Sverige (klockan ställs fram då). Välj en annan tid.")
    return at


def local_input_value(at: datetime | None) -> str:
    """The value for a datetime-local input: 'YYYY-MM-DDTHH:MM' in Swedish time."""
    return at.astimezone(STOCKHOLM).strftime("%Y-%m-%dT%H:%M") if at is not None else ""
