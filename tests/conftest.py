"""Shared fixtures: the time-skipping test server, a migrated store (SQLite and PostgreSQL), a worker per test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool
from temporalio.api.enums.v1 import EventType, IndexedValueType, PendingActivityState
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities_impl.mailer import MemoryMailer
from activities_impl.store import Store
from api.service import Service
from domain.plan import ActivityPlan
from domain.reference import default_reference
from tests.support.plans import plan_at
from tests.support.waiting import wait_for
from worker.binaries import test_server
from worker.converter import build_data_converter
from worker.settings import Settings
from worker.worker import build_activities, build_worker
from workflows import search_attributes as sa

# The long tests start first: `make test` runs four workers (pytest-xdist), and a long test started early overlaps
# with the many short ones instead of being the tail. Most of them wait on the clock (plans in seconds, timeouts
# after a kill); the one marked `slow` keeps a core busy. In one process the order changes nothing else.
LONG_FIRST = ("slow", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next((i for i, marker in enumerate(LONG_FIRST) if item.get_closest_marker(marker)), len(LONG_FIRST))

    items.sort(key=rank)  # stable: within a rank, the collection order (e2e tests stay together)


async def register_search_attributes(client: Client) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in sa.all_keys()},
        )
    )


@pytest.fixture(scope="session")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=test_server(), data_converter=build_data_converter()
    )
    await register_search_attributes(env.client)
    yield env
    await env.shutdown()


# PostgreSQL: `.ci/run` starts one (`.ci/postgres.sh`) and sets this; locally run `.ci/postgres.sh` and export it.
POSTGRES_URL_ENV = "RUNFLOW_TEST_POSTGRES_URL"
POSTGRES_SKIP_REASON = (
    f"{POSTGRES_URL_ENV} is not set: run .ci/postgres.sh and export "
    f"{POSTGRES_URL_ENV}=postgresql+psycopg://runflow:runflow@127.0.0.1:5432/runflow_test"
)
BACKENDS = ["sqlite", "postgres"]


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_URL_ENV) or None


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (created through the configured one, dropped afterwards); its URL."""
    base = make_url(postgres_url())
    name = f"runflow_t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                try:  # FORCE: connections a test left open are closed
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                except ProgrammingError:  # ... but not an autovacuum worker's (superuser only); a plain DROP stops it
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> Iterator[str]:
    """An empty database per test: SQLite in tmp_path, and PostgreSQL when RUNFLOW_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/runflow.db"
        return
    if postgres_url() is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    with postgres_database() as url:
        yield url


@pytest.fixture
def postgres_database_url() -> Iterator[str]:
    """An empty PostgreSQL database per test, for tests that need PostgreSQL itself (skipped when not configured)."""
    if postgres_url() is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    with postgres_database() as url:
        yield url


@pytest.fixture
def store(database_url) -> Iterator[Store]:
    """A migrated store with the reference data, on each backend (see `database_url`)."""
    store = Store(database_url)
    store.migrate()
    store.seed_reference(default_reference())
    yield store
    store.engine.dispose()  # before the PostgreSQL database is dropped


@pytest.fixture
def mailer() -> MemoryMailer:
    return MemoryMailer()


@pytest.fixture
def settings() -> Settings:
    return Settings(web_base_url="http://web.test", secret_key="test-secret", smtp_from="RUN <run@test>")


NOT_RECORDED = {  # tests whose histories the replay gate does without
    "2000_participants_complete_with_every_run_under_the_event_limit",  # 5 MB, and no branch the others miss
    "the_raw_history_holds_no_personal_data_and_still_replays",  # encrypted with the test's own key (it replays itself)
}


async def record_histories(client: Client, handles: list, directory: Path) -> None:
    """Save every run of the test's workflows as JSON, named after the test, for the replay gate."""
    test = os.environ["PYTEST_CURRENT_TEST"].split("::")[-1].split(" ")[0]
    test = re.sub(r"\[(?:sqlite|postgres)-?", "[", test).replace("[]", "")  # the store backend is not in the name
    base, _, params = test.partition("[")
    params = [p for p in params.rstrip("]").split("-") if p]
    if "postgres" in params:
        return  # the same workflow history as the SQLite run: record it once
    params = [p for p in params if p != "sqlite"]
    name = re.sub(r"[^A-Za-z0-9_]+", "-", "-".join([base.removeprefix("test_"), *params])).strip("-")
    if name in NOT_RECORDED:
        return
    directory.mkdir(parents=True, exist_ok=True)
    for i, handle in enumerate(handles):
        run_id, run = handle.result_run_id, 1
        while run_id:
            history = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
            suffix = (f"-{i + 1}" if len(handles) > 1 else "") + (f"-run{run}" if run > 1 else "")
            (directory / f"{name}{suffix}.json").write_text(history.to_json())
            last = history.events[-1]
            run_id = (
                last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
                if last.HasField("workflow_execution_continued_as_new_event_attributes")
                else None
            )
            run += 1


