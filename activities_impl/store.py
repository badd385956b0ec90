"""The store: people, registrations, attendance, surveys, outbox, audit log, reports.

Synchronous SQLModel; activities call it through `asyncio.to_thread`. Every
write is idempotent (upserts keyed by business keys), so a retried activity
does not write twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from alembic import command
from sqlalchemy import event, func, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session, col, create_engine, select

from domain.email_address import ANONYMISED_EMAIL
from domain.lifecycle import SeatStatus
from domain.plan import ActivityPlan
from domain.reference import ReferenceData
from domain.surveys import without_free_text
from domain.tables import (
    Activity,
    ActivityPlanVersion,
    ActivitySession,
    Attendance,
    AuditEntry,
    Contact,
    Organisation,
    OutboxMessage,
    Participant,
    Registration,
    Report,
    SurveyAnswer,
    SurveyInvitation,
    TeamMember,
)
from migrations import alembic_config

# Migrating and seeding take a lock (this advisory lock on PostgreSQL, the write lock on SQLite): workers that start
# together take turns (the later ones find the schema at head and the reference data in place) instead of racing to
# create the same tables and rows.
SCHEMA_LOCK_KEY = 0x72756E66  # "runf"


class ClaimHeld(Exception):
    """Another attempt holds a fresh claim on an outbox message."""


class StoreError(Exception):
    """A refusal by the store, with a reason for people and a `code` for programs."""

    def __init__(self, message: str, code: str = "refused"):
        super().__init__(message)
        self.code = code


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(  # pragma: no cover - wiring
            dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry
        ) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                # WAL is a property of the file: whoever gets there first switches it for everyone; an error means
                # another process holds the lock, switching it right now.
                with contextlib.suppress(sqlite3.OperationalError):
                    cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)  # errors never quote names or addresses


def _schema_lock(connection: Connection) -> None:
    """Make the transaction exclusive from its start, until it ends: PostgreSQL waits for the advisory lock
    SCHEMA_LOCK_KEY; SQLite for its write lock (`BEGIN IMMEDIATE`, within the busy timeout)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        dbapi_connection = connection.connection.dbapi_connection
        assert dbapi_connection is not None  # None only once invalidated; `connection` is checked out and in use
        if not dbapi_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


