"""Lifecycle throughput and history events.

N activities with R registrations each (plus one reference activity with none) run the whole lifecycle
(planned -> open -> deciding -> confirmed -> running -> evaluating -> follow_up -> completed -> anonymised) on
`runflow worker`, with a compressed plan: registration opens ~1 s after the start and stays open long enough for
the registrations; after the deadline every step is `step` seconds (default 0.2 s) apart, so that part of the
lifecycle is bound by processing (e-mails, store), not by timers. Registrations go through `Service.register`
(the CLI's and the web's path) with C concurrent callers. Nobody attends or answers, so every survey reminder
goes out.

Throughput counts busy time only: the registration phase (first call to last answer, measured by the driver)
plus deadline -> all anonymised (from the first deadline timer that fired to the last workflow's end, in the
server's event times). The wait between the last registration and the deadline is the plan's, not work, and is
left out (`start_to_anonymised_s` in the details has it).

The floor: one `MirrorWorkflow` per runflow workflow, built from that workflow's finished history: the same
timers at the same offsets from its start, the same number of main-line activities after each (no-ops), and R
Updates that run one no-op activity each, sent with the same concurrency.

History events: per activity = all events of an activity with R registrations (every run); per registration =
(events with R registrations - events of the reference activity with none) / R; the floor's the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from api.service import Refused, Service
from bench.floor import MirrorWorkflow, script_from_history, timers
from bench.results import Figure
from bench.roundtrip import wait_for_phase
from bench.stack import BenchStack, full_history, gather_limited, now
from domain.plan import ActivityPlan
from tests.support.plans import plan_in_seconds

ORGS = ["sundsvall", "ostersund", "harnosand", "kramfors", "are", "timra", "solleftea", "ornskoldsvik", "krokom"]
EMAIL_ACTIVITIES = {
    "send_invitation",
    "send_deadline_reminder",
    "record_registration",
    "record_withdrawal",
    "notify_low_enrolment",
    "announce",
    "send_session_reminder",
    "send_survey",
    "remind_survey",
    "send_report",
}


def lifecycle_plan(
    activity_id: str, t0: datetime, *, open_after: float, reg_window: float, step: float, places: int
) -> ActivityPlan:
    """Registration open `reg_window` s from `open_after` s after t0; after the deadline every step `step` s apart."""
    s = lambda seconds: timedelta(seconds=seconds)  # noqa: E731
    deadline = open_after + reg_window
    return plan_in_seconds(
        activity_id,
        t0,
        places=places,
        opens=open_after,
        deadline=deadline,
        sessions=((step, 2 * step), (3 * step, 4 * step)),
        reminders=[s(reg_window / 2)],
        title="Benchmark: bedömning för lärande",
        description="Mätning.",
        min_participants=0,
        grace_period=s(step),
        session_reminder_before=s(step / 2),
        surveys={
            "window": s(3 * step),
            "reminder_after": s(1.5 * step),
            "attendance_grace": s(step / 2),
            "final_evaluation_after": s(step / 2),
            "follow_up_after": s(2 * step),
        },
        retention=s(step),
        invitation={"organisations": ["sundsvall", "ostersund"]},
    )


def activity_breakdown(histories: list[list]) -> dict[str, dict]:
    """Per activity type over the given histories: count, total and mean execution time (started -> completed)."""
    totals: dict[str, list[float]] = defaultdict(list)
    for events in histories:
        scheduled: dict[int, str] = {}
        started: dict[int, datetime] = {}
        for e in events:
            if e.HasField("activity_task_scheduled_event_attributes"):
                scheduled[e.event_id] = e.activity_task_scheduled_event_attributes.activity_type.name
            elif e.HasField("activity_task_started_event_attributes"):
                started[e.activity_task_started_event_attributes.scheduled_event_id] = e.event_time.ToDatetime()
            elif e.HasField("activity_task_completed_event_attributes"):
                sid = e.activity_task_completed_event_attributes.scheduled_event_id
                if sid in started:
                    totals[scheduled[sid]].append((e.event_time.ToDatetime() - started[sid]).total_seconds())
    return {
        name: {"count": len(v), "total_s": round(sum(v), 3), "mean_ms": round(1000 * sum(v) / len(v), 1)}
        for name, v in sorted(totals.items(), key=lambda kv: -sum(kv[1]))
    }


def count_updates(events: list) -> int:
    return sum(1 for e in events if e.HasField("workflow_execution_update_accepted_event_attributes"))


async def run(
    stack: BenchStack,
    *,
    activities: int,
    registrations: int,
    concurrency: int,
    step: float,
    reg_window: float,
    progress,
) -> tuple[list[Figure], dict]:
    n, r = activities, registrations
    problems: list[str] = []
    tq = stack.task_queue("life")
    worker = await stack.runflow_worker(tq)
    service = Service(stack.client, stack.store, tq)

    # -- runflow -------------------------------------------------------------------------------------------
    open_after = 1.0 + 0.1 * (n + 1)
    cpu0, server_cpu0 = worker.cpu(), stack.server_cpu()
    t_start = time.perf_counter()
    t0 = now()
    plans = [
        lifecycle_plan(
            f"bench-{stack.run_id}-l{i}", t0, open_after=open_after, reg_window=reg_window, step=step, places=max(r, 1)
        )
        for i in range(n + 1)
    ]  # the last one: no registrations
    handles = await gather_limited(10, [service.start(p) for p in plans])
    await asyncio.sleep(max(0.0, (plans[0].registration.opens - now()).total_seconds()))
    await asyncio.gather(*(wait_for_phase(service, p.id, "open") for p in plans))  # invitation sent
    refused: list[str] = []

    async def register(i: int, j: int) -> None:
        try:
            await service.register(
                plans[i].id,
                name=f"Deltagare {i}-{j}",
                email=f"d{j}@skola.test",
                organisation=ORGS[j % len(ORGS)],
                role="lärare",
            )
        except Refused as exc:
            refused.append(f"refused: {exc}")
        except Exception as exc:  # noqa: BLE001 - e.g. an Update the server gave up on; reported
            refused.append(f"{type(exc).__name__}: {exc}"[:120])

    reg_start = time.perf_counter()
    await gather_limited(concurrency, [register(i, j) for j in range(r) for i in range(n)])
    reg_wall = time.perf_counter() - reg_start
    reg_done_at = now()
    late = (reg_done_at - plans[0].registration.deadline).total_seconds()
    if late > 0:
        problems.append(f"lifecycle: registrations ended {late:.1f} s after the deadline; raise --reg-window")
    progress(f"lifecycle: {n * r} registrations in {reg_wall:.1f} s, waiting for {n + 1} lifecycles")

    async def finish(handle) -> float:
        await handle.result()
        return time.perf_counter()

    ends = await asyncio.gather(*(finish(h) for h in handles))
    wall = max(ends[:n]) - t_start
    cpu, server_cpu = worker.cpu() - cpu0, stack.server_cpu() - server_cpu0
    await stack.stop_process(worker)
    deadline_offset = (plans[0].registration.deadline - t0).total_seconds()
    # follow-up survey 2 steps after the last session, closed 3 steps later, anonymised 1 step after the report
    nominal_end = (plans[0].sessions[-1].end - t0).total_seconds() + 6 * step
    histories = [await full_history(stack.client, h.id) for h in handles]
    events = [len(h) for h in histories]
    sent = sum(
        1 for m in stack.store.outbox() if m.status == "sent" and m.activity_id.startswith(f"bench-{stack.run_id}-l")
    )
    breakdown = activity_breakdown(histories[:n])
    progress(f"lifecycle: runflow done in {wall:.1f} s; floor next")

    # -- floor ---------------------------------------------------------------------------------------------
    scripts = [script_from_history(h) for h in histories]
    ftq = stack.task_queue("floor-life")
    floor_worker = await stack.floor_worker(ftq)
    fcpu0, fserver_cpu0 = floor_worker.cpu(), stack.server_cpu()
    f_start = time.perf_counter()
    fhandles = await gather_limited(
        10,
        [
            stack.client.start_workflow(
                MirrorWorkflow.run, script, id=f"bench-{stack.run_id}-mirror-{i}", task_queue=ftq
            )
            for i, script in enumerate(scripts)
        ],
    )
    opens_timer = next((s.timer for s in scripts[0].segments if s.timer is not None), 0.0)
    await asyncio.sleep(max(0.0, f_start + opens_timer - time.perf_counter()))

    async def opened(h) -> None:  # the mirror of "open": the opening timer fired and its activities ran
        while await h.query(MirrorWorkflow.segments_done) < 1:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(asyncio.gather(*(opened(h) for h in fhandles)), 120)
    floor_failed: list[str] = []

    async def update(i: int, j: int) -> None:
        try:
            await fhandles[i].execute_update(MirrorWorkflow.register, j)
        except Exception as exc:  # noqa: BLE001 - reported
            floor_failed.append(f"{type(exc).__name__}: {exc}"[:120])

    freg_start = time.perf_counter()
    await gather_limited(concurrency, [update(i, j) for j in range(r) for i in range(n)])
    freg_wall = time.perf_counter() - freg_start

    fends = await asyncio.gather(*(finish(h) for h in fhandles))
    fwall = max(fends[:n]) - f_start
    fcpu, fserver_cpu = floor_worker.cpu() - fcpu0, stack.server_cpu() - fserver_cpu0
    await stack.stop_process(floor_worker)
    fhistories = [await full_history(stack.client, h.id) for h in fhandles]
    fevents = [len(h) for h in fhistories]

    # -- figures -------------------------------------------------------------------------------------------
    # After the deadline: from the first deadline timer that fired to the last of the N workflows that ended,
    # in the server's event times; the mirror's deadline timer is the one at the same place in the order.
    deadline = plans[0].registration.deadline
    runflow_timers = [timers(h) for h in histories[:n]]
    k = min(range(len(runflow_timers[0])), key=lambda i: abs((runflow_timers[0][i][0] - deadline).total_seconds()))
    end = lambda events: events[-1].event_time.ToDatetime(tzinfo=UTC)  # noqa: E731
    after = (max(end(h) for h in histories[:n]) - min(t[k][1] or t[k][0] for t in runflow_timers)).total_seconds()
    mirror_timers = [timers(h) for h in fhistories[:n]]
    fafter = (max(end(h) for h in fhistories[:n]) - min(t[k][1] or t[k][0] for t in mirror_timers)).total_seconds()
    per_activity = sum(events[:n]) / n
    fper_activity = sum(fevents[:n]) / n
    per_registration = (per_activity - events[n]) / r if r else 0.0
    fper_registration = (fper_activity - fevents[n]) / r if r else 0.0
    # Registrations that wait for an activity's gate go together in one Update (api/batches.py), so runflow's
    # registrations are counted in the store, the mirror's in its history (one Update each).
    for i in range(n):
        taken = len(stack.store.registrations(plans[i].id))
        if taken != r or count_updates(fhistories[i]) != r:
            problems.append(
                f"lifecycle: activity {i} took {taken} registrations, "
                f"its mirror {count_updates(fhistories[i])} Updates (expected {r})"
            )
            break
    if refused or floor_failed:
        problems.append(
            f"lifecycle: {len(refused)} registrations failed {sorted(set(refused))[:2]}, "
            f"{len(floor_failed)} mirror Updates failed {sorted(set(floor_failed))[:2]}"
        )
    emails = sum(v["count"] for k, v in breakdown.items() if k in EMAIL_ACTIVITIES)
    details = {
        "activities": n,
        "registrations_per_activity": r,
        "concurrency": concurrency,
        "step_s": step,
        "reg_window_s": reg_window,
        "deadline_offset_s": round(deadline_offset, 2),
        "nominal_end_offset_s": round(nominal_end, 2),
        "registration_phase_s": round(reg_wall, 3),
        "floor_registration_phase_s": round(freg_wall, 3),
        "after_deadline_s": round(after, 3),
        "floor_after_deadline_s": round(fafter, 3),
        "timers": scripts[0].timers,
        "deadline_timer_index": k,
        "main_line_activities": scripts[0].activities,
        "emails_sent": sent,
        "worker_cpu_s": round(cpu, 2),
        "floor_worker_cpu_s": round(fcpu, 2),
        "server_cpu_s": round(server_cpu, 2),
        "floor_server_cpu_s": round(fserver_cpu, 2),
        "activity_breakdown": breakdown,
        "email_activity_executions": emails,
    }
    busy = reg_wall + after
    fbusy = freg_wall + fafter
    details["start_to_anonymised_s"] = round(wall, 3)
    details["floor_start_to_anonymised_s"] = round(fwall, 3)
    figures = [
        Figure(
            "lifecycle_throughput",
            f"lifecycle throughput, {n} act x {r} reg",
            60 * n / busy,
            "act/min",
            60 * n / fbusy,
            "mirror wf: same timers/updates/no-op acts",
            higher_is_better=True,
            details=details,
        ),
        Figure("lifecycle_busy", "  busy time: registrations + after deadline", busy, "s", fbusy, "mirror wf"),
        Figure(
            "lifecycle_registration_phase",
            f"  {n * r} registrations, {concurrency} concurrent",
            reg_wall,
            "s",
            freg_wall,
            "Update + no-op act",
        ),
        Figure("lifecycle_after_deadline", "  deadline -> all anonymised", after, "s", fafter, "mirror wf"),
        Figure("lifecycle_worker_cpu", "  worker process CPU time, whole run", cpu, "s", fcpu, "mirror worker process"),
        Figure(
            "events_per_activity",
            f"history events per activity ({r} reg)",
            per_activity,
            "events",
            fper_activity,
            "mirror wf",
            details={
                "runflow": events,
                "floor": fevents,
                "reference_without_registrations": events[n],
                "floor_reference": fevents[n],
            },
        ),
        Figure(
            "events_per_registration",
            "history events per registration",
            per_registration,
            "events",
            fper_registration,
            "Update + no-op act",
        ),
    ]
    return figures, {"problems": problems}
