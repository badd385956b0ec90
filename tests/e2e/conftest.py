"""The embedded stack for the end-to-end tests: one `runflow up --no-demo` on free ports per test session.

Started by the first test that asks for `stack`, stopped after the last test in this directory (so the rest of the
suite does not run next to an idle Temporal server), and checked to stop cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

RUNFLOW = str(Path(sys.executable).parent / "runflow")
HERE = Path(__file__).parent


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class Stack(dict):
    """The running stack: `env`, `data`, `web`, `ui`, `banner` as before, and the helpers the tests share."""

    process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self['web']}"

    def cli(self, *args: str, expect: int = 0) -> dict:
        result = subprocess.run(
            [RUNFLOW, *args, "--json"],
            env=self["env"],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == expect, f"{args}: {result.stdout}{result.stderr}"
        return json.loads(result.stdout) if expect == 0 else {"stderr": result.stderr}

    def wait_for_phase(self, activity_id: str, phases: set[str], timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.cli("activity", "show", activity_id)
            if status["phase"] in phases:
                return status
            time.sleep(1)
        raise AssertionError(f"{activity_id} did not reach {phases}: {status}")

    def mails(self) -> list[EmailMessage]:
        """Every e-mail the SMTP sink has written so far, oldest first."""
        return [
            BytesParser(policy=policy.default).parsebytes(p.read_bytes())
            for p in sorted((self["data"] / "mail").glob("*.eml"))
        ]

    def wait_for_mail(self, match: Callable[[EmailMessage], bool], timeout: float, what: str = "") -> EmailMessage:
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.mails() if match(m)]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                seen = [(m["To"], m["X-Runflow-Purpose"], m["Subject"]) for m in self.mails()]
                raise AssertionError(f"no e-mail {what} within {timeout} s; the sink has {seen}")
            time.sleep(0.25)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
        assert process.returncode == 0, out + (self["data"] / "up.log").read_text()
        assert "runflow stopped" in out


@pytest.fixture(scope="session")
def stack(tmp_path_factory, request):
    data = tmp_path_factory.mktemp("stack")
    temporal, ui, web, smtp = free_ports(4)
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal}",
        "RUNFLOW_DATA_DIR": str(data),
        "RUNFLOW_LOG_FORMAT": "json",
    }
    log = open(data / "up.log", "w")  # noqa: SIM115 - closed at teardown
    process = subprocess.Popen(
        [
            RUNFLOW,
            "up",
            "--no-demo",
            "--data-dir",
            str(data),
            "--temporal-port",
            str(temporal),
            "--ui-port",
            str(ui),
            "--web-port",
            str(web),
            "--smtp-port",
            str(smtp),
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    running = Stack(env=env, data=data, web=web, ui=ui, banner="")
    running.process = process
    request.config.stash[_STACK] = running
    lines = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.strip() == "runflow ready":
            break
    if not (lines and lines[-1].strip() == "runflow ready"):
        running.process = None
        process.kill()
        process.communicate()
        log.close()
        raise AssertionError("".join(lines) + (data / "up.log").read_text())
    running["banner"] = "".join(lines)
    yield running
    running.stop()  # a no-op when pytest_runtest_teardown below has already stopped it
    log.close()


_STACK = pytest.StashKey[Stack]()


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop the stack after the last end-to-end test rather than at the end of the whole session."""
    running = item.config.stash.get(_STACK, None)
    if running is not None and (nextitem is None or HERE not in nextitem.path.parents):
        running.stop()