class Store:
    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)

    # -- schema and reference data --------------------------------------
    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        config = alembic_config(self.url)
        with self.engine.begin() as connection:
            _schema_lock(connection)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def seed_reference(self, reference: ReferenceData) -> None:
        with self.session() as s:
            _schema_lock(s.connection())
            for org in reference.organisations:
                row = s.get(Organisation, org.id) or Organisation(
                    id=org.id, name=org.name, short_name=org.short_name, kind=org.kind.value, region=org.region
                )
                s.add(row)
            s.flush()
            existing = {(c.organisation_id, c.email, c.target_group) for c in s.exec(select(Contact))}
            for c in reference.contacts:
                if (c.organisation, c.email, c.target_group) not in existing:
                    s.add(
                        Contact(organisation_id=c.organisation, target_group=c.target_group, name=c.name, email=c.email)
                    )

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    # -- reference -------------------------------------------------------
    def organisations(self) -> list[Organisation]:
        with self.session() as s:
            return list(s.exec(select(Organisation).order_by(col(Organisation.kind).desc(), col(Organisation.name))))

    def organisation_ids(self) -> set[str]:
        with self.session() as s:
            return set(s.exec(select(Organisation.id)))

    def contacts(self, organisation_ids: Iterable[str], target_groups: Iterable[str]) -> list[Contact]:
        orgs, groups = list(organisation_ids), list(target_groups)
        with self.session() as s:
            rows = s.exec(select(Contact).where(col(Contact.organisation_id).in_(orgs)).order_by(col(Contact.id)))
            return [c for c in rows if c.target_group is None or c.target_group in groups]

    # -- activities and plans -------------------------------------------
    def save_plan(self, plan: ActivityPlan, make_current: bool) -> int:
        """Store a plan as the activity's next version; returns the version number."""
        with self.session() as s:
            activity = s.get(Activity, plan.id)
            if activity is None:
                activity = Activity(
                    id=plan.id,
                    title=plan.title,
                    focus_area=plan.focus_area,
                    format=plan.format.value,
                    organiser_email=plan.organiser_email,
                )
                s.add(activity)
                s.flush()
            latest = (
                s.exec(
                    select(func.max(ActivityPlanVersion.version)).where(ActivityPlanVersion.activity_id == plan.id)
                ).one()
                or 0
            )
            version = latest + 1
            s.add(ActivityPlanVersion(activity_id=plan.id, version=version, plan_json=plan.model_dump_json()))
            if make_current:
                self._make_current(s, activity, plan, version)
            return version

    def make_current(self, activity_id: str, version: int) -> None:
        with self.session() as s:
            activity = s.get(Activity, activity_id)
            if activity is None:
                raise StoreError(f"unknown activity {activity_id!r}")
            if activity.current_version != version:
                self._make_current(s, activity, self._plan(s, activity_id, version), version)

    def _make_current(self, s: Session, activity: Activity, plan: ActivityPlan, version: int) -> None:
        activity.current_version = version
        activity.title = plan.title
        activity.focus_area = plan.focus_area
        activity.organiser_email = plan.organiser_email
        s.add(activity)
        for no, sp in enumerate(plan.sessions, start=1):
            s.add(
                ActivitySession(
                    activity_id=plan.id,
                    plan_version=version,
                    session_no=no,
                    start=sp.start,
                    end=sp.end,
                    location=sp.location.value,
                    room=sp.room,
                    link=sp.link,
                )
            )

    def activity(self, activity_id: str) -> Activity | None:
        with self.session() as s:
            return s.get(Activity, activity_id)

    def activities(self) -> list[Activity]:
        with self.session() as s:
            return list(s.exec(select(Activity).order_by(col(Activity.created_at))))

    def plan(self, activity_id: str, version: int | None = None) -> ActivityPlan:
        with self.session() as s:
            if version is None:
                activity = s.get(Activity, activity_id)
                if activity is None:
                    raise StoreError(f"unknown activity {activity_id!r}")
                version = activity.current_version
            return self._plan(s, activity_id, version)

    def _plan(self, s: Session, activity_id: str, version: int) -> ActivityPlan:
        row = s.exec(
            select(ActivityPlanVersion).where(
                ActivityPlanVersion.activity_id == activity_id, ActivityPlanVersion.version == version
            )
        ).first()
        if row is None:
            raise StoreError(f"no plan version {version} for activity {activity_id!r}")
        return ActivityPlan.model_validate_json(row.plan_json)

    # -- participants and registrations ---------------------------------
    def upsert_participant(
        self, activity_id: str, *, name: str, email: str, organisation_id: str, role: str, school: str | None = None
    ) -> int:
        email = email.strip().lower()
        with self.session() as s:
            if s.get(Activity, activity_id) is None:
                raise StoreError(f"unknown activity {activity_id!r}", "unknown_activity")
            if s.get(Organisation, organisation_id) is None:
                raise StoreError(f"unknown organisation {organisation_id!r}", "unknown_organisation")
            row = s.exec(
                select(Participant).where(Participant.activity_id == activity_id, Participant.email == email)
            ).first()
            if row is not None:  # details are kept as first given: a refused re-registration changes nothing
                assert row.id is not None  # a stored row has its primary key
                return row.id
            row = Participant(
                activity_id=activity_id,
                email=email,
                name=name,
                organisation_id=organisation_id,
                role=role,
                school=school,
            )
            s.add(row)
            s.flush()
            assert row.id is not None  # assigned by the flush
            return row.id

    def participant_by_email(self, activity_id: str, email: str) -> Participant | None:
        with self.session() as s:
            return s.exec(
                select(Participant).where(
                    Participant.activity_id == activity_id, Participant.email == email.strip().lower()
                )
            ).first()

    def participants(self, ids: Iterable[int]) -> list[Participant]:
        wanted = list(ids)
        with self.session() as s:
            rows = {p.id: p for p in s.exec(select(Participant).where(col(Participant.id).in_(wanted)))}
            return [rows[i] for i in wanted if i in rows]

    def discard_participant_if_unregistered(self, participant_id: int) -> None:
        """Undo `upsert_participant` (and its team) when the workflow refused the registration."""
        with self.session() as s:
            has_registration = s.exec(
                select(Registration.id).where(Registration.participant_id == participant_id)
            ).first()
            row = s.get(Participant, participant_id)
            if row is not None and has_registration is None:
                for member in s.exec(select(TeamMember).where(TeamMember.participant_id == participant_id)):
                    s.delete(member)
                s.flush()
                s.delete(row)

    def set_team_members(self, participant_id: int, names: list[str]) -> None:
        """The named members of the participant's team (replacing earlier ones)."""
        with self.session() as s:
            participant = s.get(Participant, participant_id)
            if participant is None:
                raise StoreError(f"unknown participant {participant_id}", "unknown_participant")
            for member in s.exec(select(TeamMember).where(TeamMember.participant_id == participant_id)):
                s.delete(member)
            for name in names:
                s.add(TeamMember(activity_id=participant.activity_id, participant_id=participant_id, name=name))

    def team_members(self, participant_id: int) -> list[str]:
        with self.session() as s:
            rows = s.exec(
                select(TeamMember).where(TeamMember.participant_id == participant_id).order_by(col(TeamMember.id))
            )
            return [m.name or "" for m in rows]

    def registration(self, registration_id: str) -> tuple[Registration, Participant] | None:
        with self.session() as s:
            row = s.exec(
                select(Registration, Participant)
                .join(Participant, col(Participant.id) == col(Registration.participant_id))
                .where(Registration.id == registration_id)
            ).first()
            return (row[0], row[1]) if row else None

    def record_registration(
        self, *, registration_id: str, activity_id: str, participant_id: int, status: str, team_size: int, seq: int
    ) -> None:
        with self.session() as s:
            row = s.get(Registration, registration_id)
            if row is None:
                s.add(
                    Registration(
                        id=registration_id,
                        activity_id=activity_id,
                        participant_id=participant_id,
                        status=status,
                        team_size=team_size,
                        seq=seq,
                    )
                )

    def set_registration_status(self, registration_ids: Iterable[str], status: SeatStatus) -> None:
        with self.session() as s:
            for rid in registration_ids:
                row = s.get(Registration, rid)
                if row is not None and row.status != status.value:
                    row.status, row.updated_at = status.value, utcnow()
                    s.add(row)

    def registrations(
        self, activity_id: str, statuses: Iterable[SeatStatus] | None = None, ids: Iterable[str] | None = None
    ) -> list[tuple[Registration, Participant]]:
        with self.session() as s:
            query = (
                select(Registration, Participant)
                .join(Participant, col(Participant.id) == col(Registration.participant_id))
                .where(Registration.activity_id == activity_id)
                .order_by(col(Registration.seq))
            )
            if statuses is not None:
                query = query.where(col(Registration.status).in_([st.value for st in statuses]))
            if ids is not None:
                query = query.where(col(Registration.id).in_(list(ids)))
            return list(s.exec(query))

    # -- attendance ------------------------------------------------------
    def record_attendance(self, activity_id: str, session_no: int, present: Iterable[int]) -> int:
        with self.session() as s:
            seen = set(
                s.exec(
                    select(Attendance.participant_id).where(
                        Attendance.activity_id == activity_id, Attendance.session_no == session_no
                    )
                )
            )
            added = 0
            for participant in s.exec(select(Participant).where(col(Participant.id).in_(list(present)))):
                assert participant.id is not None  # a stored row has its primary key
                if participant.id not in seen and participant.activity_id == activity_id:
                    s.add(
                        Attendance(
                            activity_id=activity_id,
                            session_no=session_no,
                            participant_id=participant.id,
                            organisation_id=participant.organisation_id,
                            role=participant.role,
                        )
                    )
                    added += 1
            return added

    def attendance(self, activity_id: str) -> list[Attendance]:
        with self.session() as s:
            return list(s.exec(select(Attendance).where(Attendance.activity_id == activity_id)))

    # -- surveys ---------------------------------------------------------
    def create_survey_invitations(
        self, activity_id: str, survey: str, participant_ids: Iterable[int], sent_at: datetime, closes_at: datetime
    ) -> list[SurveyInvitation]:
        """One invitation (with an unguessable token) per participant; existing ones are returned as they are."""
        with self.session() as s:
            existing = {
                i.participant_id: i
                for i in s.exec(
                    select(SurveyInvitation).where(
                        SurveyInvitation.activity_id == activity_id, SurveyInvitation.survey == survey
                    )
                )
            }
            out = []
            for pid in participant_ids:
                invitation = existing.get(pid)
                if invitation is None:
                    invitation = SurveyInvitation(
                        activity_id=activity_id,
                        survey=survey,
                        participant_id=pid,
                        token=secrets.token_urlsafe(24),
                        sent_at=sent_at,
                        closes_at=closes_at,
                    )
                    s.add(invitation)
                out.append(invitation)
            s.flush()
            return out

    def survey_invitations(self, activity_id: str, survey: str, *, unanswered: bool = False) -> list[SurveyInvitation]:
        with self.session() as s:
            query = (
                select(SurveyInvitation)
                .where(SurveyInvitation.activity_id == activity_id, SurveyInvitation.survey == survey)
                .order_by(col(SurveyInvitation.id))
            )
            if unanswered:
                query = query.where(col(SurveyInvitation.answered_at).is_(None))
            return list(s.exec(query))

    def mark_reminded(self, invitation_ids: Iterable[int], at: datetime) -> None:
        with self.session() as s:
            for row in s.exec(select(SurveyInvitation).where(col(SurveyInvitation.id).in_(list(invitation_ids)))):
                if row.reminded_at is None:
                    row.reminded_at = at
                    s.add(row)

    def close_survey(self, activity_id: str, survey: str) -> None:
        with self.session() as s:
            for row in s.exec(
                select(SurveyInvitation).where(
                    SurveyInvitation.activity_id == activity_id, SurveyInvitation.survey == survey
                )
            ):
                row.closed = True
                s.add(row)

    def invitation_by_token(self, token: str) -> SurveyInvitation | None:
        with self.session() as s:
            return s.exec(select(SurveyInvitation).where(SurveyInvitation.token == token)).first()

    def answer_survey(self, token: str, answers: dict[str, Any], now: datetime | None = None) -> SurveyAnswer:
        """Store an answer for a token: once, before the survey closes; the answer is not linked to the person."""
        now = now or utcnow()
        with self.session() as s:
            invitation = s.exec(
                select(SurveyInvitation).where(SurveyInvitation.token == token).with_for_update()
            ).first()
            if invitation is None:
                raise StoreError("okänd eller ogiltig enkätlänk", "unknown")
            if invitation.answered_at is not None:
                raise StoreError("enkäten är redan besvarad, tack!", "answered")
            if invitation.closed or now >= invitation.closes_at:
                raise StoreError("enkäten är stängd", "closed")
            participant = s.get(Participant, invitation.participant_id) if invitation.participant_id else None
            # Both times to the day only: equal to the microsecond, they would tie the answer to its person.
            day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            invitation.answered_at = day
            s.add(invitation)
            answer = SurveyAnswer(
                activity_id=invitation.activity_id,
                survey=invitation.survey,
                organisation_id=participant.organisation_id if participant else "okänd",
                role=participant.role if participant else "okänd",
                answers_json=json.dumps(answers, ensure_ascii=False),
                created_at=day,
            )
            s.add(answer)
            return answer

    def survey_answers(self, activity_id: str) -> list[SurveyAnswer]:
        with self.session() as s:
            return list(
                s.exec(
                    select(SurveyAnswer).where(SurveyAnswer.activity_id == activity_id).order_by(col(SurveyAnswer.id))
                )
            )

    # -- outbox ----------------------------------------------------------
    def enqueue(self, messages: Iterable[OutboxMessage]) -> list[str]:
        """Add messages whose key is new; returns every given key (new or already there)."""
        keys = []
        with self.session() as s:
            for message in messages:
                keys.append(message.key)
                if s.exec(select(OutboxMessage.id).where(OutboxMessage.key == message.key)).first() is None:
                    s.add(message)
        return keys

    def claim(self, key: str, now: datetime, lease_seconds: float = 60) -> OutboxMessage | None:
        """Mark one message as being sent; None when it was sent already.

        Raises `ClaimHeld` while another attempt's claim is younger than the lease: that attempt may still be
        sending (or died mid-send); the caller retries later and takes the message over once the lease ends.
        """
        with self.session() as s:
            row = s.exec(select(OutboxMessage).where(OutboxMessage.key == key).with_for_update()).first()
            if row is None or row.status in ("sent", "failed"):  # failed: undeliverable, never retried
                return None
            if row.status == "sending" and row.claimed_at and (now - row.claimed_at).total_seconds() < lease_seconds:
                raise ClaimHeld(
                    f"an e-mail (key {hashlib.sha256(key.encode()).hexdigest()[:16]}) is being sent "
                    f"by another attempt; retrying after its lease of {lease_seconds:.0f} s"
                )
            row.status, row.claimed_at, row.attempts = "sending", now, row.attempts + 1
            s.add(row)
            return row

    def mark_sent(self, key: str, now: datetime) -> None:
        with self.session() as s:
            row = s.exec(select(OutboxMessage).where(OutboxMessage.key == key)).one()
            row.status, row.sent_at = "sent", now
            s.add(row)

    def calendars_sent(self, activity_id: str, recipients: Iterable[str]) -> dict[str, int]:
        """How many e-mails with a calendar file each recipient already has in the activity's outbox."""
        wanted = list(dict.fromkeys(recipients))
        if not wanted:
            return {}
        with self.session() as s:
            rows = s.exec(
                select(OutboxMessage.recipient, func.count(col(OutboxMessage.id)))
                .where(
                    OutboxMessage.activity_id == activity_id,
                    col(OutboxMessage.recipient).in_(wanted),
                    col(OutboxMessage.attachments_json).contains('"text/calendar'),
                )
                .group_by(OutboxMessage.recipient)
            )
            # `IN` never matches NULL: every recipient here is one of `wanted`
            return {recipient: count for recipient, count in rows if recipient is not None}

    def mark_failed(self, key: str, reason: str, now: datetime) -> None:
        """The message can never be delivered: mark it failed with the reason, and write the audit entry, at once."""
        with self.session() as s:
            row = s.exec(select(OutboxMessage).where(OutboxMessage.key == key)).one()
            row.status, row.error, row.claimed_at = "failed", reason[:500], None
            s.add(row)
            audit_key = f"{row.activity_id}|undeliverable|{hashlib.sha256(key.encode()).hexdigest()[:16]}"
            if s.exec(select(AuditEntry.id).where(AuditEntry.key == audit_key)).first() is None:
                s.add(
                    AuditEntry(
                        key=audit_key,
                        activity_id=row.activity_id,
                        at=now,
                        kind="undeliverable",
                        # the code only: the server's words are erased with the address at anonymisation
                        by="engine",
                        reason=f"{row.purpose} e-mail not delivered: {reason.partition(': ')[0]}",
                        details_json=json.dumps({"purpose": row.purpose, "outbox_id": row.id}),
                    )
                )

    def failed_messages(self, keys: Iterable[str]) -> list[OutboxMessage]:
        """Those of `keys` that are undeliverable (status failed), in the order they were queued."""
        wanted = list(keys)
        with self.session() as s:
            return list(
                s.exec(
                    select(OutboxMessage)
                    .where(col(OutboxMessage.key).in_(wanted), OutboxMessage.status == "failed")
                    .order_by(col(OutboxMessage.id))
                )
            )

    def undeliverable_addresses(self, activity_id: str, codes: Iterable[str]) -> frozenset[str]:
        """The activity's recipients that a message failed to for one of the reason `codes` (the address itself)."""
        with self.session() as s:
            rows = s.exec(
                select(OutboxMessage.recipient, OutboxMessage.error).where(
                    OutboxMessage.activity_id == activity_id, OutboxMessage.status == "failed"
                )
            )
            wanted = set(codes)
            return frozenset(r for r, error in rows if r and (error or "").partition(":")[0] in wanted)

    def undeliverable(self, activity_id: str) -> list[OutboxMessage]:
        """The activity's e-mails that could not be delivered, oldest first."""
        with self.session() as s:
            return list(
                s.exec(
                    select(OutboxMessage)
                    .where(OutboxMessage.activity_id == activity_id, OutboxMessage.status == "failed")
                    .order_by(col(OutboxMessage.id))
                )
            )

    def release(self, key: str) -> None:
        with self.session() as s:
            row = s.exec(select(OutboxMessage).where(OutboxMessage.key == key)).one()
            if row.status == "sending":
                row.status, row.claimed_at = "pending", None
                s.add(row)

    def outbox(self, activity_id: str | None = None) -> list[OutboxMessage]:
        with self.session() as s:
            query = select(OutboxMessage).order_by(col(OutboxMessage.id))
            if activity_id is not None:
                query = query.where(OutboxMessage.activity_id == activity_id)
            return list(s.exec(query))

    # -- audit -----------------------------------------------------------
    def audit(
        self,
        *,
        key: str,
        activity_id: str,
        at: datetime,
        kind: str,
        by: str,
        reason: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        with self.session() as s:
            if s.exec(select(AuditEntry.id).where(AuditEntry.key == key)).first() is None:
                s.add(
                    AuditEntry(
                        key=key,
                        activity_id=activity_id,
                        at=at,
                        kind=kind,
                        by=by,
                        reason=reason,
                        details_json=json.dumps(details or {}),
                    )
                )

    def audit_log(self, activity_id: str) -> list[AuditEntry]:
        with self.session() as s:
            return list(
                s.exec(
                    select(AuditEntry)
                    .where(AuditEntry.activity_id == activity_id)
                    .order_by(col(AuditEntry.at), col(AuditEntry.id))
                )
            )

    # -- reports ---------------------------------------------------------
    def save_report(self, report: Report) -> Report:
        with self.session() as s:
            row = s.exec(select(Report).where(Report.activity_id == report.activity_id)).first()
            if row is None:
                s.add(report)
                row = report
            return row

    def report(self, activity_id: str) -> Report | None:
        with self.session() as s:
            return s.exec(select(Report).where(Report.activity_id == activity_id)).first()

    # -- retention -------------------------------------------------------
    def anonymise_activity(self, activity_id: str, keep_free_text: bool = False) -> int:
        """Erase names, e-mail addresses and schools of the activity, and (unless kept) the free-text answers;
        counts per organisation, role and session and the scale answers stay."""
        with self.session() as s:
            if not keep_free_text:
                for answer in s.exec(select(SurveyAnswer).where(SurveyAnswer.activity_id == activity_id)):
                    answer.answers_json = json.dumps(
                        without_free_text(json.loads(answer.answers_json)), ensure_ascii=False
                    )
                    s.add(answer)
            people = list(s.exec(select(Participant).where(Participant.activity_id == activity_id)))
            for p in people:
                p.name, p.email, p.school, p.anonymised = None, None, None, True
                s.add(p)
            for member in s.exec(select(TeamMember).where(TeamMember.activity_id == activity_id)):
                member.name = None
                s.add(member)
            for invitation in s.exec(select(SurveyInvitation).where(SurveyInvitation.activity_id == activity_id)):
                invitation.participant_id = None
                s.add(invitation)
            for message in s.exec(select(OutboxMessage).where(OutboxMessage.activity_id == activity_id)):
                message.recipient, message.body, message.attachments_json = None, "", "[]"
                message.error = None if message.error is None else "erased"
                s.add(message)
            activity = s.get(Activity, activity_id)
            if activity is not None:
                activity.organiser_email = None
                s.add(activity)
            for version in s.exec(select(ActivityPlanVersion).where(ActivityPlanVersion.activity_id == activity_id)):
                plan = json.loads(version.plan_json)
                plan["organiser_email"] = ANONYMISED_EMAIL
                version.plan_json = json.dumps(plan, ensure_ascii=False)
                s.add(version)
            return len(people)
