"""The workflow's whole state: what continue-as-new carries to the next run."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.commands import SurveyCount
from domain.lifecycle import Decision, LifecyclePlan
from domain.phases import Phase
from domain.seats import SeatBook


class LifecycleState(BaseModel):
    plan: LifecyclePlan
    phase: Phase = Phase.PLANNED
    book: SeatBook
    done: dict[str, datetime] = {}
    attendance: dict[int, list[int]] = {}
    surveys: dict[str, SurveyCount] = {}
    decisions: list[Decision] = []
    grace_until: datetime | None = None
    ended_at: datetime | None = None
    run_number: int = 1

    @classmethod
    def start(cls, plan: LifecyclePlan) -> LifecycleState:
        return cls(plan=plan, book=SeatBook(capacity=plan.places))


class LifecycleInput(BaseModel):
    """Start with `plan`; continue-as-new passes `state`. `continue_as_new_after_events` lowers the threshold
    (tests)."""

    plan: LifecyclePlan | None = None
    state: LifecycleState | None = None
    continue_as_new_after_events: int | None = None
