"""Worker memory with K open activities.

A fresh `runflow worker` process on its own task queue; its RSS (VmRSS of /proc/<pid>/status) is read once it
polls (idle) and again once K activities started through `Service.start` have all reached `open` (invitation
sent, waiting for the deadline a day away) and sit in the worker's workflow cache (default 1,000 entries). The
floor: a fresh floor worker process with K `MirrorWorkflow`s built from one of those open activities' histories
(the same timer, two no-op activities, then waiting on the same next timer).
"""

from __future__ import annotations

import asyncio
import time

from api.service import Service
from bench.floor import MirrorWorkflow, script_from_history
from bench.results import Figure
from bench.roundtrip import open_plan
from bench.stack import BenchStack, full_history, gather_limited
from tests.support.waiting import wait_for

SETTLE_S = 3.0
MAX_CACHED_WORKFLOWS = 1000  # temporalio.worker.Worker's default, which runflow's worker keeps


async def run(stack: BenchStack, *, count: int, concurrency: int, progress) -> tuple[list[Figure], dict]:
    problems: list[str] = []
    client = stack.client

    # -- runflow -------------------------------------------------------------------------------------------
    tq = stack.task_queue("mem")
    worker = await stack.runflow_worker(tq)
    await asyncio.sleep(SETTLE_S)
    idle = worker.memory()
    service = Service(client, stack.store, tq)
    prefix = f"bench-{stack.run_id}-m"
    started = time.perf_counter()
    await gather_limited(concurrency, [service.start(open_plan(f"{prefix}{i}", opens_in=1.0)) for i in range(count)])
    started_s = time.perf_counter() - started
    progress(f"memory: {count} activities started in {started_s:.1f} s, waiting for them to be open")

    query = f'TaskQueue = "{tq}" AND RunflowPhase = "open"'

    async def all_open() -> bool:
        return (await client.count_workflows(query)).count >= count

    await wait_for(all_open, 60 + count * 0.5, f"{count} open activities", interval=1.0)
    open_s = time.perf_counter() - started
    await asyncio.sleep(SETTLE_S)
    loaded = worker.memory()
    await stack.stop_process(worker)

    # -- floor ---------------------------------------------------------------------------------------------
    script = script_from_history(await full_history(client, f"activity-{prefix}0"))
    waiting_at = len(script.segments) - 1  # the last segment's timer (the next reminder) is still pending
    ftq = stack.task_queue("floor-mem")
    floor_worker = await stack.floor_worker(ftq)
    await asyncio.sleep(SETTLE_S)
    fidle = floor_worker.memory()
    fstarted = time.perf_counter()
    handles = await gather_limited(
        concurrency,
        [
            client.start_workflow(MirrorWorkflow.run, script, id=f"bench-{stack.run_id}-fm{i}", task_queue=ftq)
            for i in range(count)
        ],
    )

    async def all_waiting() -> bool:
        done = await gather_limited(50, [h.query(MirrorWorkflow.segments_done) for h in handles])
        return all(d >= waiting_at for d in done)

    await wait_for(all_waiting, 60 + count * 0.5, f"{count} mirror workflows waiting", interval=1.0)
    fopen_s = time.perf_counter() - fstarted
    await asyncio.sleep(SETTLE_S)
    floaded = floor_worker.memory()
    await stack.stop_process(floor_worker)

    mib = lambda kib: kib / 1024  # noqa: E731
    per = lambda a, b: (a["VmRSS"] - b["VmRSS"]) / count  # noqa: E731
    if count > MAX_CACHED_WORKFLOWS:
        problems.append(
            f"memory: {count} workflows exceed the worker's cache of {MAX_CACHED_WORKFLOWS}; "
            "evicted ones are not in the RSS"
        )
    details = {
        "open_activities": count,
        "idle_kib": idle,
        "loaded_kib": loaded,
        "floor_idle_kib": fidle,
        "floor_loaded_kib": floaded,
        "all_open_after_s": round(open_s, 1),
        "floor_all_waiting_after_s": round(fopen_s, 1),
        "start_calls_s": round(started_s, 1),
        "mirror_script": {"timers": script.timers, "activities": script.activities},
    }
    figures = [
        Figure(
            "worker_rss",
            f"worker RSS with {count} open activities",
            mib(loaded["VmRSS"]),
            "MiB",
            mib(floaded["VmRSS"]),
            "floor worker, mirror wfs",
            details=details,
        ),
        Figure(
            "worker_rss_per_activity",
            "  per open activity, above idle",
            per(loaded, idle),
            "KiB",
            per(floaded, fidle),
            "per mirror wf",
        ),
        Figure(
            "worker_rss_idle",
            "  idle worker RSS (no workflows)",
            mib(idle["VmRSS"]),
            "MiB",
            mib(fidle["VmRSS"]),
            "idle floor worker",
        ),
    ]
    return figures, {"problems": problems}
