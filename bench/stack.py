"""One benchmark run's stack: a Temporal dev server, a temp SQLite store, an SMTP sink, worker and web processes.

Everything listens on 127.0.0.1 only. Worker and web run as separate processes, as in production
(`runflow worker`, `runflow web`; the floor's `python -m bench.floor_worker`), so memory is measured on the worker
process and the driver (this process) is only the load generator. The processes, their readiness (health checks)
and the free ports come from the tests' harness, `tests.support`.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from temporalio.client import Client
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from activities_impl.store import Store
from domain.reference import default_reference
from tests.support.ports import HOST, free_port
from tests.support.processes import (
    RUNFLOW,
    DevServer,
    Process,
    clean_env,
    spawn,
    start_web,
    wait_for_web,
    wait_until_polling,
)
from worker.binaries import temporal_cli
from worker.codec import codec_from_settings, new_key
from worker.converter import build_data_converter
from worker.settings import Settings
from worker.smtp_sink import start_sink

ROOT = Path(__file__).resolve().parent.parent


def now() -> datetime:
    return datetime.now(UTC)


def quiet_runtime() -> Runtime:
    """A Temporal runtime that logs errors only: the client retries refused Updates itself and warns each time; the
    benchmarks count the calls that fail in the end instead."""
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
        )
    )


def machine_info() -> dict:
    import temporalio

    info: dict = {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "temporalio": temporalio.__version__,
        "platform": platform.platform(),
        "loadavg_at_start": list(os.getloadavg()),
    }
    try:
        with open("/proc/meminfo") as f:
            mem = {line.split(":")[0]: int(line.split()[1]) for line in f if ":" in line}
        info["mem_total_mib"] = mem["MemTotal"] // 1024
        info["mem_available_mib_at_start"] = mem.get("MemAvailable", 0) // 1024
    except OSError:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu_model"] = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), platform.processor()
            )
    except OSError:
        info["cpu_model"] = platform.processor()
    try:
        version = subprocess.run([temporal_cli(), "--version"], capture_output=True, text=True, timeout=20)
        info["temporal_cli"] = version.stdout.strip()
    except Exception:  # noqa: BLE001 - informational only
        pass
    return info


@dataclass
class BenchStack:
    workdir: Path
    encrypt: bool = False
    server: DevServer | None = None
    store: Store | None = None
    sink = None
    smtp_port: int = 0
    codec_keys: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    server_args: list[str] = field(default_factory=list)
    store_url: str = ""  # an (empty or runflow's) database to use instead of a temp SQLite file, e.g. PostgreSQL

    def server_cpu(self) -> float:
        """CPU seconds the dev server has used so far (0 when it is not running)."""
        try:
            return self.server.process.cpu() if self.server and self.server.process else 0.0
        except OSError:
            return 0.0

    @property
    def client(self) -> Client:
        assert self.server is not None and self.server.client is not None
        return self.server.client

    @property
    def address(self) -> str:
        assert self.server is not None
        return self.server.address

    @property
    def database_url(self) -> str:
        return self.store_url or f"sqlite:///{self.workdir / 'runflow.db'}"

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.encrypt:
            self.codec_keys = {"bench": new_key()}
        codec = (
            codec_from_settings(Settings(codec_keys=self.codec_keys, data_dir=self.workdir))
            if self.codec_keys
            else None
        )
        self.store = Store(self.database_url)
        self.store.migrate()
        self.store.seed_reference(default_reference())
        self.smtp_port = free_port()
        self.sink = start_sink(self.workdir / "mail", self.smtp_port, HOST)
        self.server = DevServer(
            self.workdir / "temporal.log", log_level="error", extra_args=self.server_args, new_session=True
        ).start()
        await self.server.connect(timeout=60, data_converter=build_data_converter(codec), runtime=quiet_runtime())

    async def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop(timeout=20)
        self.processes.clear()
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.sink is not None:
            self.sink.stop()
            self.sink = None
        if self.store is not None:
            self.store.engine.dispose()

    def child_env(self, task_queue: str, web_port: int = 8000) -> dict[str, str]:
        env = clean_env(
            TEMPORAL_ADDRESS=self.address,
            TEMPORAL_NAMESPACE="default",
            RUNFLOW_DATA_DIR=str(self.workdir),
            RUNFLOW_DATABASE_URL=self.database_url,
            RUNFLOW_TASK_QUEUE=task_queue,
            RUNFLOW_SMTP_HOST=HOST,
            RUNFLOW_SMTP_PORT=str(self.smtp_port),
            RUNFLOW_WEB_BASE_URL=f"http://{HOST}:{web_port}",
            RUNFLOW_SECRET_KEY="bench-secret-0123456789abcdef-0123",
            RUNFLOW_SMTP_FROM="RUN <run@bench.test>",
            PYTHONUNBUFFERED="1",
            # every benchmark client posts from 127.0.0.1: the public forms' rate limits must never refuse them
            RUNFLOW_RATE_LIMIT_REGISTRATIONS_PER_ADDRESS="1000000/hour",
            RUNFLOW_RATE_LIMIT_REGISTRATIONS_PER_ACTIVITY="1000000/hour",
            RUNFLOW_RATE_LIMIT_PUBLIC_POSTS_PER_ADDRESS="1000000/hour",
        )
        if self.codec_keys:
            env["RUNFLOW_CODEC_KEYS"] = json.dumps(self.codec_keys)
        return env

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Process:
        process = spawn(name, argv, self.workdir / f"{name}.log", env=env, cwd=ROOT, new_session=True)
        self.processes.append(process)
        return process

    async def stop_process(self, process: Process) -> None:
        await asyncio.to_thread(process.stop, timeout=20)
        if process in self.processes:
            self.processes.remove(process)

    async def runflow_worker(self, task_queue: str) -> Process:
        process = self.spawn(f"worker-{task_queue}", [RUNFLOW, "worker"], self.child_env(task_queue))
        await wait_until_polling(self.client, task_queue, [process], timeout=90)
        return process

    async def floor_worker(self, task_queue: str) -> Process:
        process = self.spawn(
            f"floor-{task_queue}", [sys.executable, "-m", "bench.floor_worker"], self.child_env(task_queue)
        )
        await wait_until_polling(self.client, task_queue, [process], timeout=90)
        return process

    async def runflow_web(self, task_queue: str, **env: str) -> tuple[Process, int]:
        """A `runflow web` process on a free port; `env`: settings beyond `child_env`'s."""
        port = free_port()
        process, url = start_web(
            {**self.child_env(task_queue, port), **env},
            self.workdir / f"web-{port}.log",
            port,
            "--connect-timeout",
            "30",
            new_session=True,
        )
        self.processes.append(process)
        await wait_for_web(url, process, timeout=60)
        return process, port

    def task_queue(self, what: str) -> str:
        return f"bench-{self.run_id}-{what}"


async def full_history(client: Client, workflow_id: str, run_id: str | None = None) -> list:
    """The events of every run of a workflow, first run first, following continue-as-new."""
    events: list = []
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    history = await handle.fetch_history()
    runs = [history]
    first = history.events[0].workflow_execution_started_event_attributes
    while first.continued_execution_run_id:  # started by continue-as-new: fetch the earlier runs too
        history = await client.get_workflow_handle(workflow_id, run_id=first.continued_execution_run_id).fetch_history()
        runs.insert(0, history)
        first = history.events[0].workflow_execution_started_event_attributes
    for history in runs:
        events.extend(history.events)
    return events


async def gather_limited(limit: int, coros) -> list:
    """asyncio.gather with at most `limit` running at once."""
    semaphore = asyncio.Semaphore(limit)

    async def one(coro):
        async with semaphore:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]
