"""Faults: the SMTP server or the store away for a while, a worker killed (kill -9) between answering a registration
and recording it. Nothing lost, nothing doubled."""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import OperationalError
from temporalio.api.enums.v1 import PendingActivityState

from activities_impl.store import Store
from api.service import Service
from domain.lifecycle import RegistrationRequest, WithdrawalRequest
from domain.phases import Phase
from domain.reference import default_reference
from tests.support.mail import check_sent_once, read_mails, start_sink
from tests.support.plans import plan_in_seconds
from tests.support.ports import free_port
from tests.support.processes import DevServer, Workers, worker_env
from tests.support.waiting import sleep_until, wait_for
from workflows.activity_lifecycle import ActivityLifecycleWorkflow


def flaky(obj, method: str, failures: int):
    """Make `obj.method` raise like an unreachable database `failures` times, then work again."""
    real = getattr(obj, method)
    calls = {"failed": 0}

    def wrapper(*args, **kwargs):
        if calls["failed"] < failures:
            calls["failed"] += 1
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("store is down (simulated)"))
        return real(*args, **kwargs)

    setattr(obj, method, wrapper)
    return calls


async def test_smtp_down_for_a_while_sends_every_invitation_exactly_once(lab, make_plan):
    plan = make_plan(await lab.now())
    handle = await lab.service.start(plan)
    lab.mailer.fail_next = 6  # the SMTP server refuses the next six attempts
    await lab.advance_to(plan.registration.opens + timedelta(minutes=5))
    assert lab.mailer.fail_next == 0
    assert sorted(m["To"] for m in lab.mails("invitation")) == [
        "emma.jonsson@are.example.se",
        "katarina.engstrom@sundsvall.example.se",
        "maria.lindqvist@ostersund.example.se",
    ]
    rows = [m for m in lab.store.outbox(plan.id) if m.purpose == "invitation"]
    assert all(m.status == "sent" for m in rows) and max(m.attempts for m in rows) > 1
    assert (await lab.service.status(plan.id)).phase is Phase.OPEN  # the workflow did not fail
    history = await handle.fetch_history()
    failures = [e for e in history.events if e.HasField("activity_task_failed_event_attributes")]
    assert failures == []  # retried inside the activity's retry policy, not failed


async def test_store_down_during_a_bulk_send_then_back(lab, make_plan):
    plan = make_plan(await lab.now(), min_participants=1)
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    for i in range(3):
        await lab.service.register(plan.id, name=f"P{i}", email=f"p{i}@skola.test", organisation="berg", role="lärare")
    calls = flaky(lab.store, "claim_batch", failures=4)  # the store goes away while the confirmations go out
    await lab.advance_to(plan.registration.deadline + timedelta(minutes=5))
    assert calls["failed"] == 4
    assert Counter(m["To"] for m in lab.mails("confirmed")) == {f"p{i}@skola.test": 1 for i in range(3)}
    assert (await lab.service.status(plan.id)).phase is Phase.CONFIRMED


async def test_store_down_while_a_registration_is_recorded(lab, make_plan):
    plan = make_plan(await lab.now())
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    calls = flaky(lab.store, "record_seat_changes", failures=2)
    result = await lab.service.register(
        plan.id, name="Anna", email="anna@skola.test", organisation="berg", role="lärare"
    )
    assert result.status.value == "confirmed"  # answered with the seat; the store follows, retried until it is up
    await lab.advance_to(plan.registration.opens + timedelta(seconds=30))  # past the retries' backoff
    await lab.recorded()
    assert calls["failed"] == 2
    [(row, person)] = lab.store.registrations(plan.id)
    assert row.id == result.registration_id and person.email == "anna@skola.test"
    assert len(lab.mails("registration")) == 1


async def test_a_registration_still_being_recorded_at_the_deadline_is_announced_too(lab, make_plan):
    import asyncio

    start = await lab.now()
    plan = make_plan(
        start,
        min_participants=1,
        registration={"opens": start + timedelta(minutes=1), "deadline": start + timedelta(minutes=1, seconds=20)},
    )
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    calls = flaky(lab.store, "record_seat_changes", failures=5)  # ~31 s of retries: past the deadline
    registering = asyncio.create_task(
        lab.service.register(plan.id, name="Sen Anmälan", email="sen@skola.test", organisation="berg", role="lärare")
    )
    await asyncio.sleep(0.5)  # the Update is taken (the seat is given) before the deadline
    await lab.advance_to(plan.registration.deadline + timedelta(minutes=2))
    result = await registering
    assert calls["failed"] == 5 and result.status.value == "confirmed"
    status = await lab.service.status(plan.id)
    assert status.phase is Phase.CONFIRMED
    # The announcement waited for the registration to reach the store, so this person is told.
    assert [m["To"] for m in lab.mails("confirmed")] == ["sen@skola.test"]


