"""Recurring rounds: an activity plan used as a template, made again for each firing of a schedule. Pure.

A template is an activity the store has a plan for (any activity: a past round or a draft kept as a template). A
Temporal Schedule fires at a nominal time; each firing makes one round, its own activity:

- its id is the template's id and the nominal time's date in Swedish time (`kurs-x` -> `kurs-x-20270816`), so a
  firing retried, re-delivered or started twice for the same nominal time makes the same round, never a second;
  a template makes at most one round a day (schedules fire at most daily: `parse_every`, `parse_calendar`);
- its dates are the template's, moved by whole days so that registration opens on the nominal time's date: the
  schedule's time is when each round's invitation goes out. Every time keeps its time of day in Swedish time
  across summer time (`on_day`), so the order of the dates and the sessions' lengths are those of the template.

Why registration, not the first session, is anchored at the nominal time: the schedule starts the round's
lifecycle, which begins with the invitation; a round whose first session fell on the firing would have its
registration period in the past and would go straight to the decision with nobody registered.

The models at the end cross Temporal: the template's id and times only, no personal data.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from domain.durations import format_duration, parse_duration
from domain.lifecycle import LifecyclePlan
from domain.plan import ACTIVITY_ID, ActivityPlan
from domain.plan_source import shown
from domain.texts import MONTHS, STOCKHOLM, WEEKDAYS

SCHEDULE_PREFIX = "rounds-"  # the Temporal Schedule of a template: rounds-<template id>
STARTER_PREFIX = "round-"  # its starter workflows: round-<template id>-<nominal time> (the schedule adds the time)
MAX_ID = 64
DATE_SUFFIX = len("-20270816")


class RecurrenceError(ValueError):
    """A recurrence that cannot be used; the message (English, one line) names the problem."""


# -- ids -------------------------------------------------------------------------------------------------------------
def _template_id(value: str) -> str:
    if not isinstance(value, str) or not ACTIVITY_ID.match(value):
        raise ValueError("must be an activity id (3-64 lowercase letters, digits or dashes)")
    return value


TemplateId = Annotated[str, AfterValidator(_template_id)]


def schedule_id(template_id: str) -> str:
    return f"{SCHEDULE_PREFIX}{template_id}"


def template_of(schedule: str) -> str | None:
    """The template of a round schedule's id; None for a schedule that is not one of ours."""
    template = schedule.removeprefix(SCHEDULE_PREFIX)
    return template if schedule.startswith(SCHEDULE_PREFIX) and ACTIVITY_ID.match(template) else None


def round_id(template_id: str, nominal: datetime) -> str:
    """The round's activity id: the template's and the nominal time's date in Swedish time, at most 64 characters
    (a long template id is cut, the date stays)."""
    day = nominal.astimezone(STOCKHOLM).strftime("%Y%m%d")
    base = template_id[: MAX_ID - DATE_SUFFIX].rstrip("-")
    return f"{base}-{day}"


# -- dates -----------------------------------------------------------------------------------------------------------
def _local(at: datetime, zone: ZoneInfo) -> datetime:
    """`at` in `zone`, through UTC (`astimezone` to the zone a datetime already has would change nothing)."""
    return at.astimezone(UTC).astimezone(zone)


def _naive(at: datetime, zone: ZoneInfo) -> datetime:
    return _local(at, zone).replace(tzinfo=None)


def _exists(naive: datetime, zone: ZoneInfo) -> bool:
    return _naive(naive.replace(tzinfo=zone), zone) == naive


def _repeated(naive: datetime, zone: ZoneInfo) -> bool:
    """The wall-clock time happens twice (the hour repeated when summer time ends)."""
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    return first.utcoffset() != second.utcoffset() and _exists(naive, zone)


def _first_instant(low: datetime, high: datetime, after: Any) -> datetime:
    """The first instant in (low, high] for which `after(instant)` holds (it holds at high and stays true)."""
    span = (high - low) // timedelta(microseconds=1)
    lo, hi = 0, span
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if after(low + timedelta(microseconds=mid)):
            hi = mid
        else:
            lo = mid
    return low + timedelta(microseconds=hi)


