"""Survey invitations (one per person, an unguessable token) and answers stored without the person."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

# Migrating and seeding take a lock (this advisory lock on PostgreSQL, the write lock on SQLite): workers that start
# together take turns (the later ones find the schema at head and the reference data in place) instead of racing to
# create the same tables and rows.
from activities_impl.store.engine import StoreBase, StoreError, utcnow
from domain.tables import (
    Participant,
    SurveyAnswer,
    SurveyInvitation,
)


class Surveys(StoreBase):
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

    def survey_counts(self, activity_id: str) -> list[tuple[str, int, int, int]]:
        """Per survey of the activity: (survey, invited, answered, reminded); sessions first, then the final
        evaluation and the follow-up."""
        with self.session() as s:
            rows = s.exec(
                select(
                    SurveyInvitation.survey,
                    func.count(col(SurveyInvitation.id)),
                    func.count(col(SurveyInvitation.answered_at)),
                    func.count(col(SurveyInvitation.reminded_at)),
                )
                .where(SurveyInvitation.activity_id == activity_id)
                .group_by(col(SurveyInvitation.survey))
            )
            return sorted(((survey, i, a, r) for survey, i, a, r in rows), key=lambda row: _survey_order(row[0]))


def _survey_order(survey: str) -> tuple[int, int]:
    number = survey.removeprefix("s")
    if survey.startswith("s") and number.isdigit():
        return (0, int(number))
    return (1, 0) if survey == "final" else (2, 0)
