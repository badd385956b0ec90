"""`runflow schedule ...`: recurring rounds, one Temporal Schedule per template (`api.schedules`).

    runflow schedule create TEMPLATE_ID (--every 26w [--first TIME] | --calendar "month=1,8 day_of_month=15 hour=8")
                            [--paused] [--note TEXT]
    runflow schedule list [--json]
    runflow schedule pause ID [--note TEXT] | resume ID [--note TEXT] | trigger ID | delete ID

ID is the schedule's id (rounds-<template id>) or the template's id. The schedule's time is when each round's
registration opens; the round's dates are the template's, moved to that day (`domain.rounds`).

As in `runflow.cli`: only typer and the standard library at import, the rest when a command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from api.schedules import RoundSchedule, RoundSchedules
    from api.service import Service
    from domain.rounds import Recurrence

schedule_app = typer.Typer(
    help="Recurring rounds: each template's Temporal Schedule starts a new round (create, list, pause, resume, "
    "trigger, delete).",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")]
NoteOption = Annotated[
    str, typer.Option("--note", help="Why (one line, at most 200 characters, no e-mail addresses: Temporal shows it).")
]
IdArgument = Annotated[str, typer.Argument(help="The schedule's id (rounds-<template id>) or the template's id.")]


def _schedules(service: Service) -> RoundSchedules:
    from api.schedules import RoundSchedules

    return RoundSchedules(service.client, service.store, service.task_queue)


def _checked(given: str | None = None, note: str = "") -> str | None:
    """Exit 2 with one line for a bad id or note, before connecting; the schedule's id."""
    from api.schedules import ScheduleRefused, checked_note, schedule_for
    from runflow.cli import fail

    try:
        checked_note(note)
        return schedule_for(given) if given is not None else None
    except ScheduleRefused as exc:
        fail(str(exc))


def _local(at: Any) -> str:
    from domain.texts import STOCKHOLM

    return str(at.astimezone(STOCKHOLM).isoformat(timespec="minutes"))


def _human(view: RoundSchedule) -> str:
    state = "paused" if view.paused else "active"
    lines = [
        f"{view.schedule_id}: {view.title or '(template not in the store)'} ({view.template_id})",
        f"  {view.recurrence.text() if view.recurrence else 'a spec not made by runflow'}; {state}"
        + (f" ({view.note})" if view.note else ""),
        "  next: " + (", ".join(_local(t) for t in view.next_runs) or "none"),
    ]
    if view.last_round is not None:
        last = view.last_round
        lines.append(
            f"  last round: {last.round_id} (fired {_local(last.nominal_time)}"
            + ("" if last.made else ", not made yet")
            + ")"
        )
    return "\n".join(lines)


def _recurrence(every: str | None, calendar: str | None, first: str | None) -> Recurrence:
    from domain.rounds import Recurrence, RecurrenceError, parse_calendar, parse_every
    from runflow.cli import BadInput, fail, parse_time

    if (every is None) == (calendar is None):
        fail("give either --every (e.g. 26w) or --calendar (e.g. 'month=1,8 day_of_month=15 hour=8')")
    if first is not None and every is None:
        fail("--first goes with --every")
    try:
        if calendar is not None:
            return Recurrence(calendar=parse_calendar(calendar))
    except RecurrenceError as exc:
        fail(f"--calendar: {exc}")
    try:
        start = parse_time(first) if first else None
    except BadInput as exc:
        fail(f"--first: {exc}")
    try:
        assert every is not None
        return Recurrence(every=parse_every(every), first=start)
    except RecurrenceError as exc:
        fail(f"--every: {exc}" if not str(exc).startswith("--every") else str(exc))


@schedule_app.command("create")
def schedule_create(
    template_id: Annotated[str, typer.Argument(help="The template: an activity whose plan the store has.")],
    every: Annotated[str | None, typer.Option(help="A round every DURATION (at least 1d), e.g. 26w.")] = None,
    calendar: Annotated[
        str | None,
        typer.Option(help="Rounds at calendar times, Swedish time: 'month=1,8 day_of_month=15 hour=8'."),
    ] = None,
    first: Annotated[
        str | None, typer.Option(help="With --every: the first round's time (ISO-8601 with offset).")
    ] = None,
    paused: Annotated[bool, typer.Option("--paused", help="Create it paused.")] = False,
    note: NoteOption = "",
    as_json: JsonFlag = False,
) -> None:
    """Give a template a schedule: each firing makes a round (registration opening that day) and starts it."""
    from runflow.cli import emit, run_with_service

    recurrence = _recurrence(every, calendar, first)
    _checked(template_id, note)
    view = run_with_service(
        lambda service: _schedules(service).create(template_id, recurrence, paused=paused, note=note)
    )
    emit(view.as_json(), as_json, _human(view))


@schedule_app.command("list")
def schedule_list(as_json: JsonFlag = False) -> None:
    """Every template's schedule: recurrence, paused or not, next firings (Swedish time), last round."""
    from runflow.cli import emit, run_with_service

    views = run_with_service(lambda service: _schedules(service).list())
    emit({"schedules": [v.as_json() for v in views]}, as_json, "\n".join(map(_human, views)) or "no schedules")


@schedule_app.command("pause")
def schedule_pause(schedule: IdArgument, note: NoteOption = "", as_json: JsonFlag = False) -> None:
    """Pause a schedule: no rounds start until it is resumed."""
    from runflow.cli import emit, run_with_service

    _checked(schedule, note)
    view = run_with_service(lambda service: _schedules(service).pause(schedule, note))
    emit(view.as_json(), as_json, _human(view))


@schedule_app.command("resume")
def schedule_resume(schedule: IdArgument, note: NoteOption = "", as_json: JsonFlag = False) -> None:
    """Resume a paused schedule (firings missed while paused are not made up)."""
    from runflow.cli import emit, run_with_service

    _checked(schedule, note)
    view = run_with_service(lambda service: _schedules(service).resume(schedule, note))
    emit(view.as_json(), as_json, _human(view))


@schedule_app.command("trigger")
def schedule_trigger(schedule: IdArgument, as_json: JsonFlag = False) -> None:
    """Start a round now (today's: a template makes at most one round a day), also when the schedule is paused."""
    from runflow.cli import emit, run_with_service

    sid = _checked(schedule)
    rid = run_with_service(lambda service: _schedules(service).trigger(schedule))
    emit({"schedule_id": sid, "round_id": rid}, as_json, f"{sid}: triggered; the round is {rid}")


@schedule_app.command("delete")
def schedule_delete(schedule: IdArgument, as_json: JsonFlag = False) -> None:
    """Delete a schedule; rounds already started go on."""
    from runflow.cli import emit, run_with_service

    _checked(schedule)
    sid = run_with_service(lambda service: _schedules(service).delete(schedule))
    emit({"schedule_id": sid, "deleted": True}, as_json, f"{sid}: deleted")
