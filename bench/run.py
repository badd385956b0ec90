"""Run the benchmarks: `make bench`, `python -m bench [--quick] [options]`.

One Temporal dev server per run (127.0.0.1, in-memory), a temp SQLite store, an SMTP sink; runflow's worker and
web as processes (`runflow worker`, `runflow web`), the floors' worker as another (`python -m bench.floor_worker`).
Prints one table (progress goes to stderr) and writes bench/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import burst, cli, lifecycle, memory, overview, report_gen, roundtrip
from bench.results import Figure, table, write_json
from bench.stack import BenchStack, machine_info

ALL = ("roundtrip", "burst", "lifecycle", "memory", "overview", "cli", "report")
HERE = Path(__file__).resolve().parent

DEFAULTS = {
    "activities": 5,
    "registrations": 20,
    "concurrency": 50,
    "step": 0.2,
    "web_registrations": 300,
    "web_clients": [8, 50],
    "web_rounds": 3,
    "burst_registrations": 650,
    "burst_places": 400,
    "burst_clients": 50,
    "burst_server_limit": 100,
    "burst_webs": 2,
    "open_activities": 1000,
    "overview_activities": 200,
    "cli_runs": 7,
    "participants": 100_000,
    "repeats": 3,
}
QUICK = {
    "activities": 2,
    "registrations": 5,
    "concurrency": 50,
    "step": 0.2,
    "web_registrations": 60,
    "web_clients": [8, 50],
    "web_rounds": 1,
    "burst_registrations": 100,
    "burst_places": 60,
    "burst_clients": 50,
    "burst_server_limit": 100,
    "burst_webs": 2,
    "open_activities": 100,
    "overview_activities": 50,
    "cli_runs": 3,
    "participants": 10_000,
    "repeats": 1,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="a ~1-minute smoke run with small sizes")
    p.add_argument("--only", action="append", choices=ALL, help="run only these benchmarks (repeatable)")
    p.add_argument("--activities", type=int, help=f"lifecycle: activities (default {DEFAULTS['activities']})")
    p.add_argument(
        "--registrations", type=int, help=f"lifecycle: registrations per activity (default {DEFAULTS['registrations']})"
    )
    p.add_argument(
        "--concurrency",
        type=int,
        help=f"lifecycle: concurrent registration callers (default {DEFAULTS['concurrency']})",
    )
    p.add_argument("--step", type=float, help="lifecycle: seconds between steps after the deadline (default 0.2)")
    p.add_argument(
        "--reg-window",
        type=float,
        help="lifecycle: seconds registration stays open (default: from the measured web rate)",
    )
    p.add_argument(
        "--web-registrations", type=int, help=f"round trip: registrations (default {DEFAULTS['web_registrations']})"
    )
    p.add_argument(
        "--web-clients",
        type=int,
        action="append",
        help="round trip: concurrent clients, repeatable (default 8 and 50: below and above the "
        "server's 10 in-flight Updates per workflow)",
    )
    p.add_argument(
        "--web-rounds", type=int, help="round trip: runflow and the floor take turns this many times (default 3)"
    )
    p.add_argument(
        "--burst-registrations",
        type=int,
        help=f"burst: registrations for one activity (default {DEFAULTS['burst_registrations']})",
    )
    p.add_argument("--burst-places", type=int, help=f"burst: its places (default {DEFAULTS['burst_places']})")
    p.add_argument("--burst-clients", type=int, help=f"burst: concurrent clients (default {DEFAULTS['burst_clients']})")
    p.add_argument(
        "--burst-server-limit",
        type=int,
        metavar="N",
        help="burst: also on a second dev server with history.maxInFlightUpdates=N "
        f"(default {DEFAULTS['burst_server_limit']})",
    )
    p.add_argument(
        "--burst-webs",
        type=int,
        help="burst: runflow web processes sharing the clients (default 2; each lets 8 Updates per activity through)",
    )
    p.add_argument(
        "--open-activities", type=int, help=f"memory: open activities (default {DEFAULTS['open_activities']})"
    )
    p.add_argument(
        "--overview-activities",
        type=int,
        help=f"overview: open activities on GET /admin/ (default {DEFAULTS['overview_activities']})",
    )
    p.add_argument(
        "--cli-runs",
        type=int,
        help=f"cli: runs of each command (runflow --help, activity show, the floor), the median counts "
        f"(default {DEFAULTS['cli_runs']})",
    )
    p.add_argument("--participants", type=int, help=f"report: participants (default {DEFAULTS['participants']:,})")
    p.add_argument("--repeats", type=int, help="report and overview: repetitions, the median counts (default 3)")
    p.add_argument(
        "--server-max-inflight-updates",
        type=int,
        metavar="N",
        help="start the dev server with history.maxInFlightUpdates=N (server default 10 per workflow)",
    )
    p.add_argument("--encrypt", action="store_true", help="encrypt payloads (AES-GCM codec) as in production")
    p.add_argument("--out", type=Path, default=HERE / "results.json", help="where to write the JSON results")
    p.add_argument("--keep", action="store_true", help="keep the temp directory (store, mail, process logs)")
    p.add_argument(
        "--database-url",
        default="",
        help="runflow's store in this database (e.g. postgresql+psycopg://…, migrated and seeded by the run) instead "
        "of a temp SQLite file; not for the report benchmark, whose floor is SQLite's SQL",
    )
    args = p.parse_args(argv)
    base = QUICK if args.quick else DEFAULTS
    for key, value in base.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.only = tuple(args.only or ALL)
    if args.database_url and "report" in args.only:
        p.error("--database-url: the report benchmark runs on SQLite only (leave it out with --only)")
    return args


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def run_all(args: argparse.Namespace, workdir: Path) -> tuple[list[Figure], list[str]]:
    figures: list[Figure] = []
    problems: list[str] = []
    stack = BenchStack(workdir, encrypt=args.encrypt, store_url=args.database_url)
    if args.server_max_inflight_updates:
        stack.server_args = ["--dynamic-config-value", f"history.maxInFlightUpdates={args.server_max_inflight_updates}"]
    needs_server = any(b in args.only for b in ("overview", "cli", "roundtrip", "burst", "lifecycle", "memory"))
    try:
        if needs_server:
            progress("starting the Temporal dev server, store and SMTP sink")
            await stack.start()
        else:
            workdir.mkdir(parents=True, exist_ok=True)
        rate = None
        if "overview" in args.only:  # first: the page lists every activity on the server, only its own then
            progress(f"overview: GET /admin/ with {args.overview_activities} open activities")
            found, info = await overview.run(
                stack, count=args.overview_activities, repeats=args.repeats, progress=progress
            )
            figures += found
            problems += info["problems"]
        if "cli" in args.only:
            progress("cli: runflow --help and runflow activity show against temporal workflow describe")
            found, info = await cli.run(stack, repeats=args.cli_runs, progress=progress)
            figures += found
            problems += info["problems"]
        if "roundtrip" in args.only:
            progress(
                f"registration round trip: {args.web_registrations} registrations with "
                f"{' and '.join(map(str, args.web_clients))} clients"
            )
            found, info = await roundtrip.run(
                stack, registrations=args.web_registrations, clients=args.web_clients, rounds=args.web_rounds
            )
            figures += found
            problems += info["problems"]
            rate = info["rate_per_second"]
        if "burst" in args.only:
            progress(
                f"burst: {args.burst_registrations} registrations for {args.burst_places} places from "
                f"{args.burst_clients} clients, two web processes"
            )
            found, info = await burst.run(
                stack,
                registrations=args.burst_registrations,
                places=args.burst_places,
                clients=args.burst_clients,
                second_limit=args.burst_server_limit,
                webs=args.burst_webs,
                progress=progress,
            )
            figures += found
            problems += info["problems"]
        if "lifecycle" in args.only:
            total = args.activities * args.registrations
            reg_window = args.reg_window or max(3.0, 2.0 * total / (rate or 10.0)) + 2.0
            progress(
                f"lifecycle: {args.activities} activities x {args.registrations} registrations, "
                f"registration open {reg_window:.1f} s"
            )
            found, info = await lifecycle.run(
                stack,
                activities=args.activities,
                registrations=args.registrations,
                concurrency=args.concurrency,
                step=args.step,
                reg_window=reg_window,
                progress=progress,
            )
            figures += found
            problems += info["problems"]
        if "memory" in args.only:
            progress(f"memory: {args.open_activities} open activities")
            found, info = await memory.run(stack, count=args.open_activities, concurrency=50, progress=progress)
            figures += found
            problems += info["problems"]
        if needs_server:
            await stack.stop()
        if "report" in args.only:
            progress(f"report: {args.participants:,} participants")
            found, info = await asyncio.to_thread(
                report_gen.run, stack, participants=args.participants, repeats=args.repeats, progress=progress
            )
            figures += found
            problems += info["problems"]
    finally:
        await stack.stop()
    return figures, problems


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    machine = machine_info()
    workdir = Path(tempfile.mkdtemp(prefix="runflow-bench-"))
    try:
        figures, problems = asyncio.run(run_all(args, workdir))
    finally:
        if args.keep:
            progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    seconds = time.perf_counter() - started
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    if args.database_url:  # never its password
        from sqlalchemy.engine import make_url

        config["database_url"] = make_url(args.database_url).render_as_string(hide_password=True)
    write_json(args.out, machine, config, figures, started_at, seconds, problems)
    print()
    print(
        f"runflow benchmarks, {started_at}, {machine.get('nproc')} CPUs ({machine.get('cpu_model', '?')}), "
        f"{machine.get('mem_total_mib', '?')} MiB RAM, Python {machine['python']}, temporalio "
        f"{machine['temporalio']}{', encrypted payloads' if args.encrypt else ''}"
        f"{', store ' + config['database_url'] if args.database_url else ''}; ratio = runflow / floor"
    )
    print(table(figures))
    for note in problems:
        print(f"NOTE: {note}")
    print(f"({seconds:.0f} s; results in {args.out})")
    return 0
