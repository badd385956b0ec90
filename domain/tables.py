"""SQLModel tables: the store is the system of record for people, registrations, answers and reports.

Times are stored in UTC (`UTCDateTime` makes SQLite give them back aware).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_column(nullable: bool = True) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable)


def _now() -> datetime:
    return datetime.now(UTC)


class Organisation(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    name: str
    short_name: str
    kind: str
    region: str | None = None


class Contact(SQLModel, table=True):
    """An invitation recipient: an organisation's contact, for one target group or (None) all."""

    __table_args__ = (UniqueConstraint("organisation_id", "email", "target_group"),)
    id: int | None = Field(default=None, primary_key=True)
    organisation_id: str = Field(foreign_key="organisation.id", index=True)
    target_group: str | None = None
    name: str
    email: str


class Activity(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    title: str
    focus_area: str
    format: str
    organiser_email: str | None
    current_version: int = 0
    created_at: datetime = Field(default_factory=_now, sa_column=utc_column(False))


class ActivityPlanVersion(SQLModel, table=True):
    __tablename__ = "activity_plan_version"
    __table_args__ = (UniqueConstraint("activity_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    activity_id: str = Field(foreign_key="activity.id", index=True)
    version: int
    plan_json: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=_now, sa_column=utc_column(False))


class ActivitySession(SQLModel, table=True):
    __tablename__ = "activity_session"
    __table_args__ = (UniqueConstraint("activity_id", "plan_version", "session_no"),)
    id: int | None = Field(default=None, primary_key=True)
    activity_id: str = Field(foreign_key="activity.id", index=True)
    plan_version: int
    session_no: int
    start: datetime = Field(sa_column=utc_column(False))
    end: datetime = Field(sa_column=utc_column(False))
    location: str
    room: str | None = None
    link: str | None = None


class Participant(SQLModel, table=True):
    """A person registered for one activity. Name, e-mail and school are erased by anonymisation."""

    __table_args__ = (UniqueConstraint("activity_id", "email"),)
    id: int | None = Field(default=None, primary_key=True)
    activity_id: str = Field(foreign_key="activity.id", index=True)
    name: str | None
    email: str | None
    organisation_id: str = Field(foreign_key="organisation.id")
    role: str
    school: str | None = None
    anonymised: bool = False
    created_at: datetime = Field(default_factory=_now, sa_column=utc_column(False))


class Registration(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=100)
    activity_id: str = Field(foreign_key="activity.id", index=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    status: str
    team_size: int = 1
    seq: int
    created_at: datetime = Field(default_factory=_now, sa_column=utc_column(False))
    updated_at: datetime = Field(default_factory=_now, sa_column=utc_column(False))


class TeamMember(SQLModel, table=True):
    """A named member of a team registration; the registrant is the team's contact. Erased by anonymisation."""

    __tablename__ = "team_member"
    id: int | None = Field(default=None, primary_key=True)
    activity_id: str = Field(foreign_key="activity.id", index=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    name: str | None


class Attendance(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("activity_id", "session_no", "participant_id"),)
    id: int | None = Field(default=None, primary_key=True)
    activity_id: str = Field(foreign_key="activity.id", index=True)
    session_no: int
    participant_id: int = Field(foreign_key="participant.id")
    organisation_id: str
    role: str
    present: bool = True


class SurveyInvitation(SQLModel, table=True):
    """One participant's invitation to one survey; the token is the only link to the answer."""

    __tablename__ = "survey_invitation"
    __table_args__ = (UniqueConstraint("activity_id", "survey", "participant_id"),)
    id: int | None = Field(default=None, primary_key=True)
    activity_id: str = Field(foreign_key="activity.id", index=True)
    survey: str
    participant_id: int | None = Field(default=None, foreign_key="participant.id")
    token: str = Field(unique=True, index=True)
    sent_at: datetime = Field(sa_column=utc_column(False))
    closes_at: datetime = Field(sa_column=utc_column(False))
    reminded_at: datetime | None = Field(default=None, sa_column=utc_column())
    answered_at: datetime | None = Field(default=None, sa_column=utc_column())
    closed: bool = False


class SurveyAnswer(SQLModel, table=True):
    """An answer, stored without the participant: only organisation and role are kept for statistics."""

    __tablename__ = "survey_answer"
    id: int | None = Field(default=None, primary_key=True)
    activity_id: str = Field(foreign_key="activity.id", index=True)
    survey: str
    organisation_id: str
    role: str
    answers_json: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=_now, sa_column=utc_column(False))


class OutboxMessage(SQLModel, table=True):
    """Every e-mail, keyed by its business key (activity, purpose, recipient, session): sent at most once."""

    __tablename__ = "outbox"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, index=True, max_length=300)
    activity_id: str = Field(index=True)
    purpose: str
    recipient: str | None
    subject: str
    body: str = Field(sa_column=Column(Text, nullable=False))
    attachments_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    status: str = "pending"  # pending | sending | sent | failed (undeliverable: never retried)
    attempts: int = 0
    error: str | None = Field(default=None, max_length=500)  # why it failed; no address (erased on anonymisation)
    created_at: datetime = Field(default_factory=_now, sa_column=utc_column(False))
    claimed_at: datetime | None = Field(default=None, sa_column=utc_column())
    sent_at: datetime | None = Field(default=None, sa_column=utc_column())


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=300)
    activity_id: str = Field(index=True)
    at: datetime = Field(sa_column=utc_column(False))
    kind: str
    by: str
    reason: str
    details_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))


