"""The outbox: every e-mail is first stored under its business key, then sent at most once.

A mailing is stored in one transaction, then sent in batches of `batch_size`:
one transaction claims a batch (status `sending`, with a lease), one SMTP
connection carries it (`Mailer.session`), and each message is marked `sent`
in its own transaction as soon as the server has taken it, before the next
one goes out. A transient failure releases the claims so the activity's retry
sends those messages again: a failure of the connection or of our own side
stops the mailing there; a server putting off one mailbox (4xx) releases that
message only and the mailing carries on. A message that can never be
delivered (see `mail_failures`) is marked `failed` with the reason and an
audit entry, and is never retried: the mailing carries on with the others.

A batch being sent keeps its claims fresh (renewed every half lease). Claims
left by a killed worker (at most one batch) make the retry wait (fail and
retry) until their lease ends, then the messages are taken over: never
skipped. The one window left is a worker killed after the SMTP server accepted
a message and before it was marked sent (or a connection dropped right then):
that message goes out again, with the same Message-ID.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import headerregistry, policy
from email.message import EmailMessage

from temporalio import activity

from activities_impl.mail_failures import (
    INVALID_ADDRESS,
    KNOWN_UNDELIVERABLE,
    NOT_COMPOSABLE,
    UndeliverableMail,
    deferred_reason,
    permanent_reason,
    put_off,
    reason,
)
from activities_impl.mailer import Mailer, MailSession
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


class _HeaderClasses(headerregistry.HeaderRegistry):
    """The email package's header registry, keeping the class it makes for each header name: the stock one makes a
    new class (`type(...)`) for every header set or parsed, about half the cost of composing a message."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[headerregistry.BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[headerregistry.BaseHeader]:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls


MAIL_POLICY = policy.default.clone(header_factory=_HeaderClasses())  # the same messages, byte for byte


def to_email(row: OutboxMessage, sender: str) -> EmailMessage:
    message = EmailMessage(policy=MAIL_POLICY)
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


def _failure(row: OutboxMessage, exc: BaseException) -> str:
    """What went wrong, for logs and Temporal: SMTP errors quote addresses, so only the type and the code."""
    refused = getattr(exc, "recipients", None)  # SMTPRecipientsRefused: the code of the (one) recipient's answer
    code = refused[0].code if refused else getattr(exc, "code", None)
    return f"sending a {row.purpose} e-mail (key {key_digest(row.key)}) failed: {type(exc).__name__}" + (
        f" {code}" if code else ""
    )


@dataclass
class _Mailing:
    """One `Outbox.send` call: what it delivered, and what its retry has to do."""

    delivered: int = 0
    held: list[str] = field(default_factory=list)  # keys under another attempt's fresh claim
    put_off: list[str] = field(default_factory=list)  # failures of mailboxes the server put off for now