@pytest.mark.integration  # real processes: a `runflow worker` and the Temporal dev server (SQLite store, no PostgreSQL)
async def test_a_worker_killed_between_the_answer_and_the_record(tmp_path):
    """Registrations and a withdrawal are answered; the worker recording them is killed (kill -9) before the store
    has taken any. The worker started again records each once and sends each e-mail once."""
    mail_dir, smtp_port, db = tmp_path / "mail", free_port(), tmp_path / "runflow.db"
    url = f"sqlite:///{db}"
    server = DevServer(tmp_path / "temporal.log", log_level="error").start()
    sink = start_sink(mail_dir, smtp_port)
    store = Store(url)
    store.migrate()
    store.seed_reference(default_reference())
    task_queue = f"kill-answer-{uuid.uuid4().hex[:8]}"
    workers = Workers(tmp_path, worker_env(server.address, task_queue, url, tmp_path / "data", smtp_port))
    lock: sqlite3.Connection | None = None
    handle = None
    try:
        client = await server.connect()
        service = Service(client, store, task_queue)
        workers.start(1)
        await workers.wait_ready(client)
        aid = f"kill-answer-{uuid.uuid4().hex[:6]}"
        plan = plan_in_seconds(aid, datetime.now(UTC), places=2, opens=1, deadline=600)
        handle = await service.start(plan)
        await sleep_until(plan.registration.opens)
        await wait_for(lambda: len(read_mails(mail_dir)) == 3, 30, "the invitation to go out", ignoring=(Exception,))

        # The people are stored (what the web does before the Update); then the store takes no write until released.
        people = [f"p{i}@skola.test" for i in range(3)]
        ids = [
            store.enrol_participant(aid, name=f"P{i}", email=e, organisation_id="berg", role="lärare")[0]
            for i, e in enumerate(people)
        ]
        lock = sqlite3.connect(db, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        answers = [
            await handle.execute_update(ActivityLifecycleWorkflow.register, RegistrationRequest(participant_id=pid))
            for pid in ids
        ]
        assert [a.status.value for a in answers] == ["confirmed", "confirmed", "waitlisted"]
        withdrawal = await handle.execute_update(
            ActivityLifecycleWorkflow.withdraw, WithdrawalRequest(participant_id=ids[0])
        )
        assert withdrawal.promoted == [answers[2].registration_id]

        async def recording() -> bool:
            description = await handle.describe()
            return any(
                a.activity_type.name == "record_seat_changes"
                and a.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                for a in description.raw_description.pending_activities
            )

        await wait_for(recording, 10, "the worker to be recording the first change")
        workers.kill(0)  # kill -9, with every change answered and none in the store
        assert lock.execute("SELECT count(*) FROM registration WHERE activity_id = ?", (aid,)).fetchone() == (0,)
        lock.execute("ROLLBACK")
        lock.close()
        lock = None
        workers.restart(0)

        async def recorded() -> bool:
            return (await service.status(aid)).recording == 0

        # the killed attempt is given up after its heartbeat timeout (15 s), then retried by the new worker
        await wait_for(recorded, 90, "the changes to be recorded", ignoring=(Exception,))
        rows = {p.email: r.status for r, p in store.registrations(aid)}
        assert rows == {people[0]: "withdrawn", people[1]: "confirmed", people[2]: "confirmed"}
        mail = check_sent_once(store, [aid], mail_dir)  # every e-mail exactly once
        sent = Counter((m["X-Runflow-Purpose"], m["To"]) for m in read_mails(mail_dir))
        assert {k: n for k, n in sent.items() if k[0] != "invitation"} == {
            ("registration", people[0]): 1,
            ("registration", people[1]): 1,
            ("registration", people[2]): 1,
            ("withdrawal", people[0]): 1,
            ("promoted", people[2]): 1,
        }, mail
    except BaseException:
        print(workers.dump())
        raise
    finally:
        if lock is not None:
            lock.close()
        if handle is not None:
            with contextlib.suppress(Exception):
                await handle.terminate("test finished")
        workers.stop()
        sink.stop()
        server.stop()
        store.engine.dispose()
