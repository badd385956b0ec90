"""The recurring rounds' page (/admin/schedules) in Chromium, checked with axe-core (WCAG 2.1 A and AA): a schedule
that has started a round, paused and resumed with its buttons, and as a viewer sees it (no buttons).

The web app, a worker and their Temporal client run in one thread with its own event loop (uvicorn serves there),
against a Temporal dev server: the time-skipping server has no schedules."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn

from activities_impl.mailer import MemoryMailer
from activities_impl.store import Store
from api.backoffice import BackOfficeConfig
from api.schedules import RoundSchedules
from api.service import Service
from api.web import create_app
from domain.reference import default_reference
from domain.rounds import Recurrence, round_id
from domain.staff import Role
from tests.e2e.test_browser import CHROMIUM_ARGS, Audit, browser, page, submit  # noqa: F401 - fixtures
from tests.support.backoffice import signin_link
from tests.support.plans import plan_at
from tests.support.ports import free_port
from tests.support.processes import DevServer
from worker.settings import Settings
from worker.worker import build_activities, build_worker
from workflows.activity_lifecycle import workflow_id

pytestmark = pytest.mark.e2e
TASK_QUEUE = "schedules-browser"


@pytest.fixture
def office(tmp_path):
    """The web app with a worker on a dev server, a template whose schedule has fired once; (store, base URL,
    template)."""
    store = Store(f"sqlite:///{tmp_path}/runflow.db")
    store.migrate()
    store.seed_reference(default_reference())
    template = plan_at(datetime.now(UTC), id=f"natverk-{uuid.uuid4().hex[:6]}", title="Nätverk för studiehandledare")
    store.save_plan(template, False)
    server = DevServer(tmp_path / "temporal.log", log_level="error").start()
    port = free_port()
    ready, stop, failed = threading.Event(), threading.Event(), []

    async def main() -> None:
        client = await server.connect()
        settings = Settings(web_base_url=f"http://127.0.0.1:{port}", secret_key="k" * 40, smtp_from="RUN <run@test>")
        service = Service(client, store, TASK_QUEUE)
        schedules = RoundSchedules(client, store, TASK_QUEUE)
        app = create_app(
            store, service, secret_key="k" * 40, backoffice=BackOfficeConfig(base_url=f"http://127.0.0.1:{port}")
        )
        web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        async with build_worker(client, build_activities(store, MemoryMailer(), settings), TASK_QUEUE):
            first = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
            await schedules.create(template.id, Recurrence(every=timedelta(weeks=26), first=first))
            await schedules.trigger(template.id)
            rid = round_id(template.id, datetime.now(UTC))
            for _ in range(300):
                if (await schedules.describe(template.id)).last_round and store.activity(rid):
                    break
                await asyncio.sleep(0.1)
            serving = asyncio.create_task(web.serve())
            while not web.started:
                await asyncio.sleep(0.05)
            ready.set()
            await asyncio.to_thread(stop.wait)
            web.should_exit = True
            await serving
            await schedules.delete(template.id)
            await client.get_workflow_handle(workflow_id(rid)).terminate("test finished")

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - reported by the fixture
            failed.append(exc)
            ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert ready.wait(90) and not failed, failed
        yield store, f"http://127.0.0.1:{port}", template
    finally:
        stop.set()
        thread.join(30)
        server.stop()
        store.engine.dispose()


def test_the_schedules_page_passes_axe_and_pauses_and_resumes(office, page):  # noqa: F811 - the fixture
    from playwright.sync_api import expect

    store, base, template = office
    audit = Audit()
    member, _ = store.add_staff("samordnare@miun.se", Role.COORDINATOR, name="Samordnare")
    page.goto(f"{base}/admin/signin/{signin_link(store, member)}")
    submit(page, "Logga in", 303)

    page.get_by_role("link", name="Återkommande omgångar").click()
    expect(page.get_by_role("heading", name="Återkommande omgångar", level=1)).to_be_visible()
    expect(page.get_by_role("link", name=template.title)).to_be_visible()
    expect(page.get_by_text("var 26:e vecka")).to_be_visible()
    audit(page, "schedules")

    page.get_by_label("Anledning (valfri)").fill("Uppehåll under våren")
    submit(page, f"Pausa schemat för {template.title}", 303)
    expect(page.get_by_role("status")).to_contain_text("Schemat är pausat")
    expect(page.get_by_text("Uppehåll under våren")).to_be_visible()
    audit(page, "schedules, one paused")
    submit(page, f"Återuppta schemat för {template.title}", 303)
    expect(page.get_by_role("status")).to_contain_text("Schemat är återupptaget")

    viewer, _ = store.add_staff("ledning@miun.se", Role.VIEWER, name="Ledning")
    page.context.clear_cookies()
    page.goto(f"{base}/admin/signin/{signin_link(store, viewer)}")
    submit(page, "Logga in", 303)
    page.goto(f"{base}/admin/schedules")
    expect(page.get_by_role("link", name=template.title)).to_be_visible()
    expect(page.get_by_role("button", name="Pausa")).to_have_count(0)
    audit(page, "schedules for a viewer")

    problems = audit.blocking()
    print(f"axe-core {audit.engine}, WCAG 2.1 A/AA rules, violations per page:\n" + audit.summary())
    assert not problems, "\n".join(problems)
