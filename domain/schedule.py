"""When things are due: deadline reminders, and the agenda after confirmation.

The agenda is recomputed from the plan and what has been done, so the
workflow's state is just `done: {key: when}`; that survives continue-as-new
and lets session surveys, the final evaluation and the follow-up overlap.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from domain.lifecycle import LifecyclePlan


def deadline_reminders(plan: LifecyclePlan) -> list[datetime]:
    """Reminder times before the deadline, earliest first; none before opening."""
    times = {plan.deadline - offset for offset in plan.reminders_before_deadline}
    return sorted(t for t in times if plan.opens <= t < plan.deadline)


class StepKind(StrEnum):
    SESSION_REMINDER = "session_reminder"
    SESSION_START = "session_start"
    SURVEY_SEND = "survey_send"
    SURVEY_REMIND = "survey_remind"
    SURVEY_CLOSE = "survey_close"
    REPORT = "report"


DEADLINE_REMINDER = "deadline-reminder"  # keyed by its due time: 'deadline-reminder:2027-09-05T23:59:00+02:00'


FINAL = "final"
FOLLOW_UP = "follow-up"
REPORT = "report"
DEADLINE_REMINDER = "deadline-reminder"  # keyed by its due time: 'deadline-reminder:2027-09-05T23:59:00+02:00'


class Action(StrEnum):
    """What a step does to its subject (a session, a survey)."""

    REMINDER = "reminder"  # a session's reminder to the confirmed
    START = "start"  # a session starts
    SEND = "send"  # a survey goes out
    REMIND = "remind"  # its one reminder
    CLOSE = "close"  # it closes


def step_key(subject: str, action: Action | None = None) -> str:
    """The one spelling of a step's key in the workflow's `done`: 's1:send', 'final:close', 's2:start', 'report'."""
    return f"{subject}:{action.value}" if action is not None else subject


def session_survey(no: int) -> str:
    """A session's subject (its reminder, start and survey): 's1', 's2', ..."""
    return f"s{no}"


class Step(BaseModel):
    key: str
    due: datetime
    kind: StepKind
    session_no: int | None = None
    survey: str | None = None


def survey_steps(
    plan: LifecyclePlan, survey: str, due: datetime, done: dict[str, datetime], session_no: int | None = None
) -> list[Step]:
    send_key = step_key(survey, Action.SEND)
    sent = done.get(send_key)
    if sent is None:
        return [Step(key=send_key, due=due, kind=StepKind.SURVEY_SEND, survey=survey, session_no=session_no)]
    return [
        Step(
            key=step_key(survey, Action.REMIND),
            due=sent + plan.survey_reminder_after,
            kind=StepKind.SURVEY_REMIND,
            survey=survey,
            session_no=session_no,
        ),
        Step(
            key=step_key(survey, Action.CLOSE),
            due=sent + plan.survey_window,
            kind=StepKind.SURVEY_CLOSE,
            survey=survey,
            session_no=session_no,
        ),
    ]


def agenda(plan: LifecyclePlan, done: dict[str, datetime], attendance_recorded: set[int]) -> list[Step]:
    """Every step after confirmation that is not done yet, earliest first."""
    steps: list[Step] = []
    for session in plan.sessions:
        n = session.no
        steps.append(
            Step(
                key=step_key(session_survey(n), Action.REMINDER),
                due=session.start - plan.session_reminder_before,
                kind=StepKind.SESSION_REMINDER,
                session_no=n,
            )
        )
        steps.append(
            Step(
                key=step_key(session_survey(n), Action.START),
                due=session.start,
                kind=StepKind.SESSION_START,
                session_no=n,
            )
        )
        survey_due = session.end if n in attendance_recorded else session.end + plan.attendance_grace
        steps += survey_steps(plan, session_survey(n), survey_due, done, session_no=n)
    steps += survey_steps(plan, FINAL, plan.last_end + plan.final_evaluation_after, done)
    steps += survey_steps(plan, FOLLOW_UP, plan.last_end + plan.follow_up_after, done)
    pending = [s for s in steps if s.key not in done]
    if not pending and REPORT not in done:
        last = max(done.values(), default=plan.last_end)
        pending.append(Step(key=step_key(REPORT), due=last, kind=StepKind.REPORT))
    return sorted(pending, key=lambda s: (s.due, s.key))
