"""Recurring rounds over Temporal Schedules: one schedule per template, `rounds-<template id>`.

Each firing starts `RoundStarterWorkflow` (`round-<template>-<time>`), which makes the round in the store and starts
its lifecycle (`workflows/round_starter.py`, `domain/rounds.py`). Used by the CLI (`runflow schedule ...`) and the
back-office (`/admin/schedules`); the schedules are in the Temporal UI's Schedules too.

The schedule's policies:
- overlap BUFFER_ONE: a firing due while the previous starter still runs (the store down, the worker away) waits
  for it and then runs, so a round is not lost to a slow firing; a second one due meanwhile is dropped, as it
  would be the same outage's (SKIP would lose the round whose firing came during the outage);
- catch-up window one day: a firing missed while Temporal was down is made up within a day, not months later;
- pause on failure: a starter that fails for good (the template gone or no longer valid) pauses the schedule, with
  the server's note, until a coordinator has looked.

Notes (why a schedule was paused) are plain text in Temporal, never encrypted: short, one line, no addresses.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.service import RPCError, RPCStatusCode

from activities_impl.store import Store
from api.service import Refused
from domain.control_characters import control_character
from domain.plan import ACTIVITY_ID, plan_problems
from domain.plan_source import shown
from domain.rounds import (
    STARTER_PREFIX,
    Calendar,
    Range,
    Recurrence,
    RoundStarterInput,
    interval_offset,
    round_id,
    round_plan,
    schedule_id,
    template_of,
)
from workflows.round_starter import RoundStarterWorkflow

ZONE = "Europe/Stockholm"  # calendar specs are read in Swedish time
CATCH_UP = timedelta(days=1)
MAX_NOTE = 200
NEXT_RUNS = 3  # next firings shown


class ScheduleRefused(Refused):
    """A schedule request that cannot be carried out (exit code 2 in the CLI)."""


@dataclass(frozen=True)
class LastRound:
    round_id: str
    nominal_time: datetime  # the firing's time
    started_at: datetime
    made: bool  # the store has the round (False: the firing failed or is still making it)


@dataclass(frozen=True)
class RoundSchedule:
    """A template's schedule as Temporal describes it (times in UTC; shown in Swedish time by the pages)."""

    schedule_id: str
    template_id: str
    title: str | None  # the template's, from the store (None when the template is gone)
    recurrence: Recurrence | None  # None for a spec this module did not write
    paused: bool
    note: str
    next_runs: list[datetime]
    rounds_fired: int
    last_round: LastRound | None

    def as_json(self) -> dict[str, Any]:
        last = self.last_round
        return {
            "schedule_id": self.schedule_id,
            "template_id": self.template_id,
            "title": self.title,
            "recurrence": self.recurrence.text() if self.recurrence else None,
            "paused": self.paused,
            "note": self.note,
            "next_runs": [t.isoformat() for t in self.next_runs],
            "rounds_fired": self.rounds_fired,
            "last_round": (
                {
                    "round_id": last.round_id,
                    "nominal_time": last.nominal_time.isoformat(),
                    "started_at": last.started_at.isoformat(),
                    "made": last.made,
                }
                if last
                else None
            ),
        }


def checked_note(note: str) -> str:
    """A note for Temporal (plain text there): at most 200 characters, one line, no e-mail address."""
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise ScheduleRefused(f"the note has more than {MAX_NOTE} characters")
    if control_character(note):
        raise ScheduleRefused("the note must be one line without control characters")
    if "@" in note:
        raise ScheduleRefused("the note must not hold an e-mail address: Temporal keeps it as plain text")
    return note


def schedule_for(given: str) -> str:
    """A schedule's id from what was typed: its id (rounds-<template>) or its template's id."""
    if template_of(given) is not None:
        return given
    if len(given) <= 64 and ACTIVITY_ID.match(given):
        return schedule_id(given)
    raise ScheduleRefused(f"{shown(given)} is neither a template's id nor a schedule id (rounds-<template id>)")


