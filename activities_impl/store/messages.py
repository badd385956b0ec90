"""Coordinators' messages to a segment of an activity's people, and who is in a segment right now."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from activities_impl.store.engine import StoreBase, StoreError, utcnow
from domain.lifecycle import SeatStatus
from domain.segments import Segment, SegmentKind
from domain.tables import Activity, Attendance, CoordinatorMessage, Participant, Registration, SurveyInvitation


class CoordinatorMessages(StoreBase):
    def save_message(
        self,
        *,
        activity_id: str,
        segment: str,
        subject: str,
        body: str,
        staff_id: str,
        created_at: datetime | None = None,
    ) -> int:
        """Keep a message (checked by the service first); its id, which is all the workflow gets."""
        with self.session() as s:
            if s.get(Activity, activity_id) is None:
                raise StoreError(f"unknown activity {activity_id!r}", "unknown_activity")
            row = CoordinatorMessage(
                activity_id=activity_id,
                segment=segment,
                subject=subject,
                body=body,
                staff_id=staff_id,
                created_at=created_at or utcnow(),
            )
            s.add(row)
            s.flush()
            assert row.id is not None  # assigned by the flush
            return row.id

    def message(self, message_id: int) -> CoordinatorMessage | None:
        with self.session() as s:
            return s.get(CoordinatorMessage, message_id)

    def messages(self, activity_id: str) -> list[CoordinatorMessage]:
        """The activity's messages, oldest first."""
        with self.session() as s:
            return list(
                s.exec(
                    select(CoordinatorMessage)
                    .where(CoordinatorMessage.activity_id == activity_id)
                    .order_by(col(CoordinatorMessage.id))
                )
            )

    def discard_message(self, message_id: int) -> None:
        """Forget a message the workflow refused to send (nothing of it went out)."""
        with self.session() as s:
            row = s.get(CoordinatorMessage, message_id)
            if row is not None:
                s.delete(row)

    def segment_recipients(self, activity_id: str, segment: Segment) -> list[Participant]:
        """Who is in the segment right now, with an e-mail address (not erased), in order of their participant id.

        - confirmed / waitlisted: the registration's status now;
        - present at session N: marked present;
        - absent from session N: confirmed and not marked present, once attendance of session N has been recorded
          (before that nobody counts as absent);
        - not yet answered survey X: invited to it and no answer yet.
        """
        with self.session() as s:
            ids = self._segment_ids(s, activity_id, segment)
            if not ids:
                return []
            return list(
                s.exec(
                    select(Participant)
                    .where(
                        col(Participant.id).in_(ids),
                        Participant.activity_id == activity_id,
                        col(Participant.email).is_not(None),
                    )
                    .order_by(col(Participant.id))
                )
            )

    @staticmethod
    def _segment_ids(s: Session, activity_id: str, segment: Segment) -> set[int]:
        def registered(status: SeatStatus) -> set[int]:
            return set(
                s.exec(
                    select(Registration.participant_id).where(
                        Registration.activity_id == activity_id, Registration.status == status.value
                    )
                )
            )

        def present(session_no: int) -> set[int]:
            return set(
                s.exec(
                    select(Attendance.participant_id).where(
                        Attendance.activity_id == activity_id,
                        Attendance.session_no == session_no,
                        col(Attendance.present).is_(True),
                    )
                )
            )

        if segment.kind is SegmentKind.CONFIRMED:
            return registered(SeatStatus.CONFIRMED)
        if segment.kind is SegmentKind.WAITLISTED:
            return registered(SeatStatus.WAITLISTED)
        if segment.kind is SegmentKind.PRESENT:
            assert segment.session_no is not None
            return present(segment.session_no)
        if segment.kind is SegmentKind.ABSENT:
            assert segment.session_no is not None
            attended = present(segment.session_no)
            return registered(SeatStatus.CONFIRMED) - attended if attended else set()
        assert segment.kind is SegmentKind.UNANSWERED and segment.survey is not None
        return {
            pid
            for pid in s.exec(
                select(SurveyInvitation.participant_id).where(
                    SurveyInvitation.activity_id == activity_id,
                    SurveyInvitation.survey == segment.survey,
                    col(SurveyInvitation.answered_at).is_(None),
                )
            )
            if pid is not None
        }
