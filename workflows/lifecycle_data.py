"""Plain data of the lifecycle workflow, defined once per worker process.

Temporal's sandbox runs the workflow's module afresh for every workflow run it keeps, and a dataclass defined there
is made again each time (its methods generated from source and compiled: ~9 KiB per class per open activity,
BENCHMARKS.md). This module is imported passed through the sandbox instead, like `domain`: its classes and tables
exist once. Nothing here is state: the values are frozen, and a run's own queue holds instances, not the class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType

from activities_impl.lifecycle_activities import LifecycleActivities
from domain.commands import SeatChange


@dataclass(frozen=True)
class Timeouts:
    start_to_close: timedelta
    heartbeat: timedelta | None = None


# One row in the store and at most one e-mail: longer than the SMTP timeout, short enough that a step whose worker
# died is retried soon. Mailing many people: long, with heartbeats; BULK_MAIL's minute is for the runs that started
# before the patch `mailings-heartbeat-15-seconds` (which then heartbeat only after each message).
ONE_ROW = Timeouts(start_to_close=timedelta(seconds=45))
BULK_MAIL = Timeouts(start_to_close=timedelta(minutes=30), heartbeat=timedelta(minutes=1))
# Since the patch `mailings-heartbeat-15-seconds`: mailings heartbeat every few seconds while they run (not only
# after each message), so a worker killed under one is noticed in 15 s and the rest goes out from another.
MAILING = Timeouts(start_to_close=timedelta(minutes=30), heartbeat=timedelta(seconds=15))
# Seat changes already answered: rows and confirmations for up to SEAT_CHANGES_PER_BATCH of them. The activity
# heartbeats while it runs, so a worker killed under it is noticed within 15 s, not after the whole timeout.
SEAT_CHANGES = Timeouts(start_to_close=timedelta(minutes=10), heartbeat=timedelta(seconds=15))
ACTIVITY_TIMEOUTS: Mapping[str, Timeouts] = MappingProxyType(
    {  # by activity; every other one is ONE_ROW
        LifecycleActivities.record_seat_changes.__name__: SEAT_CHANGES,
        LifecycleActivities.send_invitation.__name__: BULK_MAIL,
        LifecycleActivities.send_deadline_reminder.__name__: BULK_MAIL,
        LifecycleActivities.announce.__name__: BULK_MAIL,
        LifecycleActivities.send_session_reminder.__name__: BULK_MAIL,
        LifecycleActivities.send_survey.__name__: BULK_MAIL,
        LifecycleActivities.remind_survey.__name__: BULK_MAIL,
        LifecycleActivities.send_coordinator_message.__name__: BULK_MAIL,
    }
)  # read-only: one table for every run


@dataclass(frozen=True)
class Unrecorded:
    """A registration or withdrawal answered and not yet in the store, with the plan version it was taken under."""

    plan_version: int
    change: SeatChange