async def caught_up(client: Client, workflow_id: str, at: datetime, activities: bool = True) -> bool:
    """The workflow is closed, or its latest run has fired every timer due by `at` and has no workflow task left
    to run and no activity on its first attempt (what came due has been handled)."""
    due: dict[int, datetime] = {}
    ended: set[int] = set()
    pending = False
    async for history_event in client.get_workflow_handle(workflow_id).fetch_history_events():
        kind = history_event.event_type
        if kind == EventType.EVENT_TYPE_TIMER_STARTED:
            timeout = history_event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            due[history_event.event_id] = history_event.event_time.ToDatetime(tzinfo=UTC) + timeout
        elif kind == EventType.EVENT_TYPE_TIMER_FIRED:
            ended.add(history_event.timer_fired_event_attributes.started_event_id)
        elif kind == EventType.EVENT_TYPE_TIMER_CANCELED:
            ended.add(history_event.timer_canceled_event_attributes.started_event_id)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            pending = True
        elif kind in WORKFLOW_TASK_ENDED:
            pending = False
        elif kind in WORKFLOW_CLOSED:
            return True
    if pending or not all(timer in ended for timer, when in due.items() if when <= at):
        return False
    if not activities:
        return True
    # What came due may be activities before the state changes (opening: make the plan current, send the
    # invitation, then the phase is open): wait for those on their first attempt. A retrying one waits for its
    # backoff, which only time skipping ends, so it does not hold the test up.
    description = await client.get_workflow_handle(workflow_id).describe()
    return not any(a.attempt <= 1 for a in description.raw_description.pending_activities)


async def no_task_running(client: Client, workflow_id: str) -> bool:
    """The workflow is closed or has no workflow task scheduled or running."""
    pending = False
    async for history_event in client.get_workflow_handle(workflow_id).fetch_history_events():
        kind = history_event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            pending = True
        elif kind in WORKFLOW_TASK_ENDED:
            pending = False
        elif kind in WORKFLOW_CLOSED:
            return True
    return not pending


WORKFLOW_TASK_ENDED = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
}
WORKFLOW_CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}


