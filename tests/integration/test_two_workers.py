"""Two worker processes on one task queue, the Temporal dev server, an SMTP sink and a PostgreSQL store.

Three activities with plans measured in seconds run concurrently from registration to anonymisation: registrations
(some waitlisted, one a named team), withdrawals (one promotes the first in line), attendance. Then: every
registration is stored once, every e-mail sent once, both workers ran activities, and after anonymisation no row
of an activity holds a name or an e-mail address while the report's counts per municipality are unchanged.

Needs RUNFLOW_TEST_POSTGRES_URL (`.ci/run` sets it; locally run `.ci/postgres.sh`); skipped without it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, text
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus

from activities_impl.report import collect_report_data, summary
from activities_impl.store import Store
from api.service import Service
from domain.lifecycle import SeatStatus
from domain.plan import ActivityPlan
from domain.reference import default_reference
from tests.support.mail import check_sent_once, read_mails, start_sink
from tests.support.plans import plan_in_seconds
from tests.support.ports import free_port
from tests.support.processes import Workers, worker_env
from tests.support.waiting import sleep_until, wait_for

pytestmark = pytest.mark.integration

ORGANISER = "samordnare.tvaarbetare@run.test"
# The counts that anonymisation must keep (everything in the report's summary but the plan's own fields).
KEPT_COUNTS = (
    "confirmed",
    "registrations_by_org",
    "registrations_by_role",
    "attendance_by_session",
    "withdrawn",
    "waitlisted_at_end",
    "surveys",
    "invited",
    "answers",
)


def short_plan(activity_id: str, t0: datetime, *, places: int, teams: bool = False) -> ActivityPlan:
    """Opens 3 s after t0, deadline at 14 s, sessions at 17-20 s and 22-24 s, anonymised about 36 s after t0."""
    return plan_in_seconds(
        activity_id,
        t0,
        places=places,
        deadline=14,
        teams=teams,
        title=f"Integrationskurs {activity_id}",
        description="Två arbetare.",
        organiser_email=ORGANISER,
    )


@dataclass
class Person:
    name: str
    email: str
    org: str
    team: list[str] = field(default_factory=list)


@dataclass
class Scenario:
    """One activity: who registers (in order), who withdraws, who is present at session 1, what we expect."""

    plan: ActivityPlan
    people: list[Person]
    withdraw: list[str]
    present: list[str]
    registered_as: dict[str, SeatStatus]  # what `register` answers, in order
    expected_status: dict[str, SeatStatus]  # at the end
    results: dict[str, SeatStatus] = field(default_factory=dict)
    promoted: list[str] = field(default_factory=list)
    snapshot: dict | None = None
    found_before: list[tuple[str, str]] = field(default_factory=list)


def person(tag: str, org: str, team: list[str] | None = None) -> Person:
    # Distinctive names and addresses, so that finding one anywhere after anonymisation means it was left behind.
    return Person(f"Tvåarbetare {tag} Personsson", f"tva.{tag.lower()}@skola-{org}.test", org, team or [])


def scenarios(t0: datetime, run: str) -> list[Scenario]:
    a = [person(f"A{i}{run}", org) for i, org in enumerate(["sundsvall", "ostersund", "are", "sundsvall", "are"], 1)]
    b = [
        person(f"B1{run}", "ostersund"),
        person(f"B2{run}", "sundsvall", team=[f"Tvåarbetare Lagmedlem X{run}", f"Tvåarbetare Lagmedlem Y{run}"]),
        person(f"B3{run}", "are"),
        person(f"B4{run}", "ostersund"),
    ]
    c = [person(f"C{i}{run}", org) for i, org in enumerate(["are", "are", "sundsvall"], 1)]
    W, C, X = SeatStatus.WAITLISTED, SeatStatus.CONFIRMED, SeatStatus.WITHDRAWN

    def by_email(people: list[Person], statuses: list[SeatStatus]) -> dict[str, SeatStatus]:
        return {p.email: st for p, st in zip(people, statuses, strict=True)}

    return [
        # 3 places, 5 people: two on the waiting list; A2 withdraws and A4 (first in line) is promoted.
        Scenario(
            short_plan(f"two-workers-a-{run}", t0, places=3),
            a,
            withdraw=[a[1].email],
            present=[a[0].email, a[3].email],
            registered_as=by_email(a, [C, C, C, W, W]),
            expected_status=by_email(a, [C, X, C, C, W]),
        ),
        # 4 places: B1, a team of two (B2's registration names both members: two seats), B3; B4 waits.
        Scenario(
            short_plan(f"two-workers-b-{run}", t0, places=4, teams=True),
            b,
            withdraw=[],
            present=[b[0].email, b[1].email, b[2].email],
            registered_as=by_email(b, [C, C, C, W]),
            expected_status=by_email(b, [C, C, C, W]),
        ),
        # 3 places, 3 people, C3 withdraws (nobody to promote).
        Scenario(
            short_plan(f"two-workers-c-{run}", t0, places=3),
            c,
            withdraw=[c[2].email],
            present=[c[0].email],
            registered_as=by_email(c, [C, C, C]),
            expected_status=by_email(c, [C, C, X]),
        ),
    ]


async def drive(service: Service, store: Store, sc: Scenario) -> None:
    """Register, withdraw and record attendance as the scenario says; snapshot the report before anonymisation."""
    aid = sc.plan.id
    await sleep_until(sc.plan.registration.opens)
    await wait_for(lambda: _phase_in(service, aid, {"open"}), 10, f"{aid} to open")
    for p in sc.people:
        result = await service.register(
            aid,
            name=p.name,
            email=p.email,
            organisation=p.org,
            role="lärare",
            school="Tvåarbetarskolan",
            team_members=p.team or None,
        )
        sc.results[p.email] = result.status
    for email in sc.withdraw:
        sc.promoted += (await service.withdraw(aid, email)).promoted
    session_1 = sc.plan.sessions[0]
    await sleep_until(session_1.start + timedelta(seconds=0.5))
    await wait_for(lambda: _phase_in(service, aid, {"confirmed", "running"}), 10, f"{aid} to be running")
    assert await service.attendance(aid, 1, sc.present) == len(sc.present)
    # The report is stored at completion and the personal data erased `retention` (5 s) later: take the counts
    # in between, while the participants still have their names.
    report = await wait_for(lambda: asyncio.to_thread(store.report, aid), 40, f"the report of {aid}")
    people = await asyncio.to_thread(store.registrations, aid)
    assert not any(p.anonymised for _, p in people), "the report came too late to be seen before anonymisation"
    sc.snapshot = json.loads(report.summary_json)
    sc.found_before = await asyncio.to_thread(personal_data_in_rows, store, sc)  # proves the scan finds them


async def _phase_in(service: Service, activity_id: str, phases: set[str]) -> bool:
    return (await service.status(activity_id)).phase.value in phases


def activity_rows(store: Store, activity_id: str) -> dict[str, list[dict]]:
    """Every row of every table that belongs to the activity (by `activity_id`, or `id` for `activity`)."""
    rows: dict[str, list[dict]] = {}
    with store.engine.connect() as connection:
        inspector = inspect(connection)
        for table in inspector.get_table_names():
            columns = {c["name"] for c in inspector.get_columns(table)}
            key = "activity_id" if "activity_id" in columns else ("id" if table == "activity" else None)
            if key is None:
                continue
            result = connection.execute(text(f'SELECT * FROM "{table}" WHERE "{key}" = :aid'), {"aid": activity_id})
            rows[table] = [dict(row._mapping) for row in result]
    return rows


def personal_data_in_rows(store: Store, sc: Scenario) -> list[tuple[str, str]]:
    """(table, value) for each name, e-mail address or school of the scenario found in a row of its activity."""
    values = {ORGANISER, "Tvåarbetarskolan"}
    for p in sc.people:
        values |= {p.name, p.email, *p.team}
    rows = activity_rows(store, sc.plan.id)
    assert set(rows) >= {
        "participant",
        "registration",
        "outbox",
        "team_member",
        "activity_plan_version",
        "survey_invitation",
        "audit_entry",
        "report",
    }
    return sorted(
        {
            (table, value)
            for table, table_rows in rows.items()
            for row in table_rows
            for value in values
            if value in json.dumps(row, default=str, ensure_ascii=False)
        }
    )


async def test_two_worker_processes_run_three_activities_to_anonymised(tmp_path, postgres_database_url, dev_server):
    started_at = time.monotonic()
    url = postgres_database_url
    mail_dir = tmp_path / "mail"
    smtp_port = free_port()
    client = dev_server.client  # without eager activities: both workers surely run some (see conftest.py)
    sink = start_sink(mail_dir, smtp_port)
    task_queue = f"two-workers-{uuid.uuid4().hex[:8]}"
    workers = Workers(tmp_path, worker_env(dev_server.address, task_queue, url, tmp_path / "data", smtp_port))
    store = Store(url)  # migrated by the workers
    service = Service(client, store, task_queue)
    handles = []
    try:
        # Both start on the empty database at once: they take turns to migrate and seed (the schema lock).
        workers.start(2)
        await workers.wait_ready(client)

        t0 = datetime.now(UTC)
        run = uuid.uuid4().hex[:6]
        all_scenarios = scenarios(t0, run)
        for sc in all_scenarios:
            handles.append(await service.start(sc.plan))
        await asyncio.gather(*(drive(service, store, sc) for sc in all_scenarios))
        finals = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout=40)
        assert [f.phase.value for f in finals] == ["anonymised"] * 3

        # -- registrations: each stored exactly once, with the status the workflow decided -----------------
        for sc in all_scenarios:
            assert sc.results == sc.registered_as
            rows = activity_rows(store, sc.plan.id)
            assert len(rows["registration"]) == len(sc.people), rows["registration"]
            assert len({r["participant_id"] for r in rows["registration"]}) == len(sc.people)
            assert len(rows["participant"]) == len(sc.people)
            assert sorted(r["status"] for r in rows["registration"]) == sorted(
                s.value for s in sc.expected_status.values()
            )
            assert len(sc.promoted) == sum(
                1
                for p in sc.people
                if sc.registered_as[p.email] is SeatStatus.WAITLISTED
                and sc.expected_status[p.email] is SeatStatus.CONFIRMED
            )

        # -- e-mails: every outbox key sent exactly once -------------------------------------------------
        check_sent_once(store, [sc.plan.id for sc in all_scenarios], mail_dir)
        purposes = Counter(m["X-Runflow-Purpose"] for m in read_mails(mail_dir))
        registrations = sum(len(sc.people) for sc in all_scenarios)
        assert purposes["registration"] == registrations
        assert purposes["withdrawal"] == sum(len(sc.withdraw) for sc in all_scenarios)
        assert purposes["promoted"] == sum(len(sc.promoted) for sc in all_scenarios) == 1
        assert purposes["report"] == 3

        # -- both worker processes ran activities ----------------------------------------------------------
        # (Each lifecycle runs about 26 activities; without eager execution they land on either worker.)
        for handle in handles:
            ran: Counter[str] = Counter()
            async for event in handle.fetch_history_events():
                if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                    ran[event.activity_task_started_event_attributes.identity] += 1
            assert set(ran) == set(workers.identities()), (handle.id, ran, workers.identities())

        # -- anonymised: no name or address left in any row of the activity; the counts are unchanged -------
        for sc in all_scenarios:
            assert sc.found_before, "the scan found no personal data even before anonymisation"
            assert personal_data_in_rows(store, sc) == []
            rows = activity_rows(store, sc.plan.id)
            assert all(p["anonymised"] and p["name"] is None and p["email"] is None for p in rows["participant"])
            assert all(m["name"] is None for m in rows["team_member"])
            if sc.people[1].team:
                assert len(rows["team_member"]) == len(sc.people[1].team)
            assert all(m["recipient"] is None and m["body"] == "" for m in rows["outbox"])

            stored = json.loads(store.report(sc.plan.id).summary_json)
            again = summary(collect_report_data(store, sc.plan.id))
            for key in KEPT_COUNTS:
                assert stored[key] == sc.snapshot[key], key
                assert again[key] == sc.snapshot[key], key
            confirmed = [p for p in sc.people if sc.expected_status[p.email] is SeatStatus.CONFIRMED]
            short = {o.id: o.short_name for o in default_reference().organisations}
            expected_by_org: Counter[str] = Counter()
            for p in confirmed:
                expected_by_org[short[p.org]] += len(p.team) or 1  # a team takes its size in seats
            assert sc.snapshot["registrations_by_org"] == dict(expected_by_org)
            assert sc.snapshot["attendance_by_session"]["1"] == len(sc.present)
    except BaseException:
        print(workers.dump())
        raise
    finally:
        for handle in handles:
            try:
                if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
                    await handle.terminate("test finished")
            except Exception:
                pass
        codes = workers.stop()
        sink.stop()
        store.engine.dispose()
    assert codes == [0, 0], workers.dump()
    # No worker logged an error, nor lost a race on the shared store (an activity failing on a unique key or lock).
    for process in workers.processes:
        bad = [
            e
            for e in process.log_lines()
            if e.get("level") in ("error", "critical")
            or any(word in json.dumps(e) for word in ("IntegrityError", "UniqueViolation", "Deadlock"))
        ]
        assert bad == [], bad
    assert time.monotonic() - started_at < 120
