"""The back-office overview page, GET /admin/, with N open activities.

N activities (default 200) are started through `Service.start` on a `runflow worker`, with four focus areas and
first sessions in four terms, and the benchmark waits until all are `open` (invitation sent, deadline a day away)
and Temporal's visibility lists all N. A coordinator is created in the store and signs in to `runflow web` as a
browser does (one-time link: GET for the CSRF cookie and token, POST, the `runflow_staff` cookie). Then, after one
warm-up each, the page and its floor take turns `repeats` times (who goes first alternates); the medians count.

The page (`api/backoffice/dashboard.py`): the store's activities, one visibility list call, the status query of
every running activity (at most 16 at once), the rows sorted and rendered. The floor: the same Temporal work from
the bench process, through the same client and data converter: one `client.list_workflows` of
`Service.visibility_query()` (every item read) and the status query `ActivityLifecycleWorkflow.status` of each
listed running workflow, 16 at once. What the page costs above it is the web process's own work (session check,
store reads, building and sorting the rows, the template) and the HTTP request.

Also reported: CPU per page of the web process (against the bench process's for the floor) and of worker and dev
server together (against the same for the floor), and, once each, page and floor right after a worker restart,
when no workflow is in the worker's cache and each status query replays its workflow first.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time

import httpx
from temporalio.client import WorkflowExecutionStatus

from api.backoffice.dashboard import STATUS_QUERIES_AT_ONCE, STATUS_QUERY_SECONDS
from api.service import Service
from bench.results import Figure
from bench.roundtrip import CSRF_FIELD
from bench.stack import BenchStack, gather_limited, now
from domain.dashboard import term_of
from domain.plan import ActivityPlan
from domain.staff import SIGNIN_LINK_LIFETIME, Role, TokenKind
from tests.support.plans import plan_in_seconds
from tests.support.ports import HOST
from tests.support.waiting import wait_for
from workflows.activity_lifecycle import ActivityLifecycleWorkflow

TARGET_RATIO = 1.5  # at the default size, median of 3 or more turns; why this: BENCHMARKS.md
FOCUS_AREAS = ("attrahera", "rekrytera", "behålla", "utveckla")
TERM_OFFSETS_DAYS = (2, 120, 240, 400)  # first session this many days on: four different terms
SETTLE_S = 2.0
# confirmed, minimum, places, waitlisted: minimum and places come from the status query ("–" without it)
ROW_NUMBERS = re.compile(r'<td class="num">([^<]*)</td><td class="num">([^<]*)</td><td class="num">([^<]*)</td>')


def overview_plan(activity_id: str, i: int) -> ActivityPlan:
    """An activity that opens in a second and stays open for a day; focus area and term vary with `i`."""
    day = 86400
    first = day * TERM_OFFSETS_DAYS[(i // len(FOCUS_AREAS)) % len(TERM_OFFSETS_DAYS)]
    return plan_in_seconds(
        activity_id,
        now(),
        places=20 + i % 30,
        opens=1.0,
        deadline=day,
        sessions=((first - day, first - day + 3600),),  # seconds after the deadline
        reminders=["1h"],
        title=f"Benchmark: översikt {i}",
        description="Mätning.",
        focus_area=FOCUS_AREAS[i % len(FOCUS_AREAS)],
        min_participants=i % 5,
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
        invitation={"organisations": ["sundsvall"]},
    )


async def sign_in(http: httpx.AsyncClient, stack: BenchStack) -> None:
    """A coordinator signs in with a one-time link, as a browser: the link's page, then its form posted back."""
    assert stack.store is not None
    member, _ = stack.store.add_staff("bench-samordnare@miun.se", Role.COORDINATOR, name="Bench")
    at = now()
    token = stack.store.issue_token(member.id, TokenKind.SIGNIN, at, at + SIGNIN_LINK_LIFETIME)
    page = await http.get(f"/admin/signin/{token}")
    found = CSRF_FIELD.search(page.text)
    if page.status_code != 200 or found is None:
        raise RuntimeError(f"no sign-in form on /admin/signin/<token> (HTTP {page.status_code})")
    answer = await http.post(f"/admin/signin/{token}", data={"csrf_token": found.group(1)})
    if answer.status_code != 303 or "runflow_staff" not in http.cookies:
        raise RuntimeError(f"signing in failed: HTTP {answer.status_code}, cookies {sorted(http.cookies.keys())}")


