"""Inputs of the workflow's activities: ids, times and counts only (they are Temporal payloads)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from domain.lifecycle import Decision, SeatStatus


class PlanRef(BaseModel):
    activity_id: str
    plan_version: int


class DeadlineReminder(PlanRef):
    due: datetime


class RegistrationRecord(PlanRef):
    registration_id: str
    participant_id: int
    status: SeatStatus
    team_size: int
    seq: int
    waitlist_position: int | None = None


class WithdrawalRecord(PlanRef):
    registration_id: str
    promoted: list[str] = []


class RegistrationChange(BaseModel):
    """A seat the workflow gave (and answered): to record in the store and confirm by e-mail."""

    kind: Literal["registration"] = "registration"
    registration_id: str
    participant_id: int
    status: SeatStatus
    team_size: int
    seq: int
    waitlist_position: int | None = None


class WithdrawalChange(BaseModel):
    """A withdrawal the workflow answered, with the registrations it promoted from the waiting list."""

    kind: Literal["withdrawal"] = "withdrawal"
    registration_id: str
    promoted: list[str] = []


SeatChange = Annotated[RegistrationChange | WithdrawalChange, Field(discriminator="kind")]


class SeatChanges(PlanRef):
    """Registrations and withdrawals already answered, in the order the workflow took them: recorded and confirmed
    by e-mail in that order, each once (store rows keyed by registration id, e-mails by outbox key)."""

    changes: list[SeatChange]


class FailedSeatChange(BaseModel):
    registration_id: str
    cause: str  # the error's type only: never a name or an address


class SeatChangesRecorded(BaseModel):
    """What `record_seat_changes` could never record (input that cannot succeed); every other change is stored."""

    failed: list[FailedSeatChange] = []


class DecisionRecord(BaseModel):
    activity_id: str
    key: str
    decision: Decision


class LowEnrolmentNotice(PlanRef):
    confirmed: int
    grace_until: datetime


class AnnouncementKind(StrEnum):
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    POSTPONED = "postponed"


class Announcement(PlanRef):
    kind: AnnouncementKind
    confirmed_ids: list[str] = []
    waitlisted_ids: list[str] = []
    low_enrolment: bool = False


class SessionReminder(PlanRef):
    session_no: int
    participant_ids: list[int]


class AttendanceRecord(BaseModel):
    activity_id: str
    session_no: int
    participant_ids: list[int]  # those newly present
    staff_id: str | None = None  # who recorded it (the audit log names them)
    at: datetime | None = None  # when the workflow took it (None: recorded before the audit entry existed)


class SurveySend(PlanRef):
    survey: str
    participant_ids: list[int]
    sent_at: datetime
    closes_at: datetime


class SurveyStep(PlanRef):
    survey: str
    at: datetime


class SurveyCount(BaseModel):
    invited: int
    answered: int


class MessageRef(PlanRef):
    """A coordinator's stored message (the text stays in the store) and who sends it."""

    message_id: int
    staff_id: str


class MessageSend(MessageRef):
    participant_ids: list[int]  # the segment as it was resolved when the message was sent
    at: datetime
