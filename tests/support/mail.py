"""The SMTP sink of the process tests and what landed in it."""

from __future__ import annotations

import asyncio
import hashlib
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.controller import Controller

from activities_impl.store import Store
from tests.support.ports import HOST
from worker.smtp_sink import EmlWriter


class SlowEmlWriter(EmlWriter):
    """The embedded sink, taking `delay` seconds per message (so a bulk send lasts long enough to be killed in)."""

    def __init__(self, directory: Path, delay: float):
        super().__init__(directory)
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


def start_sink(directory: Path, port: int, delay: float = 0.0) -> Controller:
    """An SMTP sink on 127.0.0.1:`port` writing one .eml file per message into `directory`."""
    controller = Controller(SlowEmlWriter(directory, delay), hostname=HOST, port=port)
    controller.start()
    return controller


def read_mails(directory: Path) -> list[EmailMessage]:
    """Every message in the sink's directory, oldest first."""
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(p.read_bytes()) for p in sorted(directory.glob("*.eml"))]


def check_sent_once(store: Store, activity_ids: list[str], mail_dir: Path, allowed_duplicates: int = 0) -> dict:
    """Every outbox message of the activities is `sent` and in the sink exactly once, but for up to
    `allowed_duplicates` keys sent twice: the outbox's documented window, a message the SMTP server accepted from a
    worker killed before it marked the message sent. Such a key went out with the same Message-ID both times and was
    claimed again after the dead worker's claim (attempts > 1)."""
    outbox = [m for aid in activity_ids for m in store.outbox(aid)]
    assert outbox and all(m.status == "sent" and m.sent_at is not None for m in outbox), [
        (m.key, m.status) for m in outbox if m.status != "sent"
    ]
    mails = read_mails(mail_dir)
    by_key: dict[str, list[EmailMessage]] = {}
    for m in mails:
        by_key.setdefault(m["X-Runflow-Key"], []).append(m)
    duplicates = {k: len(v) for k, v in by_key.items() if len(v) > 1}
    assert len(duplicates) <= allowed_duplicates and all(n == 2 for n in duplicates.values()), duplicates
    by_digest = {hashlib.sha256(m.key.encode()).hexdigest()[:16]: m for m in outbox}
    for k in duplicates:
        assert len({m["Message-ID"] for m in by_key[k]}) == 1, k
        assert by_digest[k].attempts > 1, (k, by_digest[k].purpose, by_digest[k].attempts)
    assert set(by_key) == set(by_digest)
    assert len(mails) == len(outbox) + sum(n - 1 for n in duplicates.values())
    return {"outbox": len(outbox), "mails": len(mails), "duplicates": duplicates}