class Outbox:
    def __init__(
        self,
        store: Store,
        mailer: Mailer,
        sender: str,
        lease_seconds: float = 60,
        recipient_attempts: int = 10,
        batch_size: int = 50,
    ):
        self.store, self.mailer, self.sender, self.lease_seconds = store, mailer, sender, lease_seconds
        self.recipient_attempts = recipient_attempts  # tries for a recipient the server keeps putting off
        self.batch_size = max(1, batch_size)  # messages claimed at once: what a killed worker leaves to its lease

    async def send(self, envelopes: list[Envelope], known_undeliverable: frozenset[str] = frozenset()) -> int:
        """Store then deliver; returns how many were delivered by this call.

        Messages to an address in `known_undeliverable` (refused before, see `Store.undeliverable_addresses`)
        are marked failed at once: the server said no already, and the organiser has been told."""
        if not envelopes:
            return 0
        keys = list(dict.fromkeys(await asyncio.to_thread(self.store.enqueue, [e.row() for e in envelopes])))
        mailing = _Mailing()
        for start in range(0, len(keys), self.batch_size):
            await self._batch(keys[start : start + self.batch_size], known_undeliverable, mailing)
        if mailing.put_off:  # the rest went out; fail this attempt so the retry tries those mailboxes again
            raise MailDeliveryError(f"{len(mailing.put_off)} e-mail(s) put off by the server: {mailing.put_off[0]}")
        if mailing.held:  # the rest went out; fail this attempt so the retry takes the held ones over after the lease
            raise ClaimHeld(
                f"{len(mailing.held)} e-mail(s) held by another attempt (key {key_digest(mailing.held[0])} first); "
                f"retrying after their lease of {self.lease_seconds:.0f} s"
            )
        if activity.in_activity():
            activity.logger.info(
                "E-mails: %d queued, %d delivered now",
                len(keys),
                mailing.delivered,
                extra={"purpose": envelopes[0].purpose},
            )
        return mailing.delivered

    def undeliverable(self, envelopes: list[Envelope]) -> list[OutboxMessage]:
        """Those of the envelopes' messages that could not be delivered (by this call or an earlier attempt)."""
        return self.store.failed_messages(dict.fromkeys(e.key for e in envelopes))

    async def _batch(self, keys: list[str], known_undeliverable: frozenset[str], mailing: _Mailing) -> None:
        """Claim `keys` in one transaction and send what was claimed over one session of the mailer."""
        renewed = time.monotonic()  # when the claims' lease started (no later than `claim.at`)
        claim = await asyncio.to_thread(self.store.claim_batch, keys, datetime.now(UTC), self.lease_seconds)
        mailing.held += claim.held
        rows, token = claim.rows, claim.at
        if not rows:
            return
        untried = 0  # rows[untried:] have not been tried: given back if this batch stops early
        try:
            async with self.mailer.session() as session:
                while untried < len(rows):
                    if time.monotonic() - renewed > self.lease_seconds / 2:  # keep the claims fresh
                        rest = [r.key for r in rows[untried:]]
                        now = datetime.now(UTC)
                        ours = set(await asyncio.to_thread(self.store.renew, rest, token, now))
                        # a claim taken over (this attempt stalled past the lease) is the other attempt's now:
                        # not sent here, and this attempt fails in the end so that its retry checks on it
                        mailing.held += [k for k in rest if k not in ours]
                        rows = rows[:untried] + [r for r in rows[untried:] if r.key in ours]
                        token, renewed = now, time.monotonic()
                        if untried == len(rows):
                            break
                    row = rows[untried]
                    untried += 1
                    mailing.delivered += await self._deliver(row, token, session, known_undeliverable, mailing)
        except BaseException:
            rest = [r.key for r in rows[untried:]]
            if rest:  # not tried: the retry sends them without waiting for the lease
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.store.release_claims, rest, token, tried=False)
            raise

    async def _deliver(
        self,
        row: OutboxMessage,
        token: datetime,
        session: MailSession,
        known_undeliverable: frozenset[str],
        mailing: _Mailing,
    ) -> int:
        if row.recipient in known_undeliverable:
            return await self._fail(row, reason(KNOWN_UNDELIVERABLE))
        try:
            message = compose(row, self.sender)
        except UndeliverableMail as exc:
            return await self._fail(row, exc.reason)
        try:
            await session.send(message)
        except Exception as exc:
            why = permanent_reason(exc, row.recipient, message)
            if why is None and row.attempts >= self.recipient_attempts:
                why = deferred_reason(exc, row.recipient)  # the same mailbox put off again and again
            if why is not None:
                return await self._fail(row, why)
            await asyncio.to_thread(self.store.release_claims, [row.key], token, tried=True)
            if put_off(exc):  # this mailbox, for now: the others go on
                mailing.put_off.append(_failure(row, exc))
                return 0
            # The connection, or our own side (login, sender, relay): the rest waits for the retry.
            raise MailDeliveryError(_failure(row, exc)) from None
        await asyncio.to_thread(self.store.mark_sent, row.key, datetime.now(UTC))
        if activity.in_activity():
            activity.heartbeat(row.key)
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
