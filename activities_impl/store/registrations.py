"""People, teams and their registrations (what the workflow decided)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

# Migrating and seeding take a lock (this advisory lock on PostgreSQL, the write lock on SQLite): workers that start
# together take turns (the later ones find the schema at head and the reference data in place) instead of racing to
# create the same tables and rows.
from activities_impl.store.engine import StoreBase, StoreError, utcnow
from domain.commands import RegistrationChange, SeatChange
from domain.lifecycle import SeatStatus
from domain.tables import (
    Activity,
    Organisation,
    Participant,
    Registration,
    TeamMember,
)


def _insert_if_new(s: Session, values: dict[str, Any]) -> Any:
    """`INSERT … ON CONFLICT (activity_id, email) DO NOTHING RETURNING id` for the store's dialect."""
    # The dialect's own module, imported here: the one the engine uses is loaded already, the other is not needed.
    name = s.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects import postgresql as dialect
    elif name == "sqlite":
        from sqlalchemy.dialects import sqlite as dialect  # type: ignore[no-redef]
    else:  # pragma: no cover - the store runs on these two
        raise NotImplementedError(f"the store does not run on {name}")
    return (
        dialect.insert(Participant)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["activity_id", "email"])
        .returning(col(Participant.id))
    )


class Registrations(StoreBase):
    def upsert_participant(
        self, activity_id: str, *, name: str, email: str, organisation_id: str, role: str, school: str | None = None
    ) -> int:
        """The person's id: stored now, or as first given (a refused re-registration changes nothing)."""
        return self.enrol_participant(
            activity_id, name=name, email=email, organisation_id=organisation_id, role=role, school=school
        )[0]

    def enrol_participant(
        self,
        activity_id: str,
        *,
        name: str,
        email: str,
        organisation_id: str,
        role: str,
        school: str | None = None,
        team_members: list[str] | None = None,
    ) -> tuple[int, bool]:
        """The person registering, in one transaction: (participant id, whether they were stored already).

        Idempotent by (activity, e-mail): a person already stored keeps the details first given (their team
        members too: the caller replaces them once the workflow has given the seat); a new person is stored with
        their team members. Two requests racing for the same new address get the same row."""
        email = email.strip().lower()
        values = {
            "activity_id": activity_id,
            "email": email,
            "name": name,
            "organisation_id": organisation_id,
            "role": role,
            "school": school,
            "anonymised": False,
            "created_at": utcnow(),
        }
        try:
            with self.session() as s:
                # One statement for a new person (the usual case): the row, or nothing when the address is stored
                # already (a unique constraint, so two requests racing for it get the same row). On SQLite the
                # statement takes the store's one write lock: the fewer statements the web runs under it, the less
                # the worker's writes and the other registrations wait.
                new_id = s.execute(_insert_if_new(s, values)).scalar()
                if new_id is None:
                    found = self._participant_id(s, activity_id, email)
                    if found is None:  # the row it met went meanwhile (erased, its address with it): ask again
                        raise StoreError("the registration met a change to the same person; try again", "conflict")
                    return found, True
                for member in team_members or []:
                    s.add(TeamMember(activity_id=activity_id, participant_id=new_id, name=member))
                return new_id, False
        except IntegrityError:  # a foreign key: no such activity or organisation (told apart here, on the rare path)
            with self.session() as s:
                if s.get(Activity, activity_id) is None:
                    raise StoreError(f"unknown activity {activity_id!r}", "unknown_activity") from None
                if s.get(Organisation, organisation_id) is None:
                    raise StoreError(f"unknown organisation {organisation_id!r}", "unknown_organisation") from None
            raise

    @staticmethod
    def _participant_id(s: Session, activity_id: str, email: str) -> int | None:
        return s.exec(
            select(Participant.id).where(Participant.activity_id == activity_id, Participant.email == email)
        ).first()

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
            self._set_status(s, registration_ids, status)

    def record_withdrawal(self, registration_id: str, promoted: Iterable[str]) -> None:
        """A withdrawal and the promotions it made, in one transaction: never one without the other."""
        with self.session() as s:
            self._set_status(s, [registration_id], SeatStatus.WITHDRAWN)
            self._set_status(s, promoted, SeatStatus.CONFIRMED)

    def record_seat_changes(self, activity_id: str, changes: Sequence[SeatChange]) -> list[str]:
        """Registrations and withdrawals as the workflow took them, in that order, in one transaction.

        Idempotent: a registration is written once (a row already there is kept, as `record_registration`), a
        withdrawal sets the same statuses again. Returns the ids of registrations that can never be written (their
        participant is not this activity's); the others are written."""
        wanted = [c.participant_id for c in changes if isinstance(c, RegistrationChange)]
        ids = [c.registration_id for c in changes] + [
            p for c in changes if not isinstance(c, RegistrationChange) for p in c.promoted
        ]
        missing: list[str] = []
        with self.session() as s:
            known = set(
                s.exec(
                    select(Participant.id).where(
                        col(Participant.id).in_(wanted), Participant.activity_id == activity_id
                    )
                )
            )
            rows = {r.id: r for r in s.exec(select(Registration).where(col(Registration.id).in_(ids)))}
            for change in changes:
                if isinstance(change, RegistrationChange):
                    if change.registration_id in rows:
                        continue
                    if change.participant_id not in known:
                        missing.append(change.registration_id)
                        continue
                    row = Registration(
                        id=change.registration_id,
                        activity_id=activity_id,
                        participant_id=change.participant_id,
                        status=change.status.value,
                        team_size=change.team_size,
                        seq=change.seq,
                    )
                    s.add(row)
                    rows[row.id] = row
                else:
                    self._set_rows(s, rows, [change.registration_id], SeatStatus.WITHDRAWN)
                    self._set_rows(s, rows, change.promoted, SeatStatus.CONFIRMED)
        return missing

    @staticmethod
    def _set_rows(
        s: Session, rows: dict[str, Registration], registration_ids: Iterable[str], status: SeatStatus
    ) -> None:
        for rid in registration_ids:
            row = rows.get(rid)
            if row is not None and row.status != status.value:
                row.status, row.updated_at = status.value, utcnow()
                s.add(row)

    @staticmethod
    def _set_status(s: Session, registration_ids: Iterable[str], status: SeatStatus) -> None:
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

    def participant_list(self, activity_id: str) -> list[dict[str, Any]]:
        """Every registration of the activity with its person, in registration order: the coordinators' list.

        Waiting-list positions follow the order of registration among those waiting (as the workflow's book
        keeps them). Names, e-mail addresses, schools and team members are None once anonymised."""
        with self.session() as s:
            rows = list(
                s.exec(
                    select(Registration, Participant, Organisation)
                    .join(Participant, col(Participant.id) == col(Registration.participant_id))
                    .join(Organisation, col(Organisation.id) == col(Participant.organisation_id))
                    .where(Registration.activity_id == activity_id)
                    .order_by(col(Registration.seq))
                )
            )
            members: dict[int, list[str]] = {}
            for member in s.exec(
                select(TeamMember).where(TeamMember.activity_id == activity_id).order_by(col(TeamMember.id))
            ):
                if member.name:
                    members.setdefault(member.participant_id, []).append(member.name)
        out, position = [], 0
        for registration, person, organisation in rows:
            waiting = registration.status == SeatStatus.WAITLISTED.value
            position += waiting
            out.append(
                {
                    "registration_id": registration.id,
                    "participant_id": person.id,
                    "status": registration.status,
                    "waitlist_position": position if waiting else None,
                    "team_size": registration.team_size,
                    "name": person.name,
                    "email": person.email,
                    "organisation_id": organisation.id,
                    "organisation": organisation.name,
                    "role": person.role,
                    "school": person.school,
                    "team_members": members.get(person.id or 0, []),
                    "registered_at": registration.created_at,
                }
            )
        return out
