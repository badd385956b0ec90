"""The embedded stack for the end-to-end tests: one `runflow up --no-demo` on free ports per test session.

Started by the first test that asks for `stack` (ready when its health checks pass: see
`tests.support.processes.RunflowUp`), stopped after the last test in this directory (so the rest of the suite does
not run next to an idle Temporal server), and checked to stop cleanly.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest

from runflow.web_client import activity_through_web
from tests.support.mail import read_mails
from tests.support.processes import RUNFLOW, RunflowUp
from tests.support.waiting import wait_for_sync

HERE = Path(__file__).parent


class Stack(dict):
    """The running stack: `env`, `data`, `web`, `ui`, and the helpers the tests share."""

    up: RunflowUp | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self['web']}"

    def cli(self, *args: str, expect: int = 0, env: dict[str, str] | None = None) -> dict:
        result = subprocess.run(
            [RUNFLOW, *args, "--json"],
            env=self["env"] if env is None else env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == expect, f"{args}: {result.stdout}{result.stderr}"
        return json.loads(result.stdout) if expect == 0 else {"stderr": result.stderr}

    def shown_both_ways(self, activity_id: str) -> dict:
        """`runflow activity show` through the web (this environment has the API token) and directly (Temporal and
        the store, without it): the same object. Asked web, direct, web until the activity holds still meanwhile."""
        direct_env = {k: v for k, v in self["env"].items() if k != "RUNFLOW_API_TOKEN"}
        for _ in range(5):
            before = self.cli("activity", "show", activity_id)
            direct = self.cli("activity", "show", activity_id, env=direct_env)
            if self.cli("activity", "show", activity_id) == before:
                assert direct == before
                assert activity_through_web(activity_id, self["env"]) == direct  # the web did answer
                return direct
        raise AssertionError(f"{activity_id} never held still for three questions")

    def wait_for_phase(self, activity_id: str, phases: set[str], timeout: float) -> dict:
        seen: list[dict] = []

        def reached() -> dict | None:
            seen[:] = [self.cli("activity", "show", activity_id)]
            return seen[0] if seen[0]["phase"] in phases else None

        return wait_for_sync(
            reached, timeout, f"{activity_id} to reach {phases}", interval=0.5, details=lambda: f"last: {seen}"
        )

    def mails(self) -> list[EmailMessage]:
        """Every e-mail the SMTP sink has written so far, oldest first."""
        return read_mails(self["data"] / "mail")

    def wait_for_mail(self, match: Callable[[EmailMessage], bool], timeout: float, what: str = "") -> EmailMessage:
        def found() -> EmailMessage | None:
            return next((m for m in self.mails() if match(m)), None)

        def seen() -> str:
            return f"the sink has {[(m['To'], m['X-Runflow-Purpose'], m['Subject']) for m in self.mails()]}"

        return wait_for_sync(found, timeout, f"an e-mail {what}", details=seen)

    def stop(self) -> None:
        up, self.up = self.up, None
        if up is None:
            return
        code = up.stop()
        assert code == 0, up.log()[-8000:]
        assert "runflow stopped" in up.log()


@pytest.fixture(scope="session")
def stack(tmp_path_factory, request):
    up = RunflowUp(tmp_path_factory.mktemp("stack")).start()
    running = Stack(env=up.env, data=up.data_dir, web=up.ports["web"], ui=up.ports["ui"])
    running.up = up
    request.config.stash[_STACK] = running
    try:
        up.wait_ready()
    except BaseException:
        running.up = None
        up.stop()
        raise
    yield running
    running.stop()  # a no-op when pytest_runtest_teardown below has already stopped it


_STACK = pytest.StashKey[Stack]()


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop the stack after the last end-to-end test rather than at the end of the whole session."""
    running = item.config.stash.get(_STACK, None)
    if running is not None and (nextitem is None or HERE not in nextitem.path.parents):
        running.stop()
