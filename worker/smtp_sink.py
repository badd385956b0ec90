"""An SMTP sink for the embedded stack: every message received is written as an .eml file."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope


class EmlWriter:
    def __init__(self, directory: Path):
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._counter = itertools.count(len(list(self.directory.glob("*.eml"))) + 1)

    async def handle_DATA(self, server, session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's name
        content = envelope.original_content or envelope.content
        digest = hashlib.sha256(content).hexdigest()[:10]
        path = self.directory / f"{next(self._counter):05d}-{digest}.eml"
        path.write_bytes(content)
        return "250 Message accepted for delivery"


def start_sink(directory: Path, port: int, host: str = "127.0.0.1") -> Controller:
    controller = Controller(EmlWriter(directory), hostname=host, port=port)
    controller.start()
    return controller
