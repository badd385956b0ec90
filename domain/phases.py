"""Phases of an activity's lifecycle (DESIGN.md §4)."""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    PLANNED = "planned"
    OPEN = "open"
    DECIDING = "deciding"
    CONFIRMED = "confirmed"
    RUNNING = "running"
    EVALUATING = "evaluating"
    FOLLOW_UP = "follow_up"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ANONYMISED = "anonymised"

    @property
    def takes_registrations(self) -> bool:
        return self is Phase.OPEN

    @property
    def before_start(self) -> bool:
        return self in (Phase.PLANNED, Phase.OPEN, Phase.DECIDING, Phase.CONFIRMED)

    @property
    def ended(self) -> bool:
        return self in (Phase.COMPLETED, Phase.CANCELLED, Phase.ANONYMISED)