class Report(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    activity_id: str = Field(unique=True, index=True)
    created_at: datetime = Field(default_factory=_now, sa_column=utc_column(False))
    markdown: str = Field(sa_column=Column(Text, nullable=False))
    csv: str = Field(sa_column=Column(Text, nullable=False))
    chart_png: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    summary_json: str = Field(sa_column=Column(Text, nullable=False))


class StaffMember(SQLModel, table=True):
    """Somebody at the office who signs in to the back-office; `id` is opaque (what Temporal and the audit log see)."""

    __tablename__ = "staff_member"
    id: str = Field(primary_key=True, max_length=32)
    email: str = Field(unique=True, max_length=254)
    name: str = Field(default="", max_length=200)
    role: str = Field(max_length=20)
    active: bool = True
    oidc_subject: str | None = Field(default=None, unique=True, max_length=300)  # issuer + " " + sub, once linked
    created_at: datetime = Field(default_factory=_now, sa_column=utc_column(False))


class StaffToken(SQLModel, table=True):
    """A sign-in link, a browser session or a personal API token; only the token's SHA-256 is kept."""

    __tablename__ = "staff_token"
    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(unique=True, max_length=64)
    kind: str = Field(max_length=10)
    staff_id: str = Field(foreign_key="staff_member.id", index=True, max_length=32)
    label: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=_now, sa_column=utc_column(False))
    expires_at: datetime | None = Field(default=None, sa_column=utc_column())
    used_at: datetime | None = Field(default=None, sa_column=utc_column())
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column())


class CoordinatorMessage(SQLModel, table=True):
    """A coordinator's message to a segment of an activity's people; the workflow sees only its id.

    `segment` is the segment's text code (`domain.segments`); the recipients are resolved when it is sent."""

    __tablename__ = "coordinator_message"
    id: int | None = Field(default=None, primary_key=True)
    activity_id: str = Field(foreign_key="activity.id", index=True)
    segment: str = Field(max_length=100)
    subject: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    staff_id: str = Field(max_length=32)  # who wrote it (opaque); not a foreign key: the audit log outlives staff
    created_at: datetime = Field(default_factory=_now, sa_column=utc_column(False))


# -- the year: action plans and costs (domain.action_plan, domain.costs; store: activities_impl/store/year.py) --------
class ActionPlanRecord(SQLModel, table=True):
    """A year's action plan as adopted (`domain.action_plan.ActionPlan`): its focus areas and lines are below."""

    __tablename__ = "action_plan"
    year: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    period: str = Field(max_length=20)  # "2020–2022"
    rate_ore: int  # öre per inhabitant
    carried_over: int  # kronor carried over from the year before (negative: a deficit)
    source_name: str = Field(default="", max_length=200)  # the imported file's name
    source_text: str = Field(sa_column=Column(Text, nullable=False))  # the plan as YAML (as imported, if YAML)
    imported_at: datetime = Field(default_factory=_now, sa_column=utc_column(False))


class ActionPlanAreaRecord(SQLModel, table=True):
    """A focus area (insatsområde) of a year's plan; `budget` (kronor) when the plan budgets the area as a whole."""

    __tablename__ = "action_plan_area"
    __table_args__ = (UniqueConstraint("year", "name"),)
    year: int = Field(primary_key=True, foreign_key="action_plan.year")
    position: int = Field(primary_key=True)
    name: str = Field(max_length=100)
    budget: int | None = None


class ActionPlanLineRecord(SQLModel, table=True):
    """A line of a year's plan, by its stable id: what, how, budget (kronor), participant fee (kronor per person)."""

    __tablename__ = "action_plan_line"
    __table_args__ = (
        ForeignKeyConstraint(
            ["year", "area_position"], ["action_plan_area.year", "action_plan_area.position"], name="fk_line_area"
        ),
    )
    year: int = Field(primary_key=True, foreign_key="action_plan.year")
    id: str = Field(primary_key=True, max_length=64)
    area: str = Field(max_length=100)  # the focus area's name
    area_position: int
    what: str = Field(max_length=200)
    how: str = Field(default="", max_length=300)
    budget: int
    fee: int | None = None
    position: int  # the line's place in the whole plan


class CostRecord(SQLModel, table=True):
    """A cost (utfall) of a year, on a line of its plan or on an activity; `batch` names the import it came with."""

    __tablename__ = "cost"
    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    line_id: str | None = Field(default=None, max_length=64)  # checked against the year's plan when written
    activity_id: str | None = Field(default=None, foreign_key="activity.id", index=True)
    amount_ore: int = Field(sa_column=Column(BigInteger, nullable=False))
    cost_date: date = Field(sa_column=Column(Date, nullable=False))
    category: str = Field(max_length=20)
    note: str = Field(default="", max_length=200)
    batch: str | None = Field(default=None, max_length=64, index=True)  # SHA-256 of the imported file
    created_at: datetime = Field(default_factory=_now, sa_column=utc_column(False))
