"""Data the workflow carries: the lifecycle plan, update/query messages, status.

Everything here crosses Temporal, so it holds ids, times, counts and enums
only: never a name, an e-mail address or a free-text answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from domain.phases import Phase

# Who on the office's staff did something: an opaque id (e.g. "st_3f9a1c2b"), never a name or an address. Letters,
# digits, "_" and "-" only, so an e-mail address or a name with a space can never pass for one.
StaffId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]


class Location(StrEnum):
    """Where a session is: a campus, both campuses linked, or online."""

    SUNDSVALL = "sundsvall"
    OSTERSUND = "ostersund"
    BOTH = "both"
    DIGITAL = "digital"


class SessionTimes(BaseModel):
    no: int
    start: datetime
    end: datetime
    location: Location


class LifecyclePlan(BaseModel):
    """The part of an ActivityPlan the workflow needs. `version` names the stored plan."""

    activity_id: str
    version: int = 1
    title: str
    focus_area: str
    places: int
    min_participants: int
    teams_allowed: bool = False
    team_min: int = 1
    team_max: int = 1
    opens: datetime
    deadline: datetime
    reminders_before_deadline: list[timedelta] = []
    grace_period: timedelta
    sessions: list[SessionTimes]
    session_reminder_before: timedelta
    survey_window: timedelta
    survey_reminder_after: timedelta
    attendance_grace: timedelta
    final_evaluation_after: timedelta
    follow_up_after: timedelta
    retention: timedelta

    @property
    def first_start(self) -> datetime:
        return self.sessions[0].start

    @property
    def last_end(self) -> datetime:
        return self.sessions[-1].end

    def session(self, no: int) -> SessionTimes | None:
        return next((s for s in self.sessions if s.no == no), None)


class SeatStatus(StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"


class RegistrationRequest(BaseModel):
    participant_id: int
    team_size: int = 1


class RegistrationResult(BaseModel):
    registration_id: str
    status: SeatStatus
    waitlist_position: int | None = None


class RegistrationBatch(BaseModel):
    """Registrations that waited together in one web process, in the order they came: one Update for all of them
    (a burst beyond the server's limit of Updates in flight shares the slots instead of queueing for them)."""

    requests: list[RegistrationRequest]


class RegistrationOutcome(BaseModel):
    """One request of a batch: its seat, or the refusal (its code, the English message and the numbers)."""

    result: RegistrationResult | None = None
    refusal: str | None = None
    message: str = ""
    details: dict[str, Any] = {}


class RegistrationBatchResult(BaseModel):
    outcomes: list[RegistrationOutcome]  # one per request, in the batch's order


class WithdrawalRequest(BaseModel):
    participant_id: int


class WithdrawalResult(BaseModel):
    registration_id: str
    previous_status: SeatStatus
    promoted: list[str] = []


class OverrideAction(StrEnum):
    RUN = "run"
    EXTEND = "extend"
    POSTPONE = "postpone"
    CANCEL = "cancel"


class OverrideRequest(BaseModel):
    action: OverrideAction
    until: datetime | None = None
    plan: LifecyclePlan | None = None
    staff_id: StaffId | None = None  # who decided (None: a decision from before staff sign-in, or the CLI)


class AttendanceRequest(BaseModel):
    session_no: int
    present: list[int] = Field(default_factory=list)
    staff_id: StaffId | None = None  # who recorded it


class MessageRequest(BaseModel):
    """Send a coordinator's stored message (`message_id` in the store: the text never crosses Temporal)."""

    message_id: int
    staff_id: StaffId


class DecisionBy(StrEnum):
    ENGINE = "engine"
    COORDINATOR = "coordinator"


class Decision(BaseModel):
    at: datetime
    kind: str
    by: DecisionBy
    reason: str
    confirmed: int
    min_participants: int
    staff_id: StaffId | None = None  # the coordinator's decisions: who decided (an opaque staff id)


def audit_by(staff_id: str | None, otherwise: str) -> str:
    """Who the audit log names: `staff:<id>` when a member of staff did it, else `otherwise` (e.g. "engine")."""
    return f"staff:{staff_id}" if staff_id else otherwise


class SessionStatus(BaseModel):
    no: int
    start: datetime
    end: datetime
    location: Location
    attended: int | None = None
    survey: str = "pending"


class NextDue(BaseModel):
    at: datetime
    what: str


class ActivityStatus(BaseModel):
    id: str
    title: str
    phase: Phase
    plan_version: int
    capacity: int
    min_participants: int
    confirmed: int
    waitlisted: int
    withdrawn: int
    registrations: int
    deadline: datetime
    grace_until: datetime | None = None
    next_due: NextDue | None = None
    sessions: list[SessionStatus] = []
    decisions: list[Decision] = []
    run_number: int = 1
    recording: int = 0  # registrations and withdrawals answered, not yet in the store (their e-mails follow)