def spec_of(recurrence: Recurrence) -> ScheduleSpec:
    if recurrence.calendar is not None:
        c = recurrence.calendar

        def ranges(values: list[Range]) -> tuple[ScheduleRange, ...]:
            return tuple(ScheduleRange(r.start, r.end, r.step) for r in values)

        calendar = ScheduleCalendarSpec(
            second=(ScheduleRange(c.second),),
            minute=(ScheduleRange(c.minute),),
            hour=(ScheduleRange(c.hour),),
            day_of_month=ranges(c.day_of_month),
            month=ranges(c.month),
            year=ranges(c.year),
            day_of_week=ranges(c.day_of_week),
            comment=c.text(),
        )
        return ScheduleSpec(calendars=[calendar], time_zone_name=ZONE)
    assert recurrence.every is not None
    offset = interval_offset(recurrence.first, recurrence.every) if recurrence.first else None
    return ScheduleSpec(
        intervals=[ScheduleIntervalSpec(every=recurrence.every, offset=offset)],
        start_at=recurrence.first,
        time_zone_name=ZONE,
    )


def recurrence_of(spec: ScheduleSpec) -> Recurrence | None:
    """What a spec written by `spec_of` says; None for anything else (a schedule edited in the Temporal UI)."""
    try:
        if len(spec.intervals) == 1 and not spec.calendars:
            return Recurrence(every=spec.intervals[0].every, first=spec.start_at)
        if len(spec.calendars) == 1 and not spec.intervals:
            c = spec.calendars[0]

            def ranges(values: Any) -> list[Range]:
                return [Range(start=r.start, end=max(r.end, r.start), step=r.step or 1) for r in values]

            if not (len(c.hour) == len(c.minute) == len(c.second) == 1):
                return None
            return Recurrence(
                calendar=Calendar(
                    month=ranges(c.month),
                    day_of_month=ranges(c.day_of_month),
                    day_of_week=ranges(c.day_of_week),
                    year=ranges(c.year),
                    hour=c.hour[0].start,
                    minute=c.minute[0].start,
                    second=c.second[0].start,
                )
            )
    except (ValidationError, ValueError):
        return None
    return None


