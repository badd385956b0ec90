"""The outbox's rows: queued, claimed, sent or failed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, or_, update
from sqlmodel import col, select

from activities_impl.store.engine import ClaimHeld, StoreBase
from domain.tables import AuditEntry, OutboxMessage, UTCDateTime

MARK_SENT = (
    update(OutboxMessage)
    .where(col(OutboxMessage.key) == bindparam("sent_key"))
    .values(status="sent", sent_at=bindparam("sent_now", type_=UTCDateTime()))
)
KEYS_PER_QUERY = 500  # keys in one `IN (...)`: well below every backend's limit on bound parameters


@dataclass
class Claim:
    """What `claim_batch` got: the rows now being sent by this attempt (their `claimed_at` is `at`, the claim's
    token), and the keys another attempt holds a fresh claim on."""

    at: datetime
    rows: list[OutboxMessage] = field(default_factory=list)
    held: list[str] = field(default_factory=list)


class OutboxRows(StoreBase):
    def enqueue(self, messages: Iterable[OutboxMessage]) -> list[str]:
        """Add messages whose key is new; returns every given key (new or already there)."""
        given = list(messages)
        keys = [m.key for m in given]
        with self.session() as s:
            known: set[str] = set()
            for start in range(0, len(keys), KEYS_PER_QUERY):
                part = keys[start : start + KEYS_PER_QUERY]
                known.update(s.exec(select(OutboxMessage.key).where(col(OutboxMessage.key).in_(part))))
            for message in given:
                if message.key not in known:
                    known.add(message.key)
                    s.add(message)
        return keys

    def claim_batch(self, keys: list[str], now: datetime, lease_seconds: float = 60) -> Claim:
        """Mark those of `keys` that are pending, or claimed longer than the lease ago (by an attempt that died or
        stalled), as being sent by this attempt, in one transaction; the rows come back in the order of `keys`.

        One conditional UPDATE takes them, so two attempts never both get a row (on PostgreSQL the second waits for
        the first's row locks and then finds the rows claimed; on SQLite writers take turns). Keys already sent or
        failed are left out; keys under another attempt's fresh claim are in `held`: the caller retries later and
        takes them over once the lease ends."""
        claim = Claim(now)
        if not keys:
            return claim
        stale = now - timedelta(seconds=lease_seconds)
        with self.session() as s:
            claimable = or_(
                col(OutboxMessage.status) == "pending",
                and_(
                    col(OutboxMessage.status) == "sending",
                    or_(col(OutboxMessage.claimed_at).is_(None), col(OutboxMessage.claimed_at) < stale),
                ),
            )
            rows = s.scalars(
                update(OutboxMessage)
                .where(col(OutboxMessage.key).in_(keys), claimable)
                .values(status="sending", claimed_at=now, attempts=OutboxMessage.attempts + 1)
                .returning(OutboxMessage),
                execution_options={"synchronize_session": False},
            ).all()
            by_key = {row.key: row for row in rows}
            claim.rows = [by_key[k] for k in dict.fromkeys(keys) if k in by_key]
            others = [k for k in keys if k not in by_key]
            if others:
                claim.held = list(
                    s.exec(
                        select(OutboxMessage.key).where(
                            col(OutboxMessage.key).in_(others), col(OutboxMessage.status) == "sending"
                        )
                    )
                )
        return claim

    def renew(self, keys: list[str], claimed_at: datetime, now: datetime) -> list[str]:
        """Extend this attempt's claim (its token `claimed_at`) on those of `keys` still being sent by it; returns
        them. A key left out was taken over by another attempt after the lease: not this attempt's to send."""
        if not keys:
            return []
        with self.session() as s:
            return list(
                s.scalars(
                    update(OutboxMessage)
                    .where(
                        col(OutboxMessage.key).in_(keys),
                        col(OutboxMessage.status) == "sending",
                        col(OutboxMessage.claimed_at) == claimed_at,
                    )
                    .values(claimed_at=now)
                    .returning(col(OutboxMessage.key)),
                    execution_options={"synchronize_session": False},
                )
            )

    def release_claims(self, keys: list[str], claimed_at: datetime, *, tried: bool) -> None:
        """Put this attempt's claims on `keys` back (pending), for the activity's retry; a claim another attempt took
        over meanwhile is left alone. `tried=False`: the messages were not tried, so the attempt is given back."""
        if not keys:
            return
        with self.session() as s:
            s.execute(
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.key).in_(keys),
                    col(OutboxMessage.status) == "sending",
                    col(OutboxMessage.claimed_at) == claimed_at,
                )
                .values(
                    status="pending",
                    claimed_at=None,
                    attempts=OutboxMessage.attempts if tried else OutboxMessage.attempts - 1,
                ),
                execution_options={"synchronize_session": False},
            )

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
        """The SMTP server took the message: one UPDATE by key in its own transaction, committed before the next
        message goes out (so a crash re-sends at most the message in flight). Core, one statement built once:
        this runs once per e-mail."""
        with self.engine.begin() as connection:
            connection.execute(MARK_SENT, {"sent_key": key, "sent_now": now})

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

    def outbox(self, activity_id: str | None = None) -> list[OutboxMessage]:
        with self.session() as s:
            query = select(OutboxMessage).order_by(col(OutboxMessage.id))
            if activity_id is not None:
                query = query.where(OutboxMessage.activity_id == activity_id)
            return list(s.exec(query))
