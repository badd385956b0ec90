"""Faults by kill -9: nothing lost, nothing doubled.

1. A `runflow worker` process killed in the middle of a registration burst, then restarted.
2. The worker that is sending a bulk e-mail (the confirmation announcement to 60 people) killed mid-batch, restarted.
3. The Temporal dev server (SQLite file) killed with open activities, restarted on the same port with the same file.

Each ends with: every registration stored once, every outbox key sent once, and the lifecycle completes to anonymised.
The outbox's one documented exception applies where a worker dies (1 and 2): a message the SMTP server accepted just
before the kill, not yet marked sent, goes out again with the same Message-ID (in 1 possibly one per registration the
killed worker was recording, in 2 the message of the batch being sent).

The processes, the SMTP sink and the waiting come from `tests.support`.
Needs RUNFLOW_TEST_POSTGRES_URL (`.ci/run` sets it; locally run `.ci/postgres.sh`); skipped without it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import WorkflowExecutionStatus

from activities_impl.mailer import SmtpMailer
from activities_impl.store import Store
from api.service import Refused, Service
from domain.lifecycle import SeatStatus
from domain.plan import ActivityPlan
from domain.reference import default_reference
from tests.support.mail import check_sent_once, read_mails, start_sink
from tests.support.plans import plan_in_seconds
from tests.support.ports import free_port
from tests.support.processes import DevServer, Workers, worker_env
from tests.support.waiting import sleep_until, wait_for
from worker.settings import Settings
from worker.worker import build_activities, build_worker

pytestmark = pytest.mark.integration

ORGANISER = "samordnare.fel@run.test"
ORGS = ["sundsvall", "ostersund", "are"]
LEASE = "5"  # RUNFLOW_OUTBOX_LEASE_SECONDS: a killed worker's claim is taken over quickly


# -- helpers ------------------------------------------------------------------------------------------------------
def plan(activity_id: str, t0: datetime, *, places: int, deadline: float = 14) -> ActivityPlan:
    """Opens 3 s after t0, deadline at `deadline` s, two short sessions after it, anonymised ~22 s after it."""
    return plan_in_seconds(
        activity_id,
        t0,
        places=places,
        deadline=deadline,
        title=f"Felkurs {activity_id}",
        description="Fel och omstarter.",
        organiser_email=ORGANISER,
    )


def people(tag: str, n: int) -> list[tuple[str, str, str]]:
    """(name, email, organisation) for n distinct people."""
    return [
        (f"Fel {tag}{i} Personsson", f"fel.{tag.lower()}{i}@skola-{ORGS[i % 3]}.test", ORGS[i % 3]) for i in range(n)
    ]


async def wait_phase(service: Service, activity_id: str, phases: set[str], timeout: float) -> None:
    async def ok() -> bool:
        return (await service.status(activity_id)).phase.value in phases

    await wait_for(ok, timeout, f"{activity_id} to be in {phases}", ignoring=(Exception,))


def workers_for(server: DevServer, directory, database_url: str, task_queue: str, smtp_port: int) -> Workers:
    env = worker_env(
        server.address,
        task_queue,
        database_url,
        directory / "data",
        smtp_port,
        RUNFLOW_OUTBOX_LEASE_SECONDS=LEASE,
    )
    return Workers(directory, env)


async def register_like_a_person(
    service: Service, aid: str, name: str, email: str, org: str, log: list[str]
) -> tuple[SeatStatus | None, int]:
    """Register; on a transient error click again. Returns (status or None if a repeat click was refused as
    already registered, clicks). A repeat after an error that did
    register must be refused as already registered."""
    clicks, give_up = 0, time.monotonic() + 150
    while True:
        clicks += 1
        try:
            result = await service.register(
                aid, name=name, email=email, organisation=org, role="lärare", school="Felskolan"
            )
            return result.status, clicks
        except Refused as exc:
            if clicks > 1 and "already registered" in str(exc):
                log.append(f"{email}: click {clicks} refused: {exc}")
                # the earlier click did register: the seat is in the workflow's book; find its status there
                return None, clicks  # the caller checks the stored row
            raise
        except Exception as exc:  # transient: the worker holding the workflow died, the server restarted...
            log.append(f"{email}: {type(exc).__name__}: {exc}")
            if time.monotonic() > give_up:
                raise
            await asyncio.sleep(2)


def check_registrations(store: Store, aid: str, emails: list[str], final) -> None:
    rows = store.registrations(aid)
    assert len(rows) == len(emails), [(r.id, p.email) for r, p in rows]
    assert sorted(p.id for _, p in rows) == sorted({p.id for _, p in rows})  # one registration per person
    assert len({r.id for r, _ in rows}) == len(rows)
    counts = Counter(r.status for r, _ in rows)
    assert final.registrations == len(emails)
    assert counts.get("confirmed", 0) == final.confirmed, (counts, final)
    assert counts.get("waitlisted", 0) == final.waitlisted, (counts, final)


async def finish(handles, workers: Workers | None) -> None:
    for handle in handles:
        try:
            if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test finished")
        except Exception:
            pass
    if workers is not None:
        workers.stop()


# -- 1. worker kill -9 during a registration burst -----------------------------------------------------------------
async def test_worker_killed_during_registration_burst(tmp_path, postgres_database_url, dev_server):
    started_at = time.monotonic()
    mail_dir, smtp_port = tmp_path / "mail", free_port()
    client = dev_server.client
    sink = start_sink(mail_dir, smtp_port)
    task_queue = f"kill-burst-{uuid.uuid4().hex[:8]}"
    workers = workers_for(dev_server, tmp_path, postgres_database_url, task_queue, smtp_port)
    store = Store(postgres_database_url)
    service = Service(client, store, task_queue)
    handles, errors = [], []
    try:
        workers.start(2)
        await workers.wait_ready(client)
        t0 = datetime.now(UTC)
        aid = f"kill-burst-{uuid.uuid4().hex[:6]}"
        # A recording of answered registrations that died with the worker is retried after its 15 s heartbeat
        # timeout; the workflow holds its deadline decision until every registration taken has reached the store.
        p = plan(aid, t0, places=30, deadline=30)
        handles.append(await service.start(p))
        await sleep_until(p.registration.opens)
        await wait_phase(service, aid, {"open"}, 10)

        crowd = people("B", 40)
        tasks = [asyncio.create_task(register_like_a_person(service, aid, n, e, o, errors)) for n, e, o in crowd]
        # kill -9 one worker while the burst is in flight (a few answered, most not), then restart it
        await wait_for(lambda: sum(t.done() for t in tasks) >= 3, 30, "the first answers", interval=0.02)
        answered_before_kill = sum(t.done() for t in tasks)
        stored_before_kill = len(store.registrations(aid))  # answers are recorded after: some are on their way
        workers.kill(0)
        await asyncio.sleep(0.5)
        workers.restart(0)
        killed_at = time.monotonic()
        results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=150)
        burst_done_in = time.monotonic() - killed_at
        assert min(answered_before_kill, stored_before_kill) < len(crowd), "the burst was over before the kill"

        async def recorded() -> bool:  # every answered registration in the store (the workflow records after)
            return (await service.status(aid)).recording == 0

        await wait_for(recorded, 60, "the answered registrations to be recorded", ignoring=(Exception,))
        emails = [e for _, e, _ in crowd]
        rows = {pp.email: r.status for r, pp in store.registrations(aid)}
        for (status, _clicks), email in zip(results, emails, strict=True):
            if status is not None:
                assert rows[email] == status.value
        assert sorted(rows) == sorted(emails)

        anonymised_by = p.sessions[-1].end + timedelta(seconds=25)
        final = await asyncio.wait_for(
            handles[0].result(), timeout=(anonymised_by - datetime.now(UTC)).total_seconds() + 30
        )
        assert final.phase.value == "anonymised"
        check_registrations(store, aid, emails, final)
        assert final.confirmed == 30 and final.waitlisted == 10
        # The killed worker may have been in the outbox's window with several confirmations at once (one per
        # registration it was recording): each of those goes out again, at most one per registration then unrecorded.
        unrecorded = len(crowd) - min(answered_before_kill, stored_before_kill)
        mail = check_sent_once(store, [aid], mail_dir, allowed_duplicates=unrecorded)
        mails = read_mails(mail_dir)
        assert {m["X-Runflow-Purpose"] for m in mails if m["X-Runflow-Key"] in mail["duplicates"]} <= {"registration"}
        confirmations = {m["X-Runflow-Key"] for m in mails if m["X-Runflow-Purpose"] == "registration"}
        assert len(confirmations) == 40  # one per person (a duplicate has the same key)
        print(
            f"burst: answered before kill {answered_before_kill}, all answered {burst_done_in:.1f} s after it, "
            f"repeat clicks {[c for _, c in results if c > 1]}, client errors {errors}, mail {mail}, "
            f"{time.monotonic() - started_at:.1f} s"
        )
    except BaseException:
        print(workers.dump())
        raise
    finally:
        await finish(handles, workers)
        sink.stop()
        store.engine.dispose()


# -- 2. worker kill -9 while e-mails go out ------------------------------------------------------------------------
async def test_worker_killed_while_emails_go_out(tmp_path, postgres_database_url, dev_server):
    started_at = time.monotonic()
    mail_dir, smtp_port = tmp_path / "mail", free_port()
    client = dev_server.client
    sink = start_sink(mail_dir, smtp_port, delay=0.05)  # ~60 messages: a batch of ~3-4 s
    task_queue = f"kill-mail-{uuid.uuid4().hex[:8]}"
    workers = workers_for(dev_server, tmp_path, postgres_database_url, task_queue, smtp_port)
    store = Store(postgres_database_url)
    service = Service(client, store, task_queue)
    handles, errors = [], []
    try:
        workers.start(2)
        await workers.wait_ready(client)
        t0 = datetime.now(UTC)
        aid = f"kill-mail-{uuid.uuid4().hex[:6]}"
        p = plan(aid, t0, places=60, deadline=16)
        handle = await service.start(p)
        handles.append(handle)
        await sleep_until(p.registration.opens)
        await wait_phase(service, aid, {"open"}, 10)
        crowd = people("M", 60)
        results = await asyncio.gather(*(register_like_a_person(service, aid, n, e, o, errors) for n, e, o in crowd))
        assert all(s is SeatStatus.CONFIRMED for s, _ in results), results

        # at the deadline the confirmation goes out to all 60: kill the worker sending it, mid-batch (some of the
        # announcement in the sink, not all)
        def announced() -> int:
            return sum(1 for m in read_mails(mail_dir) if m["X-Runflow-Purpose"] == "confirmed")

        async def sending():
            description = await handle.describe()
            for pa in description.raw_description.pending_activities:
                if (
                    pa.activity_type.name == "announce"
                    and pa.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                    and 0 < announced() < len(crowd)
                ):
                    return pa.last_worker_identity
            return None

        identity = await wait_for(sending, 30, "the announcement to be going out", interval=0.05)
        i = workers.index_of(identity)
        assert i is not None, (identity, workers.identities())
        sent_at_kill = len(list(mail_dir.glob("*.eml")))
        workers.kill(i)
        workers.restart(i)
        final = await asyncio.wait_for(handle.result(), timeout=150)
        assert final.phase.value == "anonymised"

        emails = [e for _, e, _ in crowd]
        check_registrations(store, aid, emails, final)
        outbox = store.outbox(aid)
        announce = [m for m in outbox if m.purpose not in ("registration", "invitation", "report")]
        mail = check_sent_once(store, [aid], mail_dir, allowed_duplicates=1)
        assert 0 < sent_at_kill < len(outbox)
        print(
            f"mail: killed worker {i + 1} ({identity}) with {sent_at_kill} .eml in the sink; "
            f"{mail}; outbox purposes {Counter(m.purpose for m in announce)}; attempts>1: "
            f"{[(m.purpose, m.attempts) for m in outbox if m.attempts > 1]}; {time.monotonic() - started_at:.1f} s"
        )
    except BaseException:
        print(workers.dump())
        raise
    finally:
        await finish(handles, workers)
        sink.stop()
        store.engine.dispose()


# -- 3. dev server kill -9 with open activities --------------------------------------------------------------------
async def test_dev_server_killed_with_open_activities(tmp_path, postgres_database_url):
    started_at = time.monotonic()
    mail_dir, smtp_port = tmp_path / "mail", free_port()
    # its own server, in a file: it is killed and started again on the same port with the same file
    server = DevServer(tmp_path / "temporal.log", db=tmp_path / "temporal.db", new_session=True).start()
    sink = start_sink(mail_dir, smtp_port)
    store = Store(postgres_database_url)
    store.migrate()
    store.seed_reference(default_reference())
    settings = Settings(
        web_base_url="http://web.test",
        secret_key="faults-kill-secret-0123456789abcdef",
        smtp_from="RUN <run@test>",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        outbox_lease_seconds=float(LEASE),
    )
    task_queue = f"kill-server-{uuid.uuid4().hex[:8]}"
    handles, errors = [], []
    try:
        client = await server.connect()
        service = Service(client, store, task_queue)
        activities = build_activities(store, SmtpMailer("127.0.0.1", smtp_port), settings)
        async with build_worker(client, activities, task_queue):
            t0 = datetime.now(UTC)
            run = uuid.uuid4().hex[:6]
            # an activity whose completion was lost with the server is retried after its 45 s timeout; the
            # deadline decision waits for it (see test 1)
            plans = [plan(f"kill-server-{c}-{run}", t0, places=3, deadline=30) for c in "abc"]
            for p in plans:
                handles.append(await service.start(p))
            await sleep_until(plans[0].registration.opens)
            crowds = {p.id: people(f"S{c}", 4) for p, c in zip(plans, "abc", strict=True)}
            for p in plans:
                await wait_phase(service, p.id, {"open"}, 10)
            # the first two of each registered before the kill ...
            for p in plans:
                for n, e, o in crowds[p.id][:2]:
                    await register_like_a_person(service, p.id, n, e, o, errors)

            # ... then kill -9 the server with the three open (timers, possibly a registration in flight)
            late = [
                asyncio.create_task(register_like_a_person(service, p.id, n, e, o, errors))
                for p in plans
                for n, e, o in crowds[p.id][2:]
            ]
            await asyncio.sleep(0.05)
            server.kill()
            killed_at = time.monotonic()
            await asyncio.sleep(2)
            await server.restart().connect()
            restarted_in = time.monotonic() - killed_at
            late_results = await asyncio.wait_for(asyncio.gather(*late), timeout=150)
            late_in = time.monotonic() - killed_at

            before = {p.id: await service.status(p.id) for p in plans}
            anonymised_by = plans[0].sessions[-1].end + timedelta(seconds=25)
            finals = await asyncio.wait_for(
                asyncio.gather(*(h.result() for h in handles)),
                timeout=(anonymised_by - datetime.now(UTC)).total_seconds() + 30,
            )
        assert [f.phase.value for f in finals] == ["anonymised"] * 3
        for p, f in zip(plans, finals, strict=True):
            emails = [e for _, e, _ in crowds[p.id]]
            assert before[p.id].registrations == 4
            check_registrations(store, p.id, emails, f)
            assert (f.confirmed, f.waitlisted) == (3, 1)
        mail = check_sent_once(store, [p.id for p in plans], mail_dir)
        print(
            f"server: back after {restarted_in:.1f} s; registrations in flight answered after {late_in:.1f} s "
            f"{late_results}; client errors {errors}; mail {mail}; "
            f"{time.monotonic() - started_at:.1f} s"
        )
    except BaseException:
        print(server.process.log_tail() if server.process else "")
        raise
    finally:
        if server.process is not None and server.process.running:
            await finish(handles, None)
        server.stop()
        sink.stop()
        store.engine.dispose()