class RoundSchedules:
    """The templates' schedules: create, list, describe, pause, resume, trigger, delete."""

    def __init__(self, client: Client, store: Store, task_queue: str):
        self.client, self.store, self.task_queue = client, store, task_queue

    # -- changing ---------------------------------------------------------------------------------------------------
    async def create(
        self, template_id: str, recurrence: Recurrence, *, paused: bool = False, note: str = ""
    ) -> RoundSchedule:
        """A schedule for the template; refused when the store has no plan for it, when its dates cannot be moved
        to a round, or when it has a schedule already."""
        if not ACTIVITY_ID.match(template_id):
            raise ScheduleRefused(f"{shown(template_id)} is not an activity id")
        note = checked_note(note)
        await self._check_template(template_id)
        sid = schedule_id(template_id)
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                RoundStarterWorkflow.run,
                RoundStarterInput(template_id=template_id),
                id=f"{STARTER_PREFIX}{template_id}",  # the schedule appends the firing's time
                task_queue=self.task_queue,
                static_summary=f"Ny omgång av {template_id}",
            ),
            spec=spec_of(recurrence),
            policy=SchedulePolicy(
                overlap=ScheduleOverlapPolicy.BUFFER_ONE, catchup_window=CATCH_UP, pause_on_failure=True
            ),
            state=ScheduleState(paused=paused, note=note or ("Skapad pausad" if paused else "")),
        )
        try:
            await self.client.create_schedule(sid, schedule)
        except ScheduleAlreadyRunningError:
            raise ScheduleRefused(
                f"the template {template_id!r} has a schedule already ({sid}); delete it first to change it"
            ) from None
        return await self.describe(sid)

    async def _check_template(self, template_id: str) -> None:
        found = await asyncio.to_thread(self.store.latest_plan, template_id)
        if found is None:
            raise ScheduleRefused(f"no template {template_id!r}: the store has no plan for it")
        try:
            made = round_plan(found[1], datetime.now(UTC))
        except ValidationError as exc:
            raise ScheduleRefused(f"the template's dates do not make a round: {exc.errors()[0]['msg']}") from None
        problems = plan_problems(made)
        if problems:
            raise ScheduleRefused(f"the template's dates do not make a round: {problems[0]}")

    async def pause(self, given: str, note: str = "") -> RoundSchedule:
        sid = schedule_for(given)
        note = checked_note(note)
        await self._handle(sid).pause(note=note or "Pausad")
        return await self.describe(sid)

    async def resume(self, given: str, note: str = "") -> RoundSchedule:
        sid = schedule_for(given)
        note = checked_note(note)
        await self._handle(sid).unpause(note=note or "Återupptagen")
        return await self.describe(sid)

    async def trigger(self, given: str) -> str:
        """Fire now (also when paused): a round for today, unless today's is made already. The round's id."""
        sid = schedule_for(given)
        template = template_of(sid)
        assert template is not None
        await self._handle(sid).trigger()
        return round_id(template, datetime.now(UTC))

    async def delete(self, given: str) -> str:
        """Delete the schedule; rounds already started go on."""
        sid = schedule_for(given)
        await self._handle(sid).delete()
        return sid

    # -- reading ----------------------------------------------------------------------------------------------------
    async def describe(self, given: str) -> RoundSchedule:
        sid = schedule_for(given)
        try:
            description = await self.client.get_schedule_handle(sid).describe()
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                raise ScheduleRefused(f"no schedule {sid!r}") from None
            raise
        return await asyncio.to_thread(self._view, description)

    async def list(self) -> list[RoundSchedule]:
        """Every template's schedule, by template id (from Temporal's visibility: one just created may take a moment
        to be listed)."""
        ids = sorted([s.id async for s in await self.client.list_schedules() if template_of(s.id) is not None])
        found = await asyncio.gather(*(self.describe(sid) for sid in ids), return_exceptions=True)
        return [s for s in found if isinstance(s, RoundSchedule)]  # one deleted since it was listed is left out

    def _handle(self, sid: str) -> _CheckedHandle:
        return _CheckedHandle(self.client.get_schedule_handle(sid))

    def _view(self, description: ScheduleDescription) -> RoundSchedule:
        template = template_of(description.id)
        assert template is not None
        activity = self.store.activity(template)
        latest = self.store.latest_plan(template)
        info = description.info
        last = None
        if info.recent_actions:
            action = max(info.recent_actions, key=lambda a: a.started_at)
            rid = round_id(template, action.scheduled_at)
            last = LastRound(
                round_id=rid,
                nominal_time=action.scheduled_at,
                started_at=action.started_at,
                made=self.store.activity(rid) is not None,
            )
        return RoundSchedule(
            schedule_id=description.id,
            template_id=template,
            title=latest[1].title if latest else (activity.title if activity else None),
            recurrence=recurrence_of(description.schedule.spec),
            paused=description.schedule.state.paused,
            note=description.schedule.state.note or "",
            next_runs=list(info.next_action_times[:NEXT_RUNS]),
            rounds_fired=info.num_actions,
            last_round=last,
        )


class _CheckedHandle:
    """A schedule handle whose calls say `no schedule` (ScheduleRefused) when it does not exist."""

    def __init__(self, handle: ScheduleHandle):
        self.handle = handle

    async def _call(self, name: str, **kwargs: Any) -> None:
        try:
            await getattr(self.handle, name)(**kwargs)
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                raise ScheduleRefused(f"no schedule {self.handle.id!r}") from None
            raise

    async def pause(self, note: str) -> None:
        await self._call("pause", note=note)

    async def unpause(self, note: str) -> None:
        await self._call("unpause", note=note)

    async def trigger(self) -> None:
        await self._call("trigger")

    async def delete(self) -> None:
        await self._call("delete")
