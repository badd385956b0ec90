"""Every decision and every undeliverable e-mail, keyed so a retry writes once."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import col, select

# Migrating and seeding take a lock (this advisory lock on PostgreSQL, the write lock on SQLite): workers that start
# together take turns (the later ones find the schema at head and the reference data in place) instead of racing to
# create the same tables and rows.
from activities_impl.store.engine import StoreBase
from domain.tables import (
    AuditEntry,
)


class AuditLog(StoreBase):
    def audit(
        self,
        *,
        key: str,
        activity_id: str,
        at: datetime,
        kind: str,
        by: str,
        reason: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        with self.session() as s:
            if s.exec(select(AuditEntry.id).where(AuditEntry.key == key)).first() is None:
                s.add(
                    AuditEntry(
                        key=key,
                        activity_id=activity_id,
                        at=at,
                        kind=kind,
                        by=by,
                        reason=reason,
                        details_json=json.dumps(details or {}),
                    )
                )

    def audit_log(self, activity_id: str) -> list[AuditEntry]:
        with self.session() as s:
            return list(
                s.exec(
                    select(AuditEntry)
                    .where(AuditEntry.activity_id == activity_id)
                    .order_by(col(AuditEntry.at), col(AuditEntry.id))
                )
            )
