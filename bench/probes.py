"""Side experiments behind the findings in BENCHMARKS.md (not part of `make bench`; they change nothing in runflow).

    python -m bench.probes updates   # bare Updates on one workflow: concurrency sweep, server limit, client-side cap
    python -m bench.probes outbox    # what one e-mail costs in the outbox: transactions, SMTP connection, fsync

Both print one small table. Loopback only, temp directories, one dev server at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import shutil
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


def batched_outbox(store, host: str, port: int, sender: str):
    """A sketch of the outbox speed-up (bench only, not used by runflow): the same rows and keys, but one
    transaction claims the whole batch, one SMTP connection carries it, and each message is still marked sent
    on its own right after the SMTP server took it (so a crash re-sends at most one message, as now)."""
    import aiosmtplib
    from sqlmodel import select

    from activities_impl.outbox import Outbox, to_email
    from domain.tables import OutboxMessage

    def claim_all(keys: list[str], now: datetime, lease_seconds: float = 300) -> list:
        with store.session() as s:
            rows = list(s.exec(select(OutboxMessage).where(OutboxMessage.key.in_(keys)).with_for_update()))
            claimed = []
            for row in rows:
                if row.status == "sent" or (
                    row.status == "sending"
                    and row.claimed_at
                    and (now - row.claimed_at).total_seconds() < lease_seconds
                ):
                    continue
                row.status, row.claimed_at, row.attempts = "sending", now, row.attempts + 1
                s.add(row)
                claimed.append(row)
            return claimed

    class BatchedOutbox(Outbox):
        async def send(self, envelopes) -> int:
            if not envelopes:
                return 0
            keys = await asyncio.to_thread(store.enqueue, [e.row() for e in envelopes])
            rows = await asyncio.to_thread(claim_all, keys, datetime.now(UTC))
            if not rows:
                return 0
            async with aiosmtplib.SMTP(hostname=host, port=port) as smtp:
                for row in rows:
                    try:
                        await smtp.send_message(to_email(row, sender))
                    except Exception:
                        for rest in rows[rows.index(row) :]:
                            await asyncio.to_thread(store.release, rest.key)
                        raise
                    await asyncio.to_thread(store.mark_sent, row.key, datetime.now(UTC))
            return len(rows)

    return BatchedOutbox(store, None, sender)


async def probe_outbox(emails: int) -> list[tuple[str, float, float]]:
    from sqlalchemy import event

    from activities_impl.mailer import SmtpMailer
    from activities_impl.outbox import Envelope, Outbox, to_email
    from activities_impl.store import Store
    from domain.reference import default_reference
    from worker.smtp_sink import start_sink

    workdir = Path(tempfile.mkdtemp(prefix="runflow-probe-"))
    port = free_port()
    sink = start_sink(workdir / "mail", port, HOST)
    results: dict[str, dict[str, float]] = {}
    try:
        for sync in ("FULL", "NORMAL"):
            store = Store(f"sqlite:///{workdir / f'{sync}.db'}")
            if sync == "NORMAL":

                @event.listens_for(store.engine, "connect")
                def _normal(dbapi_connection, _record):
                    dbapi_connection.execute("PRAGMA synchronous=NORMAL")

            store.migrate()
            store.seed_reference(default_reference())
            from bench.lifecycle import lifecycle_plan

            plan = lifecycle_plan("probe-outbox", datetime.now(UTC), open_after=60, reg_window=600, step=60, places=10)
            store.save_plan(plan, True)

            def envelopes(tag: str) -> list[Envelope]:
                return [
                    Envelope(
                        key=f"probe|{tag}|{i}",
                        activity_id=plan.id,
                        purpose="survey",
                        recipient=f"p{i}@skola.test",
                        subject="Utvärdering",
                        body="Hej!\n" + "Text " * 200,
                    )
                    for i in range(emails)
                ]

            out = results.setdefault(sync, {})
            sender = "RUN <run@bench.test>"
            outbox = Outbox(store, SmtpMailer(HOST, port), sender)
            batched = batched_outbox(store, HOST, port, sender)
            for label, box in (
                ("Outbox.send, one batch (now)", outbox),
                ("  sketch: batch claim + one SMTP connection", batched),
            ):
                started = time.perf_counter()
                await box.send(envelopes(f"send-{label}"))
                out[label] = (time.perf_counter() - started) / emails
            # six activities mailing at once, as after a deadline with several activities: SQLite's one writer
            for label, box in (
                ("Outbox.send, 6 batches at once (now)", outbox),
                ("  sketch, 6 batches at once", batched),
            ):
                batches = [envelopes(f"par-{label}-{b}")[: max(1, emails // 6)] for b in range(6)]
                started = time.perf_counter()
                await asyncio.gather(*(box.send(batch) for batch in batches))
                out[label] = (time.perf_counter() - started) / sum(len(b) for b in batches)
            rows = [e.row() for e in envelopes("parts")]
            started = time.perf_counter()
            keys = store.enqueue(rows)
            out["  enqueue (one transaction per batch)"] = (time.perf_counter() - started) / emails
            started = time.perf_counter()
            claimed = [store.claim(k, datetime.now(UTC)) for k in keys]
            out["  claim (one transaction per e-mail)"] = (time.perf_counter() - started) / emails
            message = to_email(claimed[0], "RUN <run@bench.test>")
            started = time.perf_counter()
            for _ in range(emails):
                to_email(claimed[0], "RUN <run@bench.test>")
            out["  to_email (build the MIME message)"] = (time.perf_counter() - started) / emails
            mailer = SmtpMailer(HOST, port)
            started = time.perf_counter()
            for _ in range(emails):
                await mailer.send(message)
            out["  SMTP, a new connection per e-mail (now)"] = (time.perf_counter() - started) / emails
            import aiosmtplib

            started = time.perf_counter()
            async with aiosmtplib.SMTP(hostname=HOST, port=port) as smtp:
                for _ in range(emails):
                    await smtp.send_message(message)
            out["  SMTP, one connection per batch"] = (time.perf_counter() - started) / emails
            started = time.perf_counter()
            for k in keys:
                store.mark_sent(k, datetime.now(UTC))
            out["  mark_sent (one transaction per e-mail)"] = (time.perf_counter() - started) / emails
            store.engine.dispose()
    finally:
        sink.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return [(name, results["FULL"][name], results["NORMAL"][name]) for name in results["FULL"]]


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
    o.add_argument("--emails", type=int, default=200)
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
        rows = asyncio.run(probe_outbox(args.emails))
        width = max(len(name) for name, _, _ in rows)
        print(
            f"{'outbox, ms per e-mail (' + str(args.emails) + ' e-mails)':<{width}}  {'SQLite FULL':>11}  "
            f"{'NORMAL':>8}   (PRAGMA synchronous; FULL is what runflow runs with)"
        )
        for name, full, normal in rows:
            print(f"{name:<{width}}  {full * 1000:11.2f}  {normal * 1000:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
