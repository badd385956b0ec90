"""An SMTP sink for the embedded stack: every message received is written as an .eml file.

`refuse` names mailboxes the sink does not know: it answers `550` at RCPT for them, as a real server does
for a mistyped address (the tests of undeliverable mail use it).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class EmlWriter:
    def __init__(self, directory: Path, refuse: Iterable[str] = ()):
        self.directory = directory
        self.refuse = {address.lower() for address in refuse}
        self.directory.mkdir(parents=True, exist_ok=True)
        self._counter = itertools.count(len(list(self.directory.glob("*.eml"))) + 1)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content  # the raw bytes, whatever `decode_data` makes of `content`
        assert content is not None  # aiosmtpd sets it before it calls handle_DATA
        digest = hashlib.sha256(content).hexdigest()[:10]
        path = self.directory / f"{next(self._counter):05d}-{digest}.eml"
        path.write_bytes(content)
        return "250 Message accepted for delivery"


def start_sink(directory: Path, port: int, host: str = "127.0.0.1", refuse: Iterable[str] = ()) -> Controller:
    controller = Controller(EmlWriter(directory, refuse), hostname=host, port=port)
    controller.start()
    return controller