async def floor_once(stack: BenchStack, query: str) -> tuple[float, int, int]:
    """The page's Temporal work from here: (seconds, listed, status queries answered)."""
    client = stack.client
    started = time.perf_counter()
    listed = [wf async for wf in client.list_workflows(query)]
    running = [wf for wf in listed if wf.status is WorkflowExecutionStatus.RUNNING]
    statuses = await gather_limited(
        STATUS_QUERIES_AT_ONCE,
        [client.get_workflow_handle(wf.id).query(ActivityLifecycleWorkflow.status) for wf in running],
    )
    return time.perf_counter() - started, len(listed), len(statuses)


async def run(stack: BenchStack, *, count: int, repeats: int, progress) -> tuple[list[Figure], dict]:
    problems: list[str] = []
    client = stack.client
    tq = stack.task_queue("overview")
    worker = await stack.runflow_worker(tq)
    web, port = await stack.runflow_web(tq)
    service = Service(client, stack.store, tq)
    query = Service.visibility_query()

    # -- N open activities ---------------------------------------------------------------------------------
    prefix = f"bench-{stack.run_id}-o"
    plans = [overview_plan(f"{prefix}{i}", i) for i in range(count)]
    started = time.perf_counter()
    await gather_limited(50, [service.start(p) for p in plans])
    progress(f"overview: {count} activities started in {time.perf_counter() - started:.1f} s, waiting for open")
    open_query = f'TaskQueue = "{tq}" AND RunflowPhase = "open"'

    async def all_open() -> bool:
        return (await client.count_workflows(open_query)).count >= count

    await wait_for(all_open, 60 + count * 0.5, f"{count} open activities", interval=1.0)

    async def all_listed() -> bool:
        return len([wf async for wf in client.list_workflows(query)]) >= count

    await wait_for(all_listed, 60, f"visibility to list {count} activities", interval=0.5)
    open_s = time.perf_counter() - started
    listed_total = len([wf async for wf in client.list_workflows(query)])
    if listed_total != count:
        problems.append(f"overview: visibility lists {listed_total} activities, {count} of them this benchmark's")
    await asyncio.sleep(SETTLE_S)

    # -- page and floor, in turns ----------------------------------------------------------------------------
    workers = [worker]  # the current worker process (replaced for the cold turn)

    def cpu() -> dict[str, float]:
        return {
            "web": web.cpu(),
            "worker": workers[-1].cpu(),
            "server": stack.server_cpu(),
            "driver": time.process_time(),
        }

    def used(before: dict[str, float]) -> dict[str, float]:
        return {k: round(1000 * (v - before[k]), 1) for k, v in cpu().items()}

    def with_status(html: str) -> int:
        return sum(1 for _, minimum, _ in ROW_NUMBERS.findall(html) if minimum != "–")

    page_s: list[float] = []
    floor_s: list[float] = []
    page_cpu: list[dict[str, float]] = []  # ms of CPU per process during each sample
    floor_cpu: list[dict[str, float]] = []
    answered_rows: list[int] = []
    floor_answered: list[int] = []
    cold: dict[str, dict] = {}
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=120) as http:
        await sign_in(http, stack)

        async def page_once() -> tuple[float, str]:
            t = time.perf_counter()
            response = await http.get("/admin/")
            elapsed = time.perf_counter() - t
            if response.status_code != 200:
                raise RuntimeError(f"GET /admin/ answered HTTP {response.status_code}")
            return elapsed, response.text

        _, html = await page_once()  # warm-up
        await floor_once(stack, query)  # warm-up
        progress(f"overview: signed in, {repeats} turns of GET /admin/ and the floor")
        for turn in range(repeats):
            for side in ("page", "floor") if turn % 2 == 0 else ("floor", "page"):  # who goes first alternates
                before = cpu()
                if side == "page":
                    seconds, html = await page_once()
                    page_cpu.append(used(before))
                    page_s.append(seconds)
                    answered_rows.append(with_status(html))
                else:
                    fseconds, _, fanswered = await floor_once(stack, query)
                    floor_cpu.append(used(before))
                    floor_s.append(fseconds)
                    floor_answered.append(fanswered)

        # Cold: a fresh worker has none of the workflows in its cache; each status query replays its workflow.
        progress("overview: once each after a worker restart (cold workflow cache)")
        for side in ("page", "floor"):
            await stack.stop_process(workers[-1])
            workers.append(await stack.runflow_worker(tq))
            await asyncio.sleep(SETTLE_S)
            before = cpu()
            if side == "page":
                seconds, cold_html = await page_once()
                cold["page"] = {"s": seconds, "cpu_ms": used(before), "with_status": with_status(cold_html)}
            else:
                seconds, _, fanswered = await floor_once(stack, query)
                cold["floor"] = {"s": seconds, "cpu_ms": used(before), "with_status": fanswered}
    await stack.stop_process(web)
    await stack.stop_process(workers[-1])

    shown = len(ROW_NUMBERS.findall(html))
    if shown != listed_total or min(answered_rows) != count:
        problems.append(
            f"overview: the page shows {shown} rows, {min(answered_rows)} with their status "
            f"(expected {count}; a status query that took over 5 s leaves its row without)"
        )
    if min(floor_answered) != count:
        problems.append(f"overview: the floor got {min(floor_answered)} statuses (expected {count})")
    if cold["page"]["with_status"] != count:
        problems.append(
            f"overview: after a worker restart the page showed {cold['page']['with_status']} of {count} rows with "
            f"their status (each status query waits at most {STATUS_QUERY_SECONDS:g} s)"
        )
    page, floor = statistics.median(page_s), statistics.median(floor_s)
    if repeats >= 3 and page / floor > TARGET_RATIO:
        problems.append(f"overview: GET /admin/ takes {page / floor:.1f}x its floor, above the target {TARGET_RATIO}x")
    terms = sorted({term_of(p.sessions[0].start) for p in plans}, key=lambda t: (t[3:], t[:2] == "HT"))
    details = {
        "activities": count,
        "focus_areas": list(FOCUS_AREAS),
        "terms": terms,
        "repeats": repeats,
        "status_queries_at_once": STATUS_QUERIES_AT_ONCE,
        "page_ms": [round(1000 * s, 1) for s in page_s],
        "floor_ms": [round(1000 * s, 1) for s in floor_s],
        "page_cpu_ms": page_cpu,
        "floor_cpu_ms": floor_cpu,
        "rows_shown": shown,
        "rows_with_status": answered_rows,
        "page_bytes": len(html.encode()),
        "all_open_after_s": round(open_s, 1),
        "target_ratio": TARGET_RATIO,
        "cold": {side: {**c, "s": round(c["s"], 3)} for side, c in cold.items()},
    }
    median_cpu = lambda samples, who: statistics.median(c[who] for c in samples)  # noqa: E731
    figures = [
        Figure(
            "overview_page",
            f"back-office overview GET /admin/, {count} act",
            1000 * page,
            "ms",
            1000 * floor,
            f"list_workflows + {count} status queries, {STATUS_QUERIES_AT_ONCE} at once",
            details=details,
        ),
        Figure(
            "overview_web_cpu",
            "  web process CPU per page",
            median_cpu(page_cpu, "web"),
            "ms",
            median_cpu(floor_cpu, "driver"),
            "bench process CPU for the floor",
        ),
        Figure(
            "overview_worker_server_cpu",
            "  worker + dev server CPU per page",
            median_cpu(page_cpu, "worker") + median_cpu(page_cpu, "server"),
            "ms",
            median_cpu(floor_cpu, "worker") + median_cpu(floor_cpu, "server"),
            "the same for the floor",
        ),
        Figure(
            "overview_page_cold",
            "  first page after a worker restart",
            1000 * cold["page"]["s"],
            "ms",
            1000 * cold["floor"]["s"],
            "floor after a worker restart",
        ),
    ]
    return figures, {"problems": problems}
