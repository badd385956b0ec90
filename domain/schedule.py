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


FINAL = "final"
FOLLOW_UP = "follow-up"


def session_survey(no: int) -> str:
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
    send_key = f"{survey}:send"
    sent = done.get(send_key)
    if sent is None:
        return [Step(key=send_key, due=due, kind=StepKind.SURVEY_SEND, survey=survey, session_no=session_no)]
    return [
        Step(
            key=f"{survey}:remind",
            due=sent + plan.survey_reminder_after,
            kind=StepKind.SURVEY_REMIND,
            survey=survey,
            session_no=session_no,
        ),
        Step(
            key=f"{survey}:close",
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
                key=f"s{n}:reminder",
                due=session.start - plan.session_reminder_before,
                kind=StepKind.SESSION_REMINDER,
                session_no=n,
            )
        )
        steps.append(Step(key=f"s{n}:start", due=session.start, kind=StepKind.SESSION_START, session_no=n))
        survey_due = session.end if n in attendance_recorded else session.end + plan.attendance_grace
        steps += survey_steps(plan, session_survey(n), survey_due, done, session_no=n)
    steps += survey_steps(plan, FINAL, plan.last_end + plan.final_evaluation_after, done)
    steps += survey_steps(plan, FOLLOW_UP, plan.last_end + plan.follow_up_after, done)
    pending = [s for s in steps if s.key not in done]
    if not pending and "report" not in done:
        last = max(done.values(), default=plan.last_end)
        pending.append(Step(key="report", due=last, kind=StepKind.REPORT))
    return sorted(pending, key=lambda s: (s.due, s.key))