def on_day(at: datetime, days: int, zone: ZoneInfo = STOCKHOLM) -> datetime:
    """`at` moved by `days` calendar days in `zone`, at the same wall-clock time (09:00 in winter stays 09:00 in
    summer: the instant moves by whole days plus or minus the summer-time hour).

    Two wall-clock times cannot be kept, both in the night the clocks change, and are moved so that the order of
    times is always kept (two times may then fall together):
    - a time that does not exist on the new day (the hour skipped in March) becomes the moment the clocks jump;
    - a time in the second pass of the hour repeated in October, moved to a day that repeats no hour, becomes the end
      of that hour (it must stay after the times of the first pass)."""
    local = _local(at, zone)
    naive, fold = local.replace(tzinfo=None), 0
    if local.fold and _repeated(naive, zone):
        if _repeated(naive + timedelta(days=days), zone):
            fold = 1
        else:
            offsets = naive.replace(tzinfo=zone, fold=0).utcoffset(), naive.replace(tzinfo=zone, fold=1).utcoffset()
            assert offsets[0] is not None and offsets[1] is not None
            start = at.astimezone(UTC)
            end = _first_instant(
                start, start + (offsets[0] - offsets[1]), lambda u: not _repeated(_naive(u, zone), zone)
            )
            naive = _naive(end, zone)
    target = (naive + timedelta(days=days)).replace(tzinfo=zone, fold=fold)
    if not _exists(target.replace(tzinfo=None), zone):
        # Skipped: fold=1 reads it with the offset after the jump (an instant before it), fold=0 with the one before.
        before, after = target.replace(fold=1).astimezone(UTC), target.replace(fold=0).astimezone(UTC)
        wall = target.replace(tzinfo=None)
        target = _local(_first_instant(before, after, lambda u: _naive(u, zone) > wall), zone)
    return _fixed(target)


def _fixed(at: datetime) -> datetime:
    """With its UTC offset as a fixed zone ('09:00+01:00'): a datetime in a zone's repeated hour compares unequal
    to every datetime of another zone (PEP 495), even the same instant."""
    offset = at.utcoffset()
    assert offset is not None
    return at.astimezone(timezone(offset))


def local_date(at: datetime) -> date:
    return at.astimezone(STOCKHOLM).date()


def round_days(template: ActivityPlan, nominal: datetime) -> int:
    """How many calendar days the round is after the template: registration opens on the nominal time's date."""
    return (local_date(nominal) - local_date(template.registration.opens)).days


def _shifted(value: Any, days: int) -> Any:
    if isinstance(value, datetime):
        return on_day(value, days)
    if isinstance(value, dict):
        return {k: _shifted(v, days) for k, v in value.items()}
    if isinstance(value, list):
        return [_shifted(v, days) for v in value]
    return value


def round_plan(template: ActivityPlan, nominal: datetime) -> ActivityPlan:
    """The round's plan: the template with the round's id and every date moved by `round_days` (`on_day`).

    Everything else is the template's, including whatever the plan links to (e.g. its line in the action plan)."""
    data = _shifted(template.model_dump(), round_days(template, nominal))
    data["id"] = round_id(template.id, nominal)
    return ActivityPlan.model_validate(data)


def dates_of(plan: ActivityPlan) -> list[datetime]:
    """Every date of a plan, in the order they come in the plan's data."""
    found: list[datetime] = []

    def walk(value: Any) -> None:
        if isinstance(value, datetime):
            found.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(plan.model_dump())
    return found


# -- recurrence ------------------------------------------------------------------------------------------------------
MIN_EVERY = timedelta(days=1)  # one round a day at most: the round's id is its date
MAX_EVERY = timedelta(weeks=520)
MAX_CALENDAR = 200  # characters of a calendar spec, checked before it is read


def parse_every(text: str) -> timedelta:
    """The interval between rounds ('26w', '182d', 'P26W'): at least a day, at most ten years."""
    try:
        every = parse_duration(text)
    except ValueError as exc:
        raise RecurrenceError(str(exc)) from None
    if every < MIN_EVERY:
        raise RecurrenceError(f"--every {shown(text)} is shorter than a day: a template makes at most one round a day")
    if every > MAX_EVERY:
        raise RecurrenceError(f"--every {shown(text)} is longer than ten years")
    return every


def interval_offset(first: datetime, every: timedelta) -> timedelta:
    """The phase that makes an interval schedule (epoch + n * every + offset) fire at `first`."""
    return (first - datetime(1970, 1, 1, tzinfo=UTC)) % every


