"""Who was present at each session."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import col, select

# Migrating and seeding take a lock (this advisory lock on PostgreSQL, the write lock on SQLite): workers that start
# together take turns (the later ones find the schema at head and the reference data in place) instead of racing to
# create the same tables and rows.
from activities_impl.store.engine import StoreBase
from domain.tables import (
    Attendance,
    Participant,
)


class AttendanceRecords(StoreBase):
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
