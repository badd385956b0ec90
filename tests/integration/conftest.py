"""One Temporal dev server per integration module (tests that kill the server start their own)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.processes import DevServer

# Without eager activity execution, activities go through the task queue to whichever worker polls, rather than to
# the worker that has the workflow: with several workflows, every worker process then surely runs activities.
NO_EAGER_ACTIVITIES = ["--dynamic-config-value", "system.enableActivityEagerExecution=false"]


@pytest.fixture(scope="module")
async def dev_server(tmp_path_factory) -> AsyncIterator[DevServer]:
    """A Temporal dev server (in memory, search attributes registered) with `client` connected."""
    server = DevServer(
        tmp_path_factory.mktemp("temporal") / "temporal.log", log_level="error", extra_args=NO_EAGER_ACTIVITIES
    ).start()
    try:
        await server.connect()
        yield server
    finally:
        server.stop()
