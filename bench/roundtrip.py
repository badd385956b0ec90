"""Registration round trip: POST /a/{id} on `runflow web` (uvicorn, 127.0.0.1) -> Update -> store -> answer.

C concurrent HTTP clients (one keep-alive connection each) register M distinct people for one open activity;
each request's wall time is one sample. The floor: the same C concurrent callers sending M bare Updates
(`NoopUpdateWorkflow.ping`, answered at once) to one workflow straight through the Temporal client.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time

import httpx

from api.service import Service
from bench.floor import NoopUpdateWorkflow
from bench.results import Figure
from bench.stack import BenchStack, now, percentile
from domain.plan import ActivityPlan
from tests.support.plans import plan_in_seconds
from tests.support.ports import HOST
from tests.support.waiting import wait_for

CSRF_FIELD = re.compile(r'<input type="hidden" name="csrf_token" value="([0-9a-f]+)">')
ORGS = ["sundsvall", "ostersund", "harnosand", "kramfors", "are", "timra", "solleftea", "ornskoldsvik", "krokom"]


def open_plan(activity_id: str, *, opens_in: float, places: int = 10000, organisations=("sundsvall",)) -> ActivityPlan:
    """An activity that opens in `opens_in` seconds and stays open for a day (one session a day later)."""
    return plan_in_seconds(
        activity_id,
        now(),
        places=places,
        opens=opens_in,
        deadline=86400,
        sessions=((86400, 86400 + 3600),),
        reminders=["1h"],
        title="Benchmark: läsutveckling",
        description="Mätning.",
        min_participants=0,
        grace_period="1d",
        session_reminder_before="1d",
        surveys={
            "window": "7d",
            "reminder_after": "3d",
            "attendance_grace": "1d",
            "final_evaluation_after": "1d",
            "follow_up_after": "30d",
        },
        retention="60d",
        invitation={"organisations": list(organisations)},
    )


async def wait_for_phase(service: Service, activity_id: str, phase: str, timeout: float = 60) -> None:
    async def reached() -> bool:
        return (await service.status(activity_id)).phase.value == phase

    await wait_for(reached, timeout, f"{activity_id} to reach {phase}", interval=0.05)


async def drive(clients: int, total: int, call, start: int = 0) -> tuple[list[float], float, list[str]]:
    """`clients` concurrent callers making calls start..start+total-1 between them.

    Returns (latency of every call in s, wall s, failures); a call that raised or answered wrongly is a failure
    (its time is still a sample).
    """
    counter = itertools.count(start)
    latencies: list[float] = []
    failures: list[str] = []

    async def caller(n: int) -> None:
        async with call(n) as one:
            while (i := next(counter)) < start + total:
                started = time.perf_counter()
                try:
                    ok = await one(i)
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    ok = f"{type(exc).__name__}: {exc}"[:120]
                latencies.append(time.perf_counter() - started)
                if ok is not True:
                    failures.append(ok or "wrong answer")

    started = time.perf_counter()
    await asyncio.gather(*(caller(n) for n in range(clients)))
    return latencies, time.perf_counter() - started, failures


class HttpCaller:
    def __init__(self, base_url: str, activity_id: str, prefix: str):
        self.base_url, self.activity_id, self.prefix = base_url, activity_id, prefix

    def __call__(self, n: int):
        return _HttpSession(self, n)


class _HttpSession:
    def __init__(self, caller: HttpCaller, n: int):
        self.caller, self.http = (
            caller,
            httpx.AsyncClient(base_url=caller.base_url, timeout=120, limits=httpx.Limits(max_connections=1)),
        )

    async def __aenter__(self):
        # Like a browser: the activity page once (the CSRF cookie lands in the client's jar), then its form's token
        # with every registration.
        page = await self.http.get(f"/a/{self.caller.activity_id}")
        found = CSRF_FIELD.search(page.text)
        if found is None:
            raise RuntimeError(f"no registration form on /a/{self.caller.activity_id} (HTTP {page.status_code})")
        self.csrf_token = found.group(1)
        return self.register

    async def __aexit__(self, *exc):
        await self.http.aclose()

    async def register(self, i: int) -> bool | str:
        c = self.caller
        response = await self.http.post(
            f"/a/{c.activity_id}",
            data={
                "name": f"Deltagare {c.prefix}{i}",
                "email": f"{c.prefix}{i}@skola.test",
                "organisation": ORGS[i % len(ORGS)],
                "role": "lärare",
                "school": "Bänkskolan",
                "csrf_token": self.csrf_token,
            },
        )
        if response.status_code == 200 and "Tack för din anmälan" in response.text:
            return True
        return f"HTTP {response.status_code}"


class UpdateCaller:
    def __init__(self, handle):
        self.handle = handle

    def __call__(self, n: int):
        return self

    async def __aenter__(self):
        return self.ping

    async def __aexit__(self, *exc):
        return None

    async def ping(self, i: int) -> bool | str:
        return await self.handle.execute_update(NoopUpdateWorkflow.ping, i) == i or "wrong answer"


async def run(
    stack: BenchStack, *, registrations: int, clients: list[int], rounds: int = 3, warmup: int = 10
) -> tuple[list[Figure], dict]:
    """For each number of clients: runflow and the floor take turns, `rounds` times, so load from elsewhere on the
    machine hits both alike."""
    tq, ftq = stack.task_queue("web"), stack.task_queue("floor-web")
    worker = await stack.runflow_worker(tq)
    web, port = await stack.runflow_web(tq)
    floor_worker = await stack.floor_worker(ftq)
    service = Service(stack.client, stack.store, tq)
    plan = open_plan(f"bench-{stack.run_id}-web", opens_in=1.0)
    await service.start(plan)
    await wait_for_phase(service, plan.id, "open")
    handle = await stack.client.start_workflow(
        NoopUpdateWorkflow.run, id=f"bench-{stack.run_id}-noop-update", task_queue=ftq
    )
    http = HttpCaller(f"http://{HOST}:{port}", plan.id, "w")
    await drive(min(8, warmup), warmup, HttpCaller(http.base_url, plan.id, "warm"))
    await drive(min(8, warmup), warmup, UpdateCaller(handle), start=10**6)

    figures: list[Figure] = []
    problems: list[str] = []
    rates = []
    done = warmup
    ms = lambda s: s * 1000  # noqa: E731
    for c in clients:
        latencies, floor_latencies, failures, floor_failures = [], [], [], []
        wall = floor_wall = cpu = floor_cpu = 0.0
        for count in [registrations // rounds + (k < registrations % rounds) for k in range(rounds)]:
            cpu_before = worker.cpu() + web.cpu()
            lat, w, fail = await drive(c, count, http, start=done)
            cpu += worker.cpu() + web.cpu() - cpu_before
            latencies += lat
            failures += fail
            wall += w
            cpu_before = floor_worker.cpu()
            lat, w, fail = await drive(c, count, UpdateCaller(handle), start=done)
            floor_cpu += floor_worker.cpu() - cpu_before
            floor_latencies += lat
            floor_failures += fail
            floor_wall += w
            done += count
        rates.append(registrations / wall)
        details = {
            "clients": c,
            "registrations": registrations,
            "rounds": rounds,
            "failures": len(failures),
            "floor_failures": len(floor_failures),
            "failure_examples": sorted(set(failures))[:3],
            "floor_failure_examples": sorted(set(floor_failures))[:3],
            "wall_s": round(wall, 3),
            "floor_wall_s": round(floor_wall, 3),
            "p90_ms": round(ms(percentile(latencies, 90)), 1),
            "floor_p90_ms": round(ms(percentile(floor_latencies, 90)), 1),
            "mean_ms": round(ms(sum(latencies) / len(latencies)), 1),
            "floor_mean_ms": round(ms(sum(floor_latencies) / len(floor_latencies)), 1),
            "max_ms": round(ms(max(latencies)), 1),
            "floor_max_ms": round(ms(max(floor_latencies)), 1),
            "worker_plus_web_cpu_ms_per_registration": round(ms(cpu) / registrations, 2),
            "floor_worker_cpu_ms_per_update": round(ms(floor_cpu) / registrations, 2),
        }
        figures += [
            Figure(
                f"registration_p50_c{c}",
                f"registration round trip p50, {c} clients",
                ms(percentile(latencies, 50)),
                "ms",
                ms(percentile(floor_latencies, 50)),
                "bare Update, no-op wf",
                details=details,
            ),
            Figure(
                f"registration_p99_c{c}",
                f"registration round trip p99, {c} clients",
                ms(percentile(latencies, 99)),
                "ms",
                ms(percentile(floor_latencies, 99)),
                "bare Update, no-op wf",
            ),
            Figure(
                f"registration_rate_c{c}",
                f"  registrations per second, {c} clients",
                registrations / wall,
                "1/s",
                registrations / floor_wall,
                "bare Updates per second",
                higher_is_better=True,
            ),
        ]
        if failures or floor_failures:
            figures.append(
                Figure(
                    f"registration_failed_c{c}",
                    f"  failed after client retries, {c} clients",
                    len(failures),
                    f"of {registrations}",
                    len(floor_failures),
                    "bare Updates failed",
                    ratio_applies=False,
                )
            )
            problems.append(
                f"registration round trip, {c} clients: {len(failures)} registrations failed "
                f"{sorted(set(failures))[:2]}, {len(floor_failures)} bare Updates failed "
                f"{sorted(set(floor_failures))[:2]}"
            )
    status = await service.status(plan.id)
    await service.handle(plan.id).terminate("benchmark done")
    await handle.signal(NoopUpdateWorkflow.stop)
    for process in (web, worker, floor_worker):
        await stack.stop_process(process)
    total_failed = sum(f.value for f in figures if f.key.startswith("registration_failed"))
    expected = done - total_failed
    if status.registrations != expected:
        problems.append(
            f"registration round trip: the workflow has {status.registrations} registrations, "
            f"{expected} answered as registered"
        )
    return figures, {"problems": problems, "rate_per_second": max(rates)}