class Range(BaseModel):
    """start..end (inclusive) every step; one value when start == end."""

    model_config = ConfigDict(frozen=True)
    start: int
    end: int
    step: int = 1

    def values(self) -> list[int]:
        return list(range(self.start, self.end + 1, self.step))

    def text(self) -> str:
        if self.start == self.end:
            return str(self.start)
        return f"{self.start}-{self.end}" + (f"/{self.step}" if self.step != 1 else "")


# field: (lowest, highest, single value only). Rounds start at most once a day: one hour, minute and second.
CALENDAR_FIELDS: dict[str, tuple[int, int, bool]] = {
    "month": (1, 12, False),
    "day_of_month": (1, 31, False),
    "day_of_week": (0, 6, False),  # 0 is Sunday, 1 Monday (Temporal's numbering)
    "year": (2000, 2199, False),
    "hour": (0, 23, True),
    "minute": (0, 59, True),
    "second": (0, 59, True),
}
_RANGE = re.compile(r"^(\d{1,4})(?:-(\d{1,4})(?:/(\d{1,3}))?)?$")
_FIELD_NAME = re.compile(r"^[a-z_]{1,20}$")


class Calendar(BaseModel):
    """When rounds start, in Swedish time: every field matches (a missing one: any day, month, weekday or year;
    hour, minute and second 0)."""

    model_config = ConfigDict(frozen=True)
    month: list[Range] = [Range(start=1, end=12)]
    day_of_month: list[Range] = [Range(start=1, end=31)]
    day_of_week: list[Range] = [Range(start=0, end=6)]
    year: list[Range] = []
    hour: int = 0
    minute: int = 0
    second: int = 0

    def text(self) -> str:
        """The spec as `parse_calendar` reads it, without the fields that match everything."""
        parts = []
        for name in ("month", "day_of_month", "day_of_week", "year"):
            ranges: list[Range] = getattr(self, name)
            if ranges and ranges != Calendar.model_fields[name].default:
                parts.append(f"{name}={','.join(r.text() for r in ranges)}")
        parts.append(f"hour={self.hour}")
        if self.minute:
            parts.append(f"minute={self.minute}")
        if self.second:
            parts.append(f"second={self.second}")
        return " ".join(parts)


def _ranges(name: str, text: str) -> list[Range]:
    low, high, single = CALENDAR_FIELDS[name]
    items = text.split(",")
    if len(items) > 31 or not all(items):
        raise RecurrenceError(f"{name}: write values or ranges separated by commas, e.g. {name}={low},{low + 1}")
    ranges = []
    for item in items:
        found = _RANGE.match(item)
        if not found:
            raise RecurrenceError(
                f"{name}: {shown(item)} is not a number, a range (1-5) or a range with a step (1-12/3)"
            )
        start = int(found.group(1))
        end = int(found.group(2)) if found.group(2) else start
        step = int(found.group(3)) if found.group(3) else 1
        if not (low <= start <= high and low <= end <= high):
            raise RecurrenceError(f"{name}: {shown(item)} is outside {low}-{high}")
        if end < start or step < 1:
            raise RecurrenceError(f"{name}: {shown(item)} must run upwards with a step of at least 1")
        ranges.append(Range(start=start, end=end, step=step))
    if single and (len(ranges) > 1 or ranges[0].start != ranges[0].end):
        raise RecurrenceError(f"{name} takes one value: a template makes at most one round a day")
    return ranges


def parse_calendar(text: str) -> Calendar:
    """'month=1,8 day_of_month=15 hour=8': fields separated by spaces, each `name=values`; values are numbers,
    ranges (1-5) or ranges with a step (1-12/3), separated by commas. Times are Swedish time."""
    if len(text) > MAX_CALENDAR:
        raise RecurrenceError(f"the calendar spec has more than {MAX_CALENDAR} characters")
    if not text.strip() or not all(" " <= char <= "~" for char in text):  # printable ASCII and spaces
        raise RecurrenceError("write the calendar spec as name=values, e.g. 'month=1,8 day_of_month=15 hour=8'")
    values: dict[str, Any] = {}
    for part in text.split():
        name, equals, value = part.partition("=")
        if not equals or not _FIELD_NAME.match(name):
            raise RecurrenceError(f"{shown(part)} is not name=values (e.g. hour=8)")
        if name not in CALENDAR_FIELDS:
            raise RecurrenceError(f"unknown field {shown(name)} (one of {', '.join(CALENDAR_FIELDS)})")
        if name in values:
            raise RecurrenceError(f"{name} is given twice")
        ranges = _ranges(name, value)
        values[name] = ranges[0].start if CALENDAR_FIELDS[name][2] else ranges
    return Calendar(**values)


