"""Side experiments behind the findings in BENCHMARKS.md (not part of `make bench`; they change nothing in runflow).

    python -m bench.probes updates   # bare Updates on one workflow: concurrency sweep, server limit, client-side cap
    python -m bench.probes outbox    # what one e-mail costs in the outbox (wall and CPU): transactions, SMTP, fsync

Both print one small table. Loopback only, temp directories, one dev server at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.results import Figure
from bench.stack import percentile, quiet_runtime
from tests.support.ports import HOST, free_port
from tests.support.processes import DevServer


async def probe_updates(total: int, clients: list[int], cap: int) -> list[Figure]:
    from temporalio.worker import Worker

    from bench.floor import NoopUpdateWorkflow, noop

    runtime = quiet_runtime()
    rows: list[Figure] = []
    workdir = Path(tempfile.mkdtemp(prefix="runflow-probe-"))
    for label, extra in (
        ("server default (10 in flight)", []),
        ("maxInFlightUpdates=100", ["--dynamic-config-value", "history.maxInFlightUpdates=100"]),
    ):
        server = DevServer(
            workdir / "temporal.log", search_attributes=False, log_level="error", extra_args=extra, new_session=True
        ).start()
        try:
            client = await server.connect(timeout=60, runtime=runtime)
            async with Worker(client, task_queue="probe", workflows=[NoopUpdateWorkflow], activities=[noop]):
                runs = [(c, None) for c in clients] + [(max(clients), cap)]
                for n, (c, limit) in enumerate(runs):
                    handle = await client.start_workflow(NoopUpdateWorkflow.run, id=f"probe-{n}", task_queue="probe")
                    semaphore = asyncio.Semaphore(limit) if limit else None
                    counter, latencies, failed = itertools.count(), [], 0

                    async def caller() -> None:
                        nonlocal failed
                        while (i := next(counter)) < total:
                            started = time.perf_counter()
                            try:
                                if semaphore is None:
                                    await handle.execute_update(NoopUpdateWorkflow.ping, i)
                                else:
                                    async with semaphore:
                                        await handle.execute_update(NoopUpdateWorkflow.ping, i)
                            except Exception:  # noqa: BLE001 - counted
                                failed += 1
                            latencies.append(time.perf_counter() - started)

                    started = time.perf_counter()
                    await asyncio.gather(*(caller() for _ in range(c)))
                    wall = time.perf_counter() - started
                    await handle.signal(NoopUpdateWorkflow.stop)
                    name = f"{label}, {c} callers" + (f", at most {limit} in flight (client)" if limit else "")
                    rows.append(
                        Figure(
                            f"u{n}",
                            name,
                            percentile(latencies, 50) * 1000,
                            "ms p50",
                            None,
                            details={
                                "p99_ms": percentile(latencies, 99) * 1000,
                                "per_s": total / wall,
                                "failed": failed,
                            },
                        )
                    )
                    print(
                        f"{name}: p50 {percentile(latencies, 50) * 1000:.0f} ms, "
                        f"p99 {percentile(latencies, 99) * 1000:.0f} ms, {total / wall:.0f}/s, {failed} failed",
                        file=sys.stderr,
                        flush=True,
                    )
        finally:
            server.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    return rows


SINK = """
import sys
from pathlib import Path
from worker.smtp_sink import start_sink
sink = start_sink(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
print("ready", flush=True)
sys.stdin.read()  # until the probe closes it (or ends)
sink.stop()
"""


class SinkProcess:
    """`worker.smtp_sink` in a process of its own, as an SMTP server is: its CPU is not the outbox's."""

    def __init__(self, directory: Path, port: int):
        self.process = subprocess.Popen(
            [sys.executable, "-c", SINK, str(directory), str(port), HOST],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=Path(__file__).resolve().parent.parent,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != b"ready":
            raise RuntimeError("the SMTP sink did not start")

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


class Meter:
    """Wall time and this process's CPU time (every thread: the store's calls run in `asyncio.to_thread`)."""

    def __enter__(self) -> Meter:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


async def probe_outbox(emails: int) -> list[tuple[str, float, float, float, float]]:
    """Rows of (name, wall FULL, CPU FULL, wall NORMAL, CPU NORMAL), seconds per e-mail."""
    from sqlalchemy import event

    from activities_impl.mailer import SmtpMailer
    from activities_impl.outbox import Envelope, Outbox, to_email
    from activities_impl.store import Store
    from bench.lifecycle import lifecycle_plan
    from domain.reference import default_reference

    workdir = Path(tempfile.mkdtemp(prefix="runflow-probe-"))
    port = free_port()
    sink = SinkProcess(workdir / "mail", port)
    results: dict[str, dict[str, tuple[float, float]]] = {}
    try:
        for sync in ("FULL", "NORMAL"):
            store = Store(f"sqlite:///{workdir / f'{sync}.db'}")
            if sync == "NORMAL":

                @event.listens_for(store.engine, "connect")
                def _normal(dbapi_connection, _record):
                    dbapi_connection.execute("PRAGMA synchronous=NORMAL")

            store.migrate()
            store.seed_reference(default_reference())
            plan = lifecycle_plan("probe-outbox", datetime.now(UTC), open_after=60, reg_window=600, step=60, places=10)
            store.save_plan(plan, True)

            def envelopes(tag: str, n: int = emails) -> list[Envelope]:
                # a survey invitation's size: a subject, ~1 KB of text, no attachment
                return [
                    Envelope(
                        key=f"probe|{tag}|{i}",
                        activity_id=plan.id,
                        purpose="survey",
                        recipient=f"p{i}@skola.test",
                        subject="Utvärdering",
                        body="Hej!\n" + "Text " * 200,
                    )
                    for i in range(n)
                ]

            out = results.setdefault(sync, {})
            sender = "RUN <run@bench.test>"
            outbox = Outbox(store, SmtpMailer(HOST, port), sender)
            await outbox.send(envelopes("warm-up", 5))  # imports, the engine's first connections
            with Meter() as m:
                await outbox.send(envelopes("send"))
            out[f"Outbox.send, one mailing of {emails}"] = (m.wall / emails, m.cpu / emails)
            one_by_one = Outbox(store, SmtpMailer(HOST, port), sender, batch_size=1)
            with Meter() as m:
                await one_by_one.send(envelopes("one-by-one"))
            out["  the same with batch_size=1"] = (m.wall / emails, m.cpu / emails)
            # six activities mailing at once, as after a deadline with several activities: SQLite's one writer
            batches = [envelopes(f"par-{b}", max(1, emails // 6)) for b in range(6)]
            with Meter() as m:
                await asyncio.gather(*(outbox.send(batch) for batch in batches))
            n = sum(len(b) for b in batches)
            out["Outbox.send, 6 mailings at once"] = (m.wall / n, m.cpu / n)

            # the parts, one at a time
            rows = [e.row() for e in envelopes("parts")]
            with Meter() as m:
                keys = store.enqueue(rows)
            out["  enqueue (one transaction per mailing)"] = (m.wall / emails, m.cpu / emails)
            with Meter() as m:
                claimed = [store.claim(k, datetime.now(UTC)) for k in keys]
            out["  claim, one transaction per e-mail"] = (m.wall / emails, m.cpu / emails)
            batch_keys = store.enqueue([e.row() for e in envelopes("parts-batch")])
            with Meter() as m:
                for start in range(0, emails, 50):
                    store.claim_batch(batch_keys[start : start + 50], datetime.now(UTC))
            out["  claim_batch, one transaction per 50"] = (m.wall / emails, m.cpu / emails)
            with Meter() as m:
                messages = [to_email(row, sender) for row in claimed]
            out["  to_email (build the MIME message)"] = (m.wall / emails, m.cpu / emails)
            import aiosmtplib

            with Meter() as m:
                for message in messages:
                    await aiosmtplib.send(message, hostname=HOST, port=port)
            out["  SMTP, a new connection per e-mail"] = (m.wall / emails, m.cpu / emails)
            with Meter() as m:
                async with aiosmtplib.SMTP(hostname=HOST, port=port) as smtp:
                    for message in messages:
                        await smtp.send_message(message)
            out["  SMTP, one connection for all"] = (m.wall / emails, m.cpu / emails)
            with Meter() as m:
                for k in keys:
                    store.mark_sent(k, datetime.now(UTC))
            out["  mark_sent, one transaction per e-mail"] = (m.wall / emails, m.cpu / emails)
            store.engine.dispose()
    finally:
        sink.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return [(name, *results["FULL"][name], *results["NORMAL"][name]) for name in results["FULL"]]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.probes", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="probe", required=True)
    u = sub.add_parser("updates", help="bare Updates on one workflow")
    u.add_argument("--total", type=int, default=300)
    u.add_argument("--clients", default="1,8,10,20,50", help="comma-separated caller counts")
    u.add_argument("--cap", type=int, default=8, help="client-side cap of Updates in flight for the last run")
    o = sub.add_parser("outbox", help="the cost of one e-mail in the outbox")
    o.add_argument("--emails", type=int, default=500)
    args = p.parse_args(argv)
    if args.probe == "updates":
        rows = asyncio.run(probe_updates(args.total, [int(c) for c in args.clients.split(",")], args.cap))
        width = max(len(r.label) for r in rows)
        print(
            f"{'bare Updates on one workflow (' + str(args.total) + ' each)':<{width}}  {'p50 ms':>8}  "
            f"{'p99 ms':>8}  {'per s':>7}  {'failed':>6}"
        )
        for r in rows:
            d = r.details
            print(f"{r.label:<{width}}  {r.value:8.0f}  {d['p99_ms']:8.0f}  {d['per_s']:7.0f}  {d['failed']:6d}")
    else:
        outbox_rows = asyncio.run(probe_outbox(args.emails))
        width = max(len(row[0]) for row in outbox_rows)
        print(
            f"{'outbox, ms per e-mail (' + str(args.emails) + ' e-mails)':<{width}}  {'wall FULL':>9}  "
            f"{'CPU FULL':>8}  {'wall NORMAL':>11}  {'CPU NORMAL':>10}"
        )
        for name, wall_full, cpu_full, wall_normal, cpu_normal in outbox_rows:
            print(
                f"{name:<{width}}  {wall_full * 1000:9.2f}  {cpu_full * 1000:8.2f}  {wall_normal * 1000:11.2f}  "
                f"{cpu_normal * 1000:10.2f}"
            )
        print(
            "(SQLite PRAGMA synchronous FULL is what runflow runs with; CPU: this process, all threads; "
            "the SMTP sink runs in its own process)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
