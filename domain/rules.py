"""Business rules as plain functions: who may register, what an override may do, the deadline decision."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from domain.lifecycle import LifecyclePlan, OverrideAction, OverrideRequest, RegistrationRequest
from domain.phases import Phase
from domain.seats import SeatBook


class DeadlineOutcome(StrEnum):
    CONFIRM = "confirm"
    ASK_COORDINATOR = "ask_coordinator"


def deadline_outcome(confirmed: int, min_participants: int) -> DeadlineOutcome:
    return DeadlineOutcome.CONFIRM if confirmed >= min_participants else DeadlineOutcome.ASK_COORDINATOR


def needs_reminder(confirmed: int, min_participants: int) -> bool:
    """Reminders go to the target group only while enrolment is below the minimum."""
    return confirmed < min_participants


def registration_refusal(phase: Phase, plan: LifecyclePlan, book: SeatBook, req: RegistrationRequest) -> str | None:
    """Why a registration is refused, or None when it may go ahead."""
    if not phase.takes_registrations:
        return f"registration is closed (phase {phase.value})"
    if book.active_seat(req.participant_id) is not None:
        return "already registered for this activity"
    if req.team_size != 1:
        if not plan.teams_allowed:
            return "this activity takes individual registrations only (team size must be 1)"
        if not plan.team_min <= req.team_size <= plan.team_max:
            return f"team size {req.team_size} is outside {plan.team_min}-{plan.team_max}"
    if req.team_size > plan.places:
        return f"team size {req.team_size} is above the {plan.places} places"
    return None


def withdrawal_refusal(phase: Phase, book: SeatBook, participant_id: int) -> str | None:
    if not phase.before_start and phase is not Phase.RUNNING:
        return f"withdrawal is closed (phase {phase.value})"
    if book.active_seat(participant_id) is None:
        return "not registered for this activity"
    return None


OVERRIDE_PHASES = {
    OverrideAction.RUN: (Phase.DECIDING,),
    OverrideAction.EXTEND: (Phase.OPEN, Phase.DECIDING),
    OverrideAction.POSTPONE: (Phase.OPEN, Phase.DECIDING),
    OverrideAction.CANCEL: (Phase.OPEN, Phase.DECIDING),
}


def override_refusal(phase: Phase, plan: LifecyclePlan, req: OverrideRequest, now: datetime) -> str | None:
    allowed = OVERRIDE_PHASES[req.action]
    if phase not in allowed:
        names = " or ".join(p.value for p in allowed)
        return f"'{req.action.value}' is only possible while the activity is {names} (it is {phase.value})"
    if req.action is OverrideAction.EXTEND:
        if req.until is None:
            return "extend needs a new deadline (--until)"
        if req.until.tzinfo is None:
            return "the new deadline needs a timezone offset"
        if req.until <= now:
            return f"the new deadline {req.until.isoformat()} is not in the future"
        if req.until > plan.first_start:
            return f"the new deadline is after the first session starts ({plan.first_start.isoformat()})"
    if req.action is OverrideAction.POSTPONE:
        new = req.plan
        if new is None:
            return "postpone needs the new plan"
        if new.activity_id != plan.activity_id:
            return f"the new plan is for {new.activity_id!r}, not {plan.activity_id!r}"
        if new.deadline <= now:
            return "the new plan's registration deadline is not in the future"
        if new.version <= plan.version:
            return f"the new plan version {new.version} is not newer than {plan.version}"
    return None
