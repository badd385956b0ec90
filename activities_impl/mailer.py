"""Sending one e-mail: over SMTP (aiosmtplib), or into memory for tests."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

import aiosmtplib


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
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


class MemoryMailer:
    """Keeps sent messages in a list; `fail_next` makes the next sends raise (for retry tests), and mail to an
    address in `refuse` is refused with 550 at RCPT, as a server does for an unknown mailbox."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.fail_next = 0
        self.refuse: set[str] = set()

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

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.sent if m["To"] == address]
