"""Sending e-mail: over SMTP (aiosmtplib), or into memory for tests.

A mailing goes out through a session (`Mailer.session`): over SMTP one connection carries many messages; a
mailer without sessions of its own sends each message on its own (`send`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from email.message import EmailMessage
from types import TracebackType
from typing import Protocol

import aiosmtplib


class MailSession(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...

    def session(self) -> AbstractAsyncContextManager[MailSession]:
        """Many messages in a row (`async with mailer.session() as s: await s.send(m)`); by default each is sent
        on its own, by `send`."""
        return _one_by_one(self)


@asynccontextmanager
async def _one_by_one(mailer: Mailer) -> AsyncIterator[MailSession]:
    yield mailer


def dropped(exc: BaseException) -> bool:
    """The server closed the connection (or said it would: 421), rather than answering about this message."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return any(r.code == 421 for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code == 421
    return isinstance(exc, aiosmtplib.SMTPServerDisconnected) or (
        isinstance(exc, ConnectionError) and not isinstance(exc, aiosmtplib.SMTPConnectError)
    )


class SmtpMailer(Mailer):
    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 30,
    ):
        self.host, self.port = host, port
        self.username, self.password, self.starttls, self.timeout = username, password, starttls, timeout

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            start_tls=self.starttls,
            timeout=self.timeout,
        )

    def client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            start_tls=self.starttls,
            timeout=self.timeout,
        )

    def session(self) -> SmtpSession:
        return SmtpSession(self)


class SmtpSession:
    """One SMTP connection for a run of messages, opened at the first message and closed (QUIT) at the end.

    When the server drops the connection (it closed an idle one, or one that carried its limit of messages; or
    answered 421) the message is sent again once over a new connection; a second drop is raised. A drop after the
    server took the message but before its answer reached us sends that message twice, as a retry would."""

    def __init__(self, mailer: SmtpMailer):
        self.mailer = mailer
        self.smtp: aiosmtplib.SMTP | None = None
        self.connections = 0

    async def __aenter__(self) -> SmtpSession:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        if exc is None and smtp.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await smtp.quit()  # every message was answered: a failed goodbye changes nothing
        smtp.close()

    async def _connect(self) -> aiosmtplib.SMTP:
        if self.smtp is not None:
            self.smtp.close()
            self.smtp = None
        smtp = self.mailer.client()
        await smtp.connect()
        self.smtp, self.connections = smtp, self.connections + 1
        return smtp

    async def send(self, message: EmailMessage) -> None:
        smtp = self.smtp if self.smtp is not None and self.smtp.is_connected else await self._connect()
        try:
            await smtp.send_message(message)
        except Exception as exc:  # noqa: BLE001 - sorted by `dropped`; everything else is raised as it is
            if not dropped(exc):
                raise
            smtp = await self._connect()
            await smtp.send_message(message)


class MemoryMailer(Mailer):
    """Keeps sent messages in a list; `fail_next` makes the next sends raise (for retry tests), and mail to an
    address in `refuse` is refused with 550 at RCPT, as a server does for an unknown mailbox. `sessions` counts
    the mailings (`session`), each of which sends its messages one by one through `send`."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.fail_next = 0
        self.refuse: set[str] = set()
        self.sessions = 0

    async def send(self, message: EmailMessage) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("SMTP server unavailable (simulated)")
        to = str(message["To"])
        if to.lower() in self.refuse:
            raise aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(550, f"5.1.1 <{to}>: Recipient address rejected: User unknown", to)]
            )
        self.sent.append(message)

    def session(self) -> AbstractAsyncContextManager[MailSession]:
        self.sessions += 1
        return _one_by_one(self)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.sent if m["To"] == address]
