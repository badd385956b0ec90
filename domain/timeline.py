"""The preview a coordinator sees before starting an activity: every dated step of its lifecycle, in time order.

It is computed with the engine's own rules, walked the way the workflow walks them
(`workflows/activity_lifecycle.py`), so the preview cannot disagree with what will happen:

- the invitation when registration opens; `deadline_reminders` (sent only while `needs_reminder`); the deadline;
  the end of the coordinator's grace period (only when the minimum can be missed, `deadline_outcome`);
- after confirmation, `agenda` step by step: each step is taken at its due time (or at once when it is
  already due), and recorded as done at that time, which is what the remind and close steps of a survey are
  computed from (`survey_steps`); a session's reminder is left out when it would come at or after the session's
  start, as the workflow skips it;
- the anonymisation, a retention period after the report.

The preview assumes the activity is confirmed at its deadline and that attendance is not recorded before a
session's attendance grace runs out: a session's survey then goes out at the latest time the engine would send it
(earlier once attendance is recorded, and its reminder and closing move with it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.lifecycle import LifecyclePlan, Location
from domain.plan import ActivityPlan
from domain.rules import DeadlineOutcome, deadline_outcome, needs_reminder
from domain.schedule import FINAL, FOLLOW_UP, REPORT, Step, StepKind, agenda, deadline_reminders
from domain.texts import survey_text, when

PLAN_VERSION = 1  # the version a plan has when its activity starts


class EntryKind(StrEnum):
    """What an entry is, for programs (the page's icons, filters and tests)."""

    INVITATION = "invitation"
    DEADLINE_REMINDER = "deadline_reminder"
    DEADLINE = "deadline"
    GRACE_END = "grace_end"
    SESSION_REMINDER = StepKind.SESSION_REMINDER.value
    SESSION_START = StepKind.SESSION_START.value
    SURVEY_SEND = StepKind.SURVEY_SEND.value
    SURVEY_REMIND = StepKind.SURVEY_REMIND.value
    SURVEY_CLOSE = StepKind.SURVEY_CLOSE.value
    REPORT = StepKind.REPORT.value
    ANONYMISATION = "anonymisation"


class TimelineEntry(BaseModel):
    """One dated step: `at` in UTC, `what` in Swedish for people, `kind` (an `EntryKind` value) for programs,
    `key` the step's key in the workflow's `done` where it has one ('s1:send', 'deadline-reminder:...')."""

    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    what: str
    kind: str
    key: str = ""


# Where a session is, as the preview names it (the e-mails' calendar texts name rooms, which the preview leaves out).
WHERE = {
    Location.SUNDSVALL: "på campus Sundsvall",
    Location.OSTERSUND: "på campus Östersund",
    Location.BOTH: "på campus Sundsvall och campus Östersund (länkade)",
    Location.DIGITAL: "digitalt",
}


def timeline(plan: ActivityPlan) -> list[TimelineEntry]:
    """Every dated step of the activity's lifecycle, earliest first (steps at the same time in lifecycle order)."""
    lifecycle = plan.lifecycle(PLAN_VERSION)
    entries = _registration(plan, lifecycle)
    steps, ended = walk_agenda(lifecycle, start=lifecycle.deadline)
    entries += [_step_entry(lifecycle, at, step) for at, step in steps]
    erased = (
        "namn, e-postadresser och skolor"
        if plan.surveys.keep_free_text
        else "namn, e-postadresser, skolor och fritextsvar"
    )
    entries.append(
        _entry(
            ended + lifecycle.retention,  # the workflow's retention counts from when the report ended the activity
            EntryKind.ANONYMISATION,
            f"Personuppgifterna i aktiviteten raderas ({erased}). "
            "Antalet deltagare per kommun, roll och träff sparas för årsrapporterna.",
            "anonymise",
        )
    )
    return sorted(entries, key=lambda e: e.at)  # stable: at the same time, the order of the lifecycle


def timeline_rows(plan: ActivityPlan) -> list[tuple[str, str]]:
    """The timeline for display: (Swedish date and time in Europe/Stockholm, what happens)."""
    return [(when(entry.at), entry.what) for entry in timeline(plan)]


def walk_agenda(plan: LifecyclePlan, start: datetime) -> tuple[list[tuple[datetime, Step]], datetime]:
    """The steps after confirmation at `start`, as the workflow takes them when nothing else happens: each at
    `max(clock, due)`, then recorded as done at that time. Returns (when, step) in the order taken, and when the
    report step ends the activity (the start of its retention period).

    Session reminders the workflow would skip (due at or after the session's start) are left out.
    """
    done: dict[str, datetime] = {}
    clock = start
    taken: list[tuple[datetime, Step]] = []
    while REPORT not in done:
        steps = agenda(plan, done, set())
        if not steps:  # cannot happen: the report is always due last; never loop
            break
        step = steps[0]
        clock = max(clock, step.due)
        done[step.key] = clock
        if step.kind is StepKind.SESSION_REMINDER and not _reminder_sent(plan, step, clock):
            continue
        taken.append((clock, step))
    return taken, done.get(REPORT, clock)


def _reminder_sent(plan: LifecyclePlan, step: Step, at: datetime) -> bool:
    session = plan.session(step.session_no) if step.session_no is not None else None
    return session is not None and at < session.start


def _registration(plan: ActivityPlan, lifecycle: LifecyclePlan) -> list[TimelineEntry]:
    minimum = lifecycle.min_participants
    groups = _listed(plan.target_groups)
    entries = [
        _entry(
            lifecycle.opens,
            EntryKind.INVITATION,
            f"Anmälan öppnar och inbjudan går ut till kontakterna för målgruppen ({groups}).",
            "invitation",
        )
    ]
    if needs_reminder(0, minimum):  # reminders go out only while below the minimum: never when it is zero
        entries += [
            _entry(
                at,
                EntryKind.DEADLINE_REMINDER,
                f"Påminnelse till målgruppen om anmälan, om färre än {minimum} har anmält sig.",
                f"deadline-reminder:{at.isoformat()}",
            )
            for at in deadline_reminders(lifecycle)
        ]
    if deadline_outcome(0, minimum) is DeadlineOutcome.CONFIRM:
        decided = "Aktiviteten genomförs och alla anmälda får besked."
    else:
        decided = f"Med minst {minimum} anmälda genomförs aktiviteten och alla anmälda får besked."
    entries.append(_entry(lifecycle.deadline, EntryKind.DEADLINE, f"Sista anmälningsdag: anmälan stänger. {decided}"))
    if deadline_outcome(0, minimum) is DeadlineOutcome.ASK_COORDINATOR:
        # The workflow starts the grace period when it decides, at the deadline.
        entries.append(
            _entry(
                lifecycle.deadline + lifecycle.grace_period,
                EntryKind.GRACE_END,
                f"Om färre än {minimum} har anmält sig: sista tidpunkt för samordnaren att besluta (genomföra ändå, "
                "förlänga anmälan, flytta eller ställa in). Utan beslut ställs aktiviteten in och alla anmälda "
                "får besked.",
            )
        )
    return entries


def _step_entry(plan: LifecyclePlan, at: datetime, step: Step) -> TimelineEntry:
    return _entry(at, EntryKind(step.kind.value), _step_text(plan, step), step.key)


def _step_text(plan: LifecyclePlan, step: Step) -> str:
    no = step.session_no
    if step.kind is StepKind.SESSION_REMINDER:
        return f"Påminnelse till deltagarna inför träff {no}, med kalenderfil."
    if step.kind is StepKind.SESSION_START:
        session = plan.session(no) if no is not None else None
        where = f" {WHERE[session.location]}" if session is not None else ""
        return f"Träff {no} av {len(plan.sessions)} börjar{where}."
    if step.kind is StepKind.REPORT:
        return "Slutrapporten skickas till samordnaren."
    survey = step.survey or ""
    title = survey_text(survey)[0]
    if step.kind is StepKind.SURVEY_SEND:
        if survey == FINAL:
            return "Slututvärderingen skickas till deltagarna."
        if survey == FOLLOW_UP:
            return "Uppföljningsenkäten skickas till deltagarna."
        return (
            f"Enkäten ”{title}” skickas till dem som var med, så snart närvaron är registrerad "
            "och senast vid den här tiden."
        )
    if step.kind is StepKind.SURVEY_REMIND:
        return f"Påminnelse om enkäten ”{title}” till dem som inte har svarat."
    return f"Enkäten ”{title}” stänger."


def _entry(at: datetime, kind: EntryKind, what: str, key: str = "") -> TimelineEntry:
    return TimelineEntry(at=at.astimezone(UTC), what=what, kind=kind.value, key=key)


def _listed(items: list[str]) -> str:
    """'lärare, specialpedagog och förstelärare'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} och {items[-1]}"