class Lab:
    """A worker on its own task queue against the time-skipping server, with the service the CLI uses."""

    def __init__(self, env: WorkflowEnvironment, store: Store, mailer: MemoryMailer, settings: Settings):
        self.env, self.store, self.mailer, self.settings = env, store, mailer, settings
        self.task_queue = f"tq-{uuid.uuid4()}"
        self.service = Service(env.client, store, self.task_queue)
        self.started: list = []  # handles of the workflows the test started

    @asynccontextmanager
    async def worker(self):
        activities = build_activities(self.store, self.mailer, self.settings)
        started = self.started = []
        start = self.service.start

        async def tracked_start(*args, **kwargs):
            handle = await start(*args, **kwargs)
            started.append(handle)
            return handle

        self.service.start = tracked_start
        async with build_worker(self.env.client, activities, self.task_queue):
            try:
                yield self
            finally:
                await self.settle(started)

    async def settle(self, started: list) -> None:
        """End the test's workflows while their worker still runs.

        An activity or a workflow task still in flight when the workflow is terminated or its worker goes away keeps
        the time-skipping server from skipping time for every later test, so wait until neither runs, then record
        and terminate. That includes an activity scheduled for its first attempt (the worker may be taking it just
        as the workflow is terminated) and the workflow task its result starts: a test that ends right after an
        answer leaves the seat change's recording going. One waiting for a retry is not dispatched before time is
        skipped, so it is left alone.
        """
        for handle in started:
            quiet = 0  # twice in a row: a task ending between the two looks could have scheduled an activity
            for _ in range(600):  # up to 30 s: on a busy machine an activity can take a while
                try:
                    description = await self.env.client.get_workflow_handle(handle.id).describe()
                except Exception:
                    break
                if description.status is not WorkflowExecutionStatus.RUNNING:
                    break
                busy = any(
                    a.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                    or (a.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED and a.attempt <= 1)
                    for a in description.raw_description.pending_activities
                )
                quiet = 0 if busy or not await no_task_running(self.env.client, handle.id) else quiet + 1
                if quiet == 2:
                    break
                await asyncio.sleep(0.05)
        if os.environ.get("RUNFLOW_RECORD_HISTORIES") and self.store.url.startswith("sqlite"):  # make record-histories
            await record_histories(self.env.client, started, Path(os.environ["RUNFLOW_RECORD_HISTORIES"]))
        for handle in started:
            with contextlib.suppress(Exception):  # already closed
                await self.env.client.get_workflow_handle(handle.id).terminate("test finished")

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def advance_to(self, at: datetime, *, activities: bool = True) -> None:
        """Skip time to `at`, then wait until the test's workflows have handled what came due.

        Without the wait, an Update sent right after (a registration once registration opens) can reach the worker
        in the same workflow task as the timer, and the SDK runs Updates before timers: it would be refused as if
        sent before `at`. (On a busy machine this happens.) `activities=False`: do not wait for the activities that
        came due (a test that holds one on purpose)."""
        delta = at - await self.now()
        if delta > timedelta(0):
            # No skip while a workflow task runs: a task started before the skip and finished after it starts its
            # timers from its own (earlier) clock, which the server counts from the (later) finish, so a timer due
            # by `at` would not fire (seen for a workflow started just before: the opening timer).
            for handle in self.started:
                await wait_for(
                    lambda handle=handle: no_task_running(self.env.client, handle.id),
                    30,
                    f"{handle.id} to finish its workflow task before time is skipped",
                    interval=0.02,
                )
            await self.env.sleep(delta)
        for handle in self.started:
            await wait_for(
                lambda handle=handle: caught_up(self.env.client, handle.id, at, activities),
                30,
                f"{handle.id} to handle what came due by {at}",
                interval=0.02,
            )

    async def recorded(self, timeout: float = 30) -> None:
        """Wait until every registration and withdrawal the test's workflows have answered is in the store, its
        e-mails sent: the workflow answers once the seat is taken and records it after (`record_seat_changes`).
        Time is not skipped meanwhile: a change whose recording waits for a retry needs `advance_to`.

        Asked of the server, not the workflow: no `record_seat_changes` pending and no workflow task (which could
        schedule the next), twice in a row. A query would race continue-as-new, which comes just as the last change
        is recorded, and the time-skipping server loses such a query and stops skipping time for good."""
        for handle in self.started:

            async def done(handle=handle) -> bool:
                description = await self.env.client.get_workflow_handle(handle.id).describe()
                if description.status is not WorkflowExecutionStatus.RUNNING:
                    return True
                if any(
                    a.activity_type.name == "record_seat_changes"
                    for a in description.raw_description.pending_activities
                ):
                    return False
                return await no_task_running(self.env.client, handle.id)

            async def quiet_twice(done=done) -> bool:  # a task ending between the two looks may have scheduled one
                return await done() and await done()

            await wait_for(quiet_twice, timeout, f"{handle.id} to record what it answered", interval=0.05)

    def mails(self, purpose: str | None = None, to: str | None = None) -> list:
        return [
            m
            for m in self.mailer.sent
            if (purpose is None or m["X-Runflow-Purpose"] == purpose) and (to is None or m["To"] == to)
        ]


@pytest.fixture
def sqlite_store(tmp_path) -> Iterator[Store]:
    """A migrated SQLite store with the reference data: what workflow tests need (the workflow never sees SQL;
    the store's own tests run on both backends through `store`).

    A throwaway file, so without an fsync per commit (`synchronous=OFF`): what these tests check does not depend on
    SQLite surviving a power cut, and thousands of e-mails through the outbox commit twice each."""
    store = Store(f"sqlite:///{tmp_path}/runflow.db")
    event.listen(store.engine, "connect", lambda connection, _record: connection.execute("PRAGMA synchronous=OFF"))
    store.engine.dispose()  # every connection from now on
    store.migrate()
    store.seed_reference(default_reference())
    yield store
    store.engine.dispose()


@pytest.fixture
async def lab(time_env, sqlite_store, mailer, settings) -> AsyncIterator[Lab]:
    """A worker and the service on the time-skipping server, with a SQLite store: each workflow test runs once."""
    lab = Lab(time_env, sqlite_store, mailer, settings)
    async with lab.worker():
        yield lab


@pytest.fixture
def make_plan() -> Callable[..., ActivityPlan]:
    """The plan factory of `tests.support.plans`: `make_plan(start, **changes)`."""
    return plan_at
