"""The store: people, registrations, attendance, surveys, outbox, audit log, reports, messages, the year, by concern.

Synchronous SQLModel; activities call it through `asyncio.to_thread`. Every
write is idempotent (upserts keyed by business keys), so a retried activity
does not write twice; each method is one transaction (one business operation).
`Store` brings the concerns together over one engine.
"""

from __future__ import annotations

from activities_impl.store.attendance import AttendanceRecords
from activities_impl.store.audit import AuditLog
from activities_impl.store.engine import (
    SCHEMA_LOCK_KEY,
    ClaimHeld,
    StoreError,
    make_engine,
    utcnow,
)
from activities_impl.store.messages import CoordinatorMessages
from activities_impl.store.outbox import OutboxRows
from activities_impl.store.plans import Plans
from activities_impl.store.reference import References
from activities_impl.store.registrations import Registrations
from activities_impl.store.reports import Reports
from activities_impl.store.retention import Retention
from activities_impl.store.staff import StaffDirectory
from activities_impl.store.surveys import Surveys
from activities_impl.store.year import YearRecords
from domain.email_address import ANONYMISED_EMAIL

__all__ = ["ANONYMISED_EMAIL", "SCHEMA_LOCK_KEY", "ClaimHeld", "Store", "StoreError", "make_engine", "utcnow"]


class Store(
    References,
    Plans,
    Registrations,
    AttendanceRecords,
    Surveys,
    OutboxRows,
    AuditLog,
    Reports,
    Retention,
    StaffDirectory,
    CoordinatorMessages,
    YearRecords,
):
    """Every concern of the store over one engine (`Store(url)`)."""
