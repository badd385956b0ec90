"""Business rules as plain functions: who may register, what an override may do, the deadline decision."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from domain.lifecycle import AttendanceRequest, LifecyclePlan, OverrideAction, OverrideRequest, RegistrationRequest
from domain.phases import Phase
from domain.refusals import Refusal, refusal
from domain.refusals import RefusalCode as Code
from domain.seats import SeatBook


class DeadlineOutcome(StrEnum):
    CONFIRM = "confirm"
    ASK_COORDINATOR = "ask_coordinator"


def deadline_outcome(confirmed: int, min_participants: int) -> DeadlineOutcome:
    return DeadlineOutcome.CONFIRM if confirmed >= min_participants else DeadlineOutcome.ASK_COORDINATOR


def needs_reminder(confirmed: int, min_participants: int) -> bool:
    """Reminders go to the target group only while enrolment is below the minimum."""
    return confirmed < min_participants


def registration_refusal(phase: Phase, plan: LifecyclePlan, book: SeatBook, req: RegistrationRequest) -> Refusal | None:
    """Why a registration is refused, or None when it may go ahead."""
    if not phase.takes_registrations:
        return refusal(Code.REGISTRATION_CLOSED, f"registration is closed (phase {phase.value})", phase=phase.value)
    if book.active_seat(req.participant_id) is not None:
        return refusal(Code.ALREADY_REGISTERED, "already registered for this activity")
    if req.team_size != 1:
        if not plan.teams_allowed:
            return refusal(
                Code.INDIVIDUALS_ONLY, "this activity takes individual registrations only (team size must be 1)"
            )
        if not plan.team_min <= req.team_size <= plan.team_max:
            return refusal(
                Code.TEAM_SIZE,
                f"team size {req.team_size} is outside {plan.team_min}-{plan.team_max}",
                size=req.team_size,
                min=plan.team_min,
                max=plan.team_max,
            )
    if req.team_size > plan.places:
        return refusal(
            Code.TEAM_ABOVE_PLACES,
            f"team size {req.team_size} is above the {plan.places} places",
            size=req.team_size,
            places=plan.places,
        )
    return None


def withdrawal_refusal(phase: Phase, book: SeatBook, participant_id: int) -> Refusal | None:
    if not phase.before_start and phase is not Phase.RUNNING:
        return refusal(Code.WITHDRAWAL_CLOSED, f"withdrawal is closed (phase {phase.value})", phase=phase.value)
    if book.active_seat(participant_id) is None:
        return refusal(Code.NOT_REGISTERED, "not registered for this activity")
    return None


ATTENDANCE_PHASES = (Phase.CONFIRMED, Phase.RUNNING, Phase.EVALUATING, Phase.FOLLOW_UP)


def attendance_refusal(
    phase: Phase, plan: LifecyclePlan, req: AttendanceRequest, now: datetime, confirmed: list[int]
) -> Refusal | None:
    """Why attendance cannot be recorded: no such session, the wrong phase, not started, not confirmed."""
    session = plan.session(req.session_no)
    if session is None:
        return refusal(
            Code.NO_SUCH_SESSION,
            f"there is no session {req.session_no} (sessions 1-{len(plan.sessions)})",
            session=req.session_no,
            sessions=len(plan.sessions),
        )
    if phase not in ATTENDANCE_PHASES:
        return refusal(
            Code.ATTENDANCE_PHASE,
            f"attendance cannot be recorded while the activity is {phase.value}",
            phase=phase.value,
        )
    if now < session.start:
        return refusal(
            Code.SESSION_NOT_STARTED, f"session {req.session_no} has not started yet", session=req.session_no
        )
    unknown = sorted(set(req.present) - set(confirmed))
    if unknown:
        return refusal(
            Code.NOT_CONFIRMED, f"not confirmed participants of this activity: {', '.join(map(str, unknown))}"
        )
    return None


OVERRIDE_PHASES = {
    OverrideAction.RUN: (Phase.DECIDING,),
    OverrideAction.EXTEND: (Phase.OPEN, Phase.DECIDING),
    OverrideAction.POSTPONE: (Phase.OPEN, Phase.DECIDING),
    OverrideAction.CANCEL: (Phase.OPEN, Phase.DECIDING),
}


def override_refusal(phase: Phase, plan: LifecyclePlan, req: OverrideRequest, now: datetime) -> Refusal | None:
    allowed = OVERRIDE_PHASES[req.action]
    if phase not in allowed:
        names = " or ".join(p.value for p in allowed)
        return refusal(
            Code.DECISION_PHASE,
            f"'{req.action.value}' is only possible while the activity is {names} (it is {phase.value})",
            action=req.action.value,
            phase=phase.value,
        )
    if req.action is OverrideAction.EXTEND:
        if req.until is None:
            return refusal(Code.DEADLINE_MISSING, "extend needs a new deadline (--until)")
        if req.until.tzinfo is None:
            return refusal(Code.DEADLINE_NAIVE, "the new deadline needs a timezone offset")
        if req.until <= now:
            return refusal(Code.DEADLINE_PAST, f"the new deadline {req.until.isoformat()} is not in the future")
        if req.until > plan.first_start:
            return refusal(
                Code.DEADLINE_AFTER_START,
                f"the new deadline is after the first session starts ({plan.first_start.isoformat()})",
            )
    if req.action is OverrideAction.POSTPONE:
        new = req.plan
        if new is None:
            return refusal(Code.PLAN_MISSING, "postpone needs the new plan")
        if new.activity_id != plan.activity_id:
            return refusal(
                Code.PLAN_OTHER_ACTIVITY, f"the new plan is for {new.activity_id!r}, not {plan.activity_id!r}"
            )
        if new.deadline <= now:
            return refusal(Code.PLAN_DEADLINE_PAST, "the new plan's registration deadline is not in the future")
        if new.version <= plan.version:
            return refusal(Code.PLAN_NOT_NEWER, f"the new plan version {new.version} is not newer than {plan.version}")
    return None
