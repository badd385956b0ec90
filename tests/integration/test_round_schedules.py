"""Recurring rounds against a real Temporal dev server (the time-skipping server has no schedules): a template's
schedule is created, triggered, and the round's lifecycle starts with the template's plan moved to today; the
schedule is paused and resumed, and `describe()` says so; the CLI does the same from the command line; the
back-office lists the schedules and pauses and resumes them for coordinators only."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.client import Client, ScheduleOverlapPolicy, WorkflowExecutionStatus
from temporalio.service import RPCError

from activities_impl.mailer import MemoryMailer
from activities_impl.round_activities import ROUND_CREATED
from activities_impl.store import Store
from api.backoffice import BackOfficeConfig
from api.schedules import RoundSchedules, ScheduleRefused
from api.service import Service
from api.web import create_app
from domain.phases import Phase
from domain.reference import default_reference
from domain.rounds import Recurrence, day_swedish, parse_calendar, round_id, round_plan
from domain.staff import Role
from domain.texts import STOCKHOLM
from tests.support.backoffice import csrf_of, sign_in_async
from tests.support.plans import plan_at
from tests.support.processes import RUNFLOW, clean_env
from tests.support.waiting import wait_for
from worker.settings import Settings
from worker.worker import build_activities, build_worker
from workflows.activity_lifecycle import workflow_id
from workflows.round_starter import RoundStarterWorkflow

pytestmark = pytest.mark.integration
TASK_QUEUE = "round-schedules"


@pytest.fixture
def store(tmp_path) -> Store:
    store = Store(f"sqlite:///{tmp_path}/runflow.db")
    store.migrate()
    store.seed_reference(default_reference())
    return store


@pytest.fixture
async def worker(dev_server, store):
    settings = Settings(web_base_url="http://web.test", secret_key="k" * 40, smtp_from="RUN <run@test>")
    async with build_worker(dev_server.client, build_activities(store, MemoryMailer(), settings), TASK_QUEUE):
        yield dev_server.client


@pytest.fixture
def template(store):
    """A template kept in the store (never started), whose registration opens at this time of day."""
    plan = plan_at(datetime.now(UTC), id=f"specped-{uuid.uuid4().hex[:6]}", title="Specialpedagogiskt seminarium")
    store.save_plan(plan, False)
    return plan


async def running(client: Client, wid: str) -> bool:
    try:
        return (await client.get_workflow_handle(wid).describe()).status is WorkflowExecutionStatus.RUNNING
    except RPCError:
        return False


async def cleanup(client: Client, schedules: RoundSchedules, template_id: str, rounds: list[str]) -> None:
    with contextlib.suppress(ScheduleRefused):
        await schedules.delete(template_id)
    for rid in rounds:
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(workflow_id(rid)).terminate("test finished")


async def test_a_triggered_schedule_starts_a_round_and_is_paused_and_resumed(worker, store, template):
    client = worker
    schedules = RoundSchedules(client, store, TASK_QUEUE)
    first = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    rid = round_id(template.id, datetime.now(UTC))
    try:
        view = await schedules.create(template.id, Recurrence(every=timedelta(weeks=26), first=first))
        assert view.schedule_id == f"rounds-{template.id}" and view.template_id == template.id
        assert view.title == template.title and not view.paused and view.last_round is None
        assert view.next_runs[0] == first and view.next_runs[1] == first + timedelta(weeks=26)
        assert view.recurrence == Recurrence(every=timedelta(weeks=26), first=first)
        # As the Temporal UI shows it: the starter with the template's id only, the policies chosen.
        described = await client.get_schedule_handle(view.schedule_id).describe()
        policy = described.schedule.policy
        assert policy.overlap is ScheduleOverlapPolicy.BUFFER_ONE and policy.pause_on_failure
        assert policy.catchup_window == timedelta(days=1)
        assert described.schedule.action.workflow == "RoundStarterWorkflow"  # type: ignore[attr-defined]

        assert await schedules.trigger(template.id) == rid
        await wait_for(lambda: running(client, workflow_id(rid)), 30, f"the round {rid} to start")
        # The round runs the template's plan moved to today (registration opens today at the template's time).
        made = await wait_for(lambda: store.latest_plan(rid), 10, "the round in the store")
        status = await Service(client, store, TASK_QUEUE).status(rid)
        assert status.phase in (Phase.PLANNED, Phase.OPEN)

        async def fired():
            described = await schedules.describe(template.id)
            return described if described.last_round is not None and described.last_round.made else None

        view = await wait_for(fired, 10, "the firing to be described")
        assert view.last_round is not None and view.last_round.round_id == rid
        assert view.rounds_fired == 1
        # The starter read the firing's time from the schedule (TemporalScheduledStartTime), not from its input.
        [action] = (await client.get_schedule_handle(view.schedule_id).describe()).info.recent_actions
        starter_id = action.action.workflow_id  # type: ignore[attr-defined]
        assert starter_id.startswith(f"round-{template.id}-")
        result = await client.get_workflow_handle_for(RoundStarterWorkflow.run, starter_id).result()
        # (the search attribute keeps whole seconds; a triggered firing's time has microseconds)
        assert result.nominal_time == view.last_round.nominal_time.replace(microsecond=0) and result.started
        assert made == (1, round_plan(template, result.nominal_time))
        assert [e.kind for e in store.audit_log(rid)] == [ROUND_CREATED]

        paused = await schedules.pause(template.id, "Uppehåll under våren")
        assert paused.paused and paused.note == "Uppehåll under våren"
        state = (await client.get_schedule_handle(view.schedule_id).describe()).schedule.state
        assert state.paused and state.note == "Uppehåll under våren"
        resumed = await schedules.resume(view.schedule_id)
        assert not resumed.paused
        assert not (await client.get_schedule_handle(view.schedule_id).describe()).schedule.state.paused

        async def listed():
            return [s for s in await schedules.list() if s.template_id == template.id]

        [in_list] = await wait_for(listed, 30, "the schedule to be listed")
        assert in_list.schedule_id == view.schedule_id
        with pytest.raises(ScheduleRefused, match="has a schedule already"):
            await schedules.create(template.id, Recurrence(calendar=parse_calendar("hour=8")))
        with pytest.raises(ScheduleRefused, match="no template"):
            await schedules.create("finns-inte", Recurrence(every=timedelta(weeks=1)))
        with pytest.raises(ScheduleRefused, match="no schedule"):
            await schedules.pause("finns-inte")
    finally:
        await cleanup(client, schedules, template.id, [rid])


def runflow(store: Store, dev_server, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(TEMPORAL_ADDRESS=dev_server.address, RUNFLOW_DATABASE_URL=store.url, RUNFLOW_TASK_QUEUE=TASK_QUEUE)
    return subprocess.run([RUNFLOW, *args], env=env, capture_output=True, text=True, timeout=60)


async def test_the_cli_creates_lists_pauses_resumes_triggers_and_deletes(worker, store, template, dev_server):
    client = worker
    rid = round_id(template.id, datetime.now(UTC))

    async def cli(*args: str) -> dict:
        done = await asyncio.to_thread(runflow, store, dev_server, "schedule", *args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    try:
        created = await cli("create", template.id, "--calendar", "month=1,8 day_of_month=15 hour=8", "--paused")
        assert created["schedule_id"] == f"rounds-{template.id}" and created["paused"]
        assert created["recurrence"] == "calendar month=1,8 day_of_month=15 hour=8 (Europe/Stockholm)"
        await cli("resume", template.id, "--note", "Nu kör vi")

        async def listed() -> list[dict]:  # from Temporal's visibility, which may lag a moment
            return [s for s in (await cli("list"))["schedules"] if s["template_id"] == template.id]

        [mine] = await wait_for(listed, 30, "the schedule listed")
        assert not mine["paused"] and mine["note"] == "Nu kör vi"
        for next_run in mine["next_runs"]:  # 08:00 Swedish time on 15 January or 15 August
            local = datetime.fromisoformat(next_run).astimezone(STOCKHOLM)
            assert (local.month, local.day, local.hour, local.minute) in {(1, 15, 8, 0), (8, 15, 8, 0)}
        paused = await cli("pause", f"rounds-{template.id}", "--note", "Inväntar nya datum")
        assert paused["paused"] and paused["note"] == "Inväntar nya datum"
        triggered = await cli("trigger", template.id)  # a round now, also while paused
        assert triggered == {"schedule_id": f"rounds-{template.id}", "round_id": rid}
        await wait_for(lambda: running(client, workflow_id(rid)), 30, f"the round {rid} to start")
        refused = await asyncio.to_thread(
            runflow, store, dev_server, "schedule", "create", template.id, "--every", "1w"
        )
        assert refused.returncode == 2 and "has a schedule already" in refused.stderr
        assert await cli("delete", template.id) == {"schedule_id": f"rounds-{template.id}", "deleted": True}
        gone = await asyncio.to_thread(runflow, store, dev_server, "schedule", "pause", template.id)
        assert gone.returncode == 2 and "no schedule" in gone.stderr and len(gone.stderr.strip().splitlines()) == 1
        assert await running(client, workflow_id(rid))  # the round goes on without its schedule
    finally:
        await cleanup(client, RoundSchedules(client, store, TASK_QUEUE), template.id, [rid])


@pytest.fixture
async def office(worker, store):
    app = create_app(store, Service(worker, store, TASK_QUEUE), secret_key="k" * 40, backoffice=BackOfficeConfig())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://test") as client:
        yield client


async def test_the_back_office_lists_schedules_and_coordinators_pause_and_resume_them(worker, store, template, office):
    client = worker
    schedules = RoundSchedules(client, store, TASK_QUEUE)
    first = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    rid = round_id(template.id, datetime.now(UTC))
    path = "/admin/schedules"
    try:
        view = await schedules.create(template.id, Recurrence(every=timedelta(weeks=26), first=first))
        await schedules.trigger(template.id)
        await wait_for(lambda: running(client, workflow_id(rid)), 30, f"the round {rid} to start")
        member = await sign_in_async(office, store, "kerstin@miun.se")

        async def page_with_the_round() -> str | None:
            page = await office.get(path)
            assert page.status_code == 200, page.text
            return page.text if rid in page.text and template.title in page.text else None

        page = await wait_for(page_with_the_round, 30, "the schedule and its round on the page")
        assert f"var 26:e vecka från {day_swedish(first)}" in page and "Aktivt" in page
        assert f"<li>{day_swedish(first)}</li>" in page  # the next round's day (its times are the template's)
        assert f'href="/admin/activities/{rid}"' in page and f'href="/admin/activities/{template.id}"' in page
        assert f'action="/admin/schedules/{view.schedule_id}/pause"' in page

        refused = await office.post(
            f"{path}/{view.schedule_id}/pause", data={"csrf_token": csrf_of(page), "note": "fråga pia@skola.se"}
        )
        assert refused.status_code == 422 and "e-postadress" in refused.text
        assert not (await schedules.describe(template.id)).paused
        forged = await office.post(f"{path}/{view.schedule_id}/pause", data={"note": "x"})
        assert forged.status_code == 403 and not (await schedules.describe(template.id)).paused

        paused = await office.post(
            f"{path}/{view.schedule_id}/pause", data={"csrf_token": csrf_of(page), "note": "Uppehåll i vår"}
        )
        assert paused.status_code == 303 and paused.headers["location"] == f"{path}?klart=pausat"
        state = (await client.get_schedule_handle(view.schedule_id).describe()).schedule.state
        assert state.paused and state.note == "Uppehåll i vår"
        page = (await office.get(paused.headers["location"])).text
        assert "Schemat är pausat" in page and "Pausat" in page and "Uppehåll i vår" in page
        assert f'action="/admin/schedules/{view.schedule_id}/resume"' in page

        resumed = await office.post(f"{path}/{view.schedule_id}/resume", data={"csrf_token": csrf_of(page)})
        assert resumed.status_code == 303
        assert not (await client.get_schedule_handle(view.schedule_id).describe()).schedule.state.paused
        audit = [e for e in store.audit_log(template.id) if e.kind.startswith("schedule_")]
        assert [(e.kind, e.by) for e in audit] == [
            ("schedule_paused", f"staff:{member.id}"),
            ("schedule_resumed", f"staff:{member.id}"),
        ]
        assert "Uppehåll i vår" in audit[0].reason

        await sign_in_async(office, store, "ledning@miun.se", Role.VIEWER)
        page = await office.get(path)
        assert page.status_code == 200 and template.title in page.text and "/pause" not in page.text
        viewer = await office.post(f"{path}/{view.schedule_id}/pause", data={"csrf_token": csrf_of(page.text)})
        assert viewer.status_code == 403
        assert not (await schedules.describe(template.id)).paused
    finally:
        await cleanup(client, schedules, template.id, [rid])
