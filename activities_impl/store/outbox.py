"""The outbox's rows: queued, claimed, sent or failed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select

# Migrating and seeding take a lock (this advisory lock on PostgreSQL, the write lock on SQLite): workers that start
# together take turns (the later ones find the schema at head and the reference data in place) instead of racing to
# create the same tables and rows.
from activities_impl.store.engine import ClaimHeld, StoreBase
from domain.tables import (
    AuditEntry,
    OutboxMessage,
)


class OutboxRows(StoreBase):
    def enqueue(self, messages: Iterable[OutboxMessage]) -> list[str]:
        """Add messages whose key is new; returns every given key (new or already there)."""
        keys = []
        with self.session() as s:
            for message in messages:
                keys.append(message.key)
                if s.exec(select(OutboxMessage.id).where(OutboxMessage.key == message.key)).first() is None:
                    s.add(message)
        return keys

    def claim(self, key: str, now: datetime, lease_seconds: float = 60) -> OutboxMessage | None:
        """Mark one message as being sent; None when it was sent already.

        Raises `ClaimHeld` while another attempt's claim is younger than the lease: that attempt may still be
        sending (or died mid-send); the caller retries later and takes the message over once the lease ends.
        """
        with self.session() as s:
            row = s.exec(select(OutboxMessage).where(OutboxMessage.key == key).with_for_update()).first()
            if row is None or row.status in ("sent", "failed"):  # failed: undeliverable, never retried
                return None
            if row.status == "sending" and row.claimed_at and (now - row.claimed_at).total_seconds() < lease_seconds:
                raise ClaimHeld(
                    f"an e-mail (key {hashlib.sha256(key.encode()).hexdigest()[:16]}) is being sent "
                    f"by another attempt; retrying after its lease of {lease_seconds:.0f} s"
                )
            row.status, row.claimed_at, row.attempts = "sending", now, row.attempts + 1
            s.add(row)
            return row

    def mark_sent(self, key: str, now: datetime) -> None:
        with self.session() as s:
            row = s.exec(select(OutboxMessage).where(OutboxMessage.key == key)).one()
            row.status, row.sent_at = "sent", now
            s.add(row)

    def calendars_sent(self, activity_id: str, recipients: Iterable[str]) -> dict[str, int]:
        """How many e-mails with a calendar file each recipient already has in the activity's outbox."""
        wanted = list(dict.fromkeys(recipients))
        if not wanted:
            return {}
        with self.session() as s:
            rows = s.exec(
                select(OutboxMessage.recipient, func.count(col(OutboxMessage.id)))
                .where(
                    OutboxMessage.activity_id == activity_id,
                    col(OutboxMessage.recipient).in_(wanted),
                    col(OutboxMessage.attachments_json).contains('"text/calendar'),
                )
                .group_by(OutboxMessage.recipient)
            )
            # `IN` never matches NULL: every recipient here is one of `wanted`
            return {recipient: count for recipient, count in rows if recipient is not None}

    def mark_failed(self, key: str, reason: str, now: datetime) -> None:
        """The message can never be delivered: mark it failed with the reason, and write the audit entry, at once."""
        with self.session() as s:
            row = s.exec(select(OutboxMessage).where(OutboxMessage.key == key)).one()
            row.status, row.error, row.claimed_at = "failed", reason[:500], None
            s.add(row)
            audit_key = f"{row.activity_id}|undeliverable|{hashlib.sha256(key.encode()).hexdigest()[:16]}"
            if s.exec(select(AuditEntry.id).where(AuditEntry.key == audit_key)).first() is None:
                s.add(
                    AuditEntry(
                        key=audit_key,
                        activity_id=row.activity_id,
                        at=now,
                        kind="undeliverable",
                        # the code only: the server's words are erased with the address at anonymisation
                        by="engine",
                        reason=f"{row.purpose} e-mail not delivered: {reason.partition(': ')[0]}",
                        details_json=json.dumps({"purpose": row.purpose, "outbox_id": row.id}),
                    )
                )

    def failed_messages(self, keys: Iterable[str]) -> list[OutboxMessage]:
        """Those of `keys` that are undeliverable (status failed), in the order they were queued."""
        wanted = list(keys)
        with self.session() as s:
            return list(
                s.exec(
                    select(OutboxMessage)
                    .where(col(OutboxMessage.key).in_(wanted), OutboxMessage.status == "failed")
                    .order_by(col(OutboxMessage.id))
                )
            )

    def undeliverable_addresses(self, activity_id: str, codes: Iterable[str]) -> frozenset[str]:
        """The activity's recipients that a message failed to for one of the reason `codes` (the address itself)."""
        with self.session() as s:
            rows = s.exec(
                select(OutboxMessage.recipient, OutboxMessage.error).where(
                    OutboxMessage.activity_id == activity_id, OutboxMessage.status == "failed"
                )
            )
            wanted = set(codes)
            return frozenset(r for r, error in rows if r and (error or "").partition(":")[0] in wanted)

    def undeliverable(self, activity_id: str) -> list[OutboxMessage]:
        """The activity's e-mails that could not be delivered, oldest first."""
        with self.session() as s:
            return list(
                s.exec(
                    select(OutboxMessage)
                    .where(OutboxMessage.activity_id == activity_id, OutboxMessage.status == "failed")
                    .order_by(col(OutboxMessage.id))
                )
            )

    def release(self, key: str) -> None:
        with self.session() as s:
            row = s.exec(select(OutboxMessage).where(OutboxMessage.key == key)).one()
            if row.status == "sending":
                row.status, row.claimed_at = "pending", None
                s.add(row)

    def outbox(self, activity_id: str | None = None) -> list[OutboxMessage]:
        with self.session() as s:
            query = select(OutboxMessage).order_by(col(OutboxMessage.id))
            if activity_id is not None:
                query = query.where(OutboxMessage.activity_id == activity_id)
            return list(s.exec(query))
