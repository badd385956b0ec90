"""Refusals are values: a code for programs (and for the Swedish text people read, `domain.texts`), an English
message for logs and the CLI, and the numbers the texts need.

Across Temporal a refusal is an `ApplicationError` whose type is the code and whose details are `details`
(ids and counts only, never personal data).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class RefusalCode(StrEnum):
    # registrations and withdrawals
    REGISTRATION_CLOSED = "registration_closed"
    ALREADY_REGISTERED = "already_registered"
    INDIVIDUALS_ONLY = "individuals_only"
    TEAM_SIZE = "team_size"
    TEAM_ABOVE_PLACES = "team_above_places"
    WITHDRAWAL_CLOSED = "withdrawal_closed"
    NOT_REGISTERED = "not_registered"
    INVALID_EMAIL = "invalid_email"
    UNKNOWN_ORGANISATION = "unknown_organisation"
    # activities
    NO_ACTIVITY = "no_activity"
    ACTIVITY_ENDED = "activity_ended"
    ALREADY_STARTED = "already_started"
    UNKNOWN_ACTION_PLAN_LINE = "unknown_action_plan_line"
    # the coordinator's decisions
    DECISION_PHASE = "decision_phase"
    DECISION_BUSY = "decision_busy"
    DEADLINE_MISSING = "deadline_missing"
    DEADLINE_NAIVE = "deadline_naive"
    DEADLINE_PAST = "deadline_past"
    DEADLINE_AFTER_START = "deadline_after_start"
    PLAN_MISSING = "plan_missing"
    PLAN_OTHER_ACTIVITY = "plan_other_activity"
    PLAN_DEADLINE_PAST = "plan_deadline_past"
    PLAN_NOT_NEWER = "plan_not_newer"
    # attendance
    NO_SUCH_SESSION = "no_such_session"
    ATTENDANCE_PHASE = "attendance_phase"
    SESSION_NOT_STARTED = "session_not_started"
    NOT_CONFIRMED = "not_confirmed"
    # who did it
    INVALID_STAFF_ID = "invalid_staff_id"
    # the coordinators' messages
    SUBJECT_EMPTY = "subject_empty"
    SUBJECT_TOO_LONG = "subject_too_long"
    SUBJECT_CONTROL_CHARACTER = "subject_control_character"
    BODY_EMPTY = "body_empty"
    BODY_TOO_LONG = "body_too_long"
    BODY_CONTROL_CHARACTER = "body_control_character"
    UNKNOWN_SEGMENT = "unknown_segment"
    MESSAGES_CLOSED = "messages_closed"
    MESSAGE_FAILED = "message_failed"
    # anything else the service refuses
    REFUSED = "refused"


class Refusal(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: RefusalCode
    message: str
    details: dict[str, Any] = {}

    def __str__(self) -> str:
        return self.message


def refusal(code: RefusalCode, message: str, **details: Any) -> Refusal:
    return Refusal(code=code, message=message, details=details)
