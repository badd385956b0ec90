"""Several web processes share the server's limit on Updates in flight per workflow.

A Temporal dev server that admits only 4 Updates per workflow at once (`history.maxInFlightUpdates=4`), and two
`Service`s (as two web processes would have) sized as documented, each letting 2 through per activity (2 + 2 = the
server's 4): 60 registrations at once are all answered, the seats are exact, nobody is registered twice and the
waiting list is in the order the workflow took the seats."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from activities_impl.mailer import MemoryMailer
from activities_impl.store import Store
from api.service import Service
from domain.lifecycle import SeatStatus
from domain.reference import default_reference
from tests.support.plans import plan_in_seconds
from tests.support.processes import DevServer
from tests.support.waiting import wait_for
from worker.settings import Settings
from worker.worker import build_activities, build_worker

pytestmark = pytest.mark.integration
TASK_QUEUE = "update-limit"
PEOPLE, PLACES = 60, 35


@pytest.fixture(scope="module")
async def tight_server(tmp_path_factory):
    server = DevServer(
        tmp_path_factory.mktemp("temporal") / "temporal.log",
        log_level="error",
        extra_args=["--dynamic-config-value", "history.maxInFlightUpdates=4"],
    ).start()
    try:
        await server.connect()
        yield server
    finally:
        server.stop()


async def test_two_web_processes_share_a_tight_server_limit(tight_server, tmp_path):
    store = Store(f"sqlite:///{tmp_path}/runflow.db")
    store.migrate()
    store.seed_reference(default_reference())
    settings = Settings(web_base_url="http://web.test", secret_key="k" * 40, smtp_from="RUN <run@test>")
    client = tight_server.client
    plan = plan_in_seconds("grans-test", datetime.now(UTC), places=PLACES, opens=1, deadline=600, min_participants=0)
    webs = [Service(client, store, TASK_QUEUE, updates_in_flight=2) for _ in range(2)]
    async with build_worker(client, build_activities(store, MemoryMailer(), settings), TASK_QUEUE):
        await webs[0].start(plan)

        async def is_open() -> bool:
            return (await webs[0].status(plan.id)).phase.value == "open"

        await wait_for(is_open, 30, "registration to open", interval=0.1)
        results = await asyncio.gather(
            *(
                webs[i % 2].register(
                    plan.id, name=f"Person {i}", email=f"p{i}@skola.test", organisation="are", role="lärare"
                )
                for i in range(PEOPLE)
            ),
            return_exceptions=True,
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        assert not failures, failures[:3]
        statuses = [r.status for r in results if not isinstance(r, BaseException)]
        assert statuses.count(SeatStatus.CONFIRMED) == PLACES
        assert statuses.count(SeatStatus.WAITLISTED) == PEOPLE - PLACES
        positions = sorted(r.waitlist_position for r in results if r.status is SeatStatus.WAITLISTED)
        assert positions == list(range(1, PEOPLE - PLACES + 1))
        status = await webs[0].status(plan.id)
        assert (status.confirmed, status.waitlisted, status.registrations) == (PLACES, PEOPLE - PLACES, PEOPLE)
        await webs[0].handle(plan.id).terminate("test finished")
