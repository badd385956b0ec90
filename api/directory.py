"""What the web and the coordinators' API read and write in the store, as the service layer offers it.

Pages never reach into the store: they ask the `Directory` (the store's side of the service layer) or the
`Service` (what goes through Temporal). Every call runs the store's synchronous work in a thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

from activities_impl.store import Store, StoreError
from domain.plan import ActivityPlan
from domain.tables import Activity, Organisation, Participant, Registration, Report, SurveyAnswer, SurveyInvitation


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