class Recurrence(BaseModel):
    """How often a template makes a round: every `every` (from `first`, when given), or at `calendar`'s times."""

    model_config = ConfigDict(frozen=True)
    every: timedelta | None = None
    first: AwareDatetime | None = None
    calendar: Calendar | None = None

    def text(self) -> str:
        """For the CLI and logs (English)."""
        if self.calendar is not None:
            return f"calendar {self.calendar.text()} (Europe/Stockholm)"
        assert self.every is not None
        return f"every {format_duration(self.every)}" + (f" from {self.first.isoformat()}" if self.first else "")

    def swedish(self) -> str:
        """For the back-office: 'var 26:e vecka från 15 januari 2027', 'den 15 januari och augusti kl. 08.00'."""
        if self.calendar is not None:
            return calendar_swedish(self.calendar)
        assert self.every is not None
        return every_swedish(self.every) + (f" från {day_swedish(self.first)}" if self.first else "")


def day_swedish(at: datetime) -> str:
    """'onsdag 30 december 2026', in Swedish time: the day a round's registration opens when the schedule fires."""
    local = at.astimezone(STOCKHOLM)
    return f"{WEEKDAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]} {local.year}"


def _ordinal(n: int) -> str:
    return f"{n}:{'a' if n % 10 in (1, 2) and n % 100 not in (11, 12) else 'e'}"


def every_swedish(every: timedelta) -> str:
    if every % timedelta(weeks=1) == timedelta(0):
        weeks = every // timedelta(weeks=1)
        return "varje vecka" if weeks == 1 else f"var {_ordinal(weeks)} vecka"
    if every % timedelta(days=1) == timedelta(0):
        days = every // timedelta(days=1)
        return "varje dag" if days == 1 else f"var {_ordinal(days)} dag"
    return f"med {format_duration(every)} mellanrum"


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} och {items[-1]}"


def _values(ranges: list[Range]) -> list[int]:
    return sorted({v for r in ranges for v in r.values()})


def _runs(values: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for v in values:
        if runs and v == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    return runs


def _named(values: list[int], name: Any) -> str:
    return _listed([name(a) if a == b else f"{name(a)}–{name(b)}" for a, b in _runs(values)])


def calendar_swedish(calendar: Calendar) -> str:
    days = _values(calendar.day_of_month)
    months = _values(calendar.month)
    weekdays = _values(calendar.day_of_week)
    parts = []
    if weekdays != list(range(7)):
        parts.append(_named(sorted((d - 1) % 7 for d in weekdays), lambda d: WEEKDAYS[d] + "ar"))
    if days != list(range(1, 32)):
        parts.append(f"den {_named(days, str)}")
    if months != list(range(1, 13)):
        parts.append(("i " if days == list(range(1, 32)) else "") + _named(months, lambda m: MONTHS[m - 1]))
    elif days != list(range(1, 32)):
        parts.append("varje månad")
    if not parts:
        parts.append("varje dag")
    if calendar.year:
        parts.append(f"år {_named(_values(calendar.year), str)}")
    clock = f"kl. {calendar.hour:02d}.{calendar.minute:02d}" + (f".{calendar.second:02d}" if calendar.second else "")
    return " ".join([*parts, clock])


# -- what crosses Temporal -------------------------------------------------------------------------------------------
class RoundStarterInput(BaseModel):
    """The starter workflow's input. The schedule leaves `nominal_time` out: the workflow reads the firing's time
    from the schedule's search attribute (TemporalScheduledStartTime)."""

    template_id: TemplateId
    nominal_time: AwareDatetime | None = None


class RoundRequest(BaseModel):
    template_id: TemplateId
    nominal_time: AwareDatetime


class RoundMade(BaseModel):
    """The round as stored: its lifecycle plan (ids, times, counts), and its format for the workflow's memo."""

    round_id: str
    plan: LifecyclePlan
    format: str
    created: bool = Field(description="False when an earlier attempt had already made it")


class RoundStarted(BaseModel):
    """The starter's result: which round, and whether this firing started it (False: it was already started)."""

    template_id: str
    round_id: str
    nominal_time: datetime
    plan_version: int
    started: bool
