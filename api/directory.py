"""What the web and the coordinators' API read and write in the store, as the service layer offers it.

Pages never reach into the store: they ask the `Directory` (the store's side of the service layer) or the
`Service` (what goes through Temporal). Every call runs the store's synchronous work in a thread.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from activities_impl.store import Store, StoreError
from domain.plan import ActivityPlan
from domain.staff import TokenKind
from domain.tables import (
    Activity,
    Organisation,
    Participant,
    Registration,
    Report,
    StaffMember,
    SurveyAnswer,
    SurveyInvitation,
)


class Directory:
    def __init__(self, store: Store):
        self.store = store

    async def plan(self, activity_id: str) -> ActivityPlan | None:
        """The activity's current plan; None for an activity the store does not know."""
        try:
            return await asyncio.to_thread(self.store.plan, activity_id)
        except StoreError:
            return None

    async def activity(self, activity_id: str) -> Activity | None:
        return await asyncio.to_thread(self.store.activity, activity_id)

    async def activities(self) -> list[Activity]:
        return await asyncio.to_thread(self.store.activities)

    async def organisations(self) -> list[Organisation]:
        return await asyncio.to_thread(self.store.organisations)

    async def organisation_ids(self) -> set[str]:
        return await asyncio.to_thread(self.store.organisation_ids)

    async def registration(self, registration_id: str) -> tuple[Registration, Participant] | None:
        return await asyncio.to_thread(self.store.registration, registration_id)

    async def survey_invitation(self, token: str) -> SurveyInvitation | None:
        return await asyncio.to_thread(self.store.invitation_by_token, token)

    async def answer_survey(self, token: str, answers: dict[str, Any]) -> SurveyAnswer:
        """Stored without the person; `StoreError` (code unknown, answered, closed) when it cannot be taken."""
        return await asyncio.to_thread(self.store.answer_survey, token, answers)

    async def report(self, activity_id: str) -> Report | None:
        return await asyncio.to_thread(self.store.report, activity_id)

    async def participants(self, activity_id: str, status: str | None = None) -> list[dict[str, Any]]:
        """The coordinators' list of who registered (see `Store.participant_list`), optionally of one status."""
        rows = await asyncio.to_thread(self.store.participant_list, activity_id)
        return [row for row in rows if status is None or row["status"] == status]

    async def api_token_holder(self, raw: str) -> StaffMember | None:
        """The active staff member a personal API token stands for (its last use is noted); None for an unknown,
        revoked or expired token, or a member no longer active."""
        return await asyncio.to_thread(self.store.token_holder, raw, TokenKind.API, datetime.now(UTC))

    async def survey_counts(self, activity_id: str) -> list[dict[str, Any]]:
        """Per survey sent: how many were invited, have answered and were reminded."""
        rows = await asyncio.to_thread(self.store.survey_counts, activity_id)
        return [
            {"survey": survey, "invited": invited, "answered": answered, "reminded": reminded}
            for survey, invited, answered, reminded in rows
        ]
