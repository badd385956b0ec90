"""Anonymisation at the end of the retention period."""

from __future__ import annotations

import json

from sqlmodel import select

# Migrating and seeding take a lock (this advisory lock on PostgreSQL, the write lock on SQLite): workers that start
# together take turns (the later ones find the schema at head and the reference data in place) instead of racing to
# create the same tables and rows.
from activities_impl.store.engine import StoreBase
from domain.email_address import ANONYMISED_EMAIL
from domain.surveys import without_free_text
from domain.tables import (
    Activity,
    ActivityPlanVersion,
    CoordinatorMessage,
    OutboxMessage,
    Participant,
    SurveyAnswer,
    SurveyInvitation,
    TeamMember,
)


class Retention(StoreBase):
    def anonymise_activity(self, activity_id: str, keep_free_text: bool = False) -> int:
        """Erase names, e-mail addresses and schools of the activity, the coordinators' message texts (they may name
        people), and (unless kept) the free-text answers; counts per organisation, role and session and the scale
        answers stay, and of each message who sent it, when, its subject and its segment."""
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
            for written in s.exec(select(CoordinatorMessage).where(CoordinatorMessage.activity_id == activity_id)):
                written.body = ""
                s.add(written)
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
