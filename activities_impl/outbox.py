"""The outbox: every e-mail is first stored under its business key, then sent at most once.

A message is claimed (status `sending`) before the SMTP call and marked
`sent` after it; a transient failure releases the claim so the activity's
retry sends it again. A message that can never be delivered (see
`mail_failures`) is marked `failed` with the reason and an audit entry, and is
never retried: the mailing carries on with the others. A claim left by a
killed worker makes the retry wait (fail and retry) until its lease ends, then
the message is taken over: never skipped. The one window left is a worker
killed after the SMTP server accepted a message and before it was marked
sent: that message goes out again, with the same Message-ID.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage

from temporalio import activity

from activities_impl.mail_failures import (
    INVALID_ADDRESS,
    KNOWN_UNDELIVERABLE,
    NOT_COMPOSABLE,
    UndeliverableMail,
    deferred_reason,
    permanent_reason,
    reason,
)
from activities_impl.mailer import Mailer
from activities_impl.store import ClaimHeld, Store
from domain.email_address import InvalidEmail, parse_email
from domain.tables import OutboxMessage


@dataclass
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Envelope:
    key: str
    activity_id: str
    purpose: str
    recipient: str | None  # None: the address was erased; `compose` refuses it and the message is marked failed
    subject: str
    body: str
    attachments: list[Attachment] = field(default_factory=list)

    def row(self) -> OutboxMessage:
        return OutboxMessage(
            key=self.key,
            activity_id=self.activity_id,
            purpose=self.purpose,
            recipient=self.recipient,
            subject=self.subject,
            body=self.body,
            attachments_json=json.dumps(
                [
                    {"filename": a.filename, "content_type": a.content_type, "data": base64.b64encode(a.data).decode()}
                    for a in self.attachments
                ]
            ),
        )


class MailDeliveryError(Exception):
    """An e-mail could not be handed to the SMTP server; the message holds no address."""


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def message_id(key: str) -> str:
    """A Message-ID derived from the business key, so a duplicate (if one ever slips through) is recognisable."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@runflow>"


def to_email(row: OutboxMessage, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Message-ID"] = message_id(row.key)
    message["X-Runflow-Key"] = key_digest(row.key)
    message["X-Runflow-Purpose"] = row.purpose
    message.set_content(row.body)
    for item in json.loads(row.attachments_json):
        maintype, subtype = item["content_type"].split(";")[0].split("/")
        params = {}
        if "method=" in item["content_type"]:
            params["method"] = item["content_type"].split("method=")[1]
        message.add_attachment(
            base64.b64decode(item["data"]), maintype=maintype, subtype=subtype, filename=item["filename"], params=params
        )
    return message


class Outbox:
    def __init__(
        self, store: Store, mailer: Mailer, sender: str, lease_seconds: float = 60, recipient_attempts: int = 10
    ):
        self.store, self.mailer, self.sender, self.lease_seconds = store, mailer, sender, lease_seconds
        self.recipient_attempts = recipient_attempts  # tries for a recipient the server keeps putting off

    async def send(self, envelopes: list[Envelope], known_undeliverable: frozenset[str] = frozenset()) -> int:
        """Store then deliver; returns how many were delivered by this call.

        Messages to an address in `known_undeliverable` (refused before, see `Store.undeliverable_addresses`)
        are marked failed at once: the server said no already, and the organiser has been told."""
        if not envelopes:
            return 0
        keys = await asyncio.to_thread(self.store.enqueue, [e.row() for e in envelopes])
        delivered, held = 0, []
        for key in keys:
            try:
                delivered += await self.deliver(key, known_undeliverable)
            except ClaimHeld as exc:
                held.append(exc)
        if held:  # the rest went out; fail this attempt so the retry takes the held ones over after the lease
            raise ClaimHeld(f"{len(held)} e-mail(s) held by another attempt: {held[0]}")
        if activity.in_activity():
            activity.logger.info(
                "E-mails: %d queued, %d delivered now", len(keys), delivered, extra={"purpose": envelopes[0].purpose}
            )
        return delivered

    def undeliverable(self, envelopes: list[Envelope]) -> list[OutboxMessage]:
        """Those of the envelopes' messages that could not be delivered (by this call or an earlier attempt)."""
        return self.store.failed_messages(dict.fromkeys(e.key for e in envelopes))

    async def deliver(self, key: str, known_undeliverable: frozenset[str] = frozenset()) -> int:
        now = datetime.now(UTC)
        row = await asyncio.to_thread(self.store.claim, key, now, self.lease_seconds)
        if row is None:
            return 0
        if row.recipient in known_undeliverable:
            return await self._fail(row, reason(KNOWN_UNDELIVERABLE))
        try:
            message = compose(row, self.sender)
        except UndeliverableMail as exc:
            return await self._fail(row, exc.reason)
        try:
            await self.mailer.send(message)
        except Exception as exc:
            why = permanent_reason(exc, row.recipient, message)
            if why is None and row.attempts >= self.recipient_attempts:
                why = deferred_reason(exc, row.recipient)  # the same mailbox put off again and again
            if why is not None:
                return await self._fail(row, why)
            await asyncio.to_thread(self.store.release, key)
            # SMTP errors quote addresses: keep them out of logs and Temporal failures (retried all the same).
            code = getattr(exc, "code", None)
            raise MailDeliveryError(
                f"sending a {row.purpose} e-mail (key {key_digest(key)}) failed: "
                f"{type(exc).__name__}" + (f" {code}" if code else "")
            ) from None
        await asyncio.to_thread(self.store.mark_sent, key, datetime.now(UTC))
        if activity.in_activity():
            activity.heartbeat(key)
        return 1

    async def _fail(self, row: OutboxMessage, reason: str) -> int:
        await asyncio.to_thread(self.store.mark_failed, row.key, reason, datetime.now(UTC))
        if activity.in_activity():
            activity.logger.warning(
                "E-mail undeliverable, not retried: %s",
                reason,
                extra={"purpose": row.purpose, "key": key_digest(row.key)},
            )
            activity.heartbeat(row.key)
        return 0


def compose(row: OutboxMessage, sender: str) -> EmailMessage:
    """The message for a stored row; `UndeliverableMail` when the address or the message can never go out."""
    try:
        if row.recipient is None:
            raise InvalidEmail("no address")
        parse_email(row.recipient)
    except InvalidEmail:
        raise UndeliverableMail(reason(INVALID_ADDRESS)) from None
    try:
        return to_email(row, sender)
    except Exception as exc:  # noqa: BLE001 - e.g. a line break in a header: composing again gives the same
        raise UndeliverableMail(reason(NOT_COMPOSABLE, type(exc).__name__)) from None
